//! Validated newtypes. Each `parse` either returns a value that is known to be
//! well formed or a [`ValueError`] that says what is wrong and where, in words
//! an import report can show next to the offending cell.
//!
//! The types deserialize through the same `parse`, so a bad value in a stored
//! or received document is refused at the boundary rather than deep inside a
//! handler.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("统一社会信用代码 must be 18 characters, got {0}")]
    UsccLength(usize),
    #[error(
        "统一社会信用代码 has a lowercase letter '{ch}' at position {pos}; codes use uppercase letters only"
    )]
    UsccLowercase { ch: char, pos: usize },
    #[error(
        "统一社会信用代码 has '{ch}' at position {pos}, which is not in the code alphabet (0-9 and A-Y without I, O, S, V, Z)"
    )]
    UsccCharacter { ch: char, pos: usize },
    #[error(
        "统一社会信用代码 positions 3-8 must be the 6-digit administrative division code, found '{0}'"
    )]
    UsccDivision(String),
    #[error("统一社会信用代码 check digit is '{found}' but should be '{expected}'")]
    UsccCheckDigit { found: char, expected: char },
    #[error("执法证号 must not be empty")]
    CredentialEmpty,
    #[error("执法证号 '{value}' {reason}")]
    CredentialFormat { value: String, reason: &'static str },
    #[error("latitude {0} is outside -90..=90 (WGS-84)")]
    Latitude(f64),
    #[error("longitude {0} is outside -180..=180 (WGS-84)")]
    Longitude(f64),
    #[error("coordinate is not a finite number")]
    CoordinateNotFinite,
    #[error("GPS accuracy {0} m must be a non-negative finite number")]
    Accuracy(f64),
    #[error("name must not be empty")]
    NameEmpty,
    #[error("name is {0} characters long; at most {max} are allowed", max = Name::MAX_CHARS)]
    NameTooLong(usize),
    #[error("name contains a control character at position {0}")]
    NameControl(usize),
    #[error("'{0}' is not a date; write it as 2024-01-31, 2024/1/31 or 2024年1月31日")]
    DateFormat(String),
    #[error("date {0} is outside the supported years 2000-2100")]
    DateRange(String),
    #[error(
        "CCC certificate number '{0}' must be 16 digits, the first four the year of issue (2002 or later), e.g. 2021010703456789"
    )]
    CccCertificateNo(String),
    #[error(
        "standard number '{0}' must start with T/ (团体标准) or Q/ (企业标准) followed by the code and number"
    )]
    StandardNo(String),
    #[error("'{0}' is not a SHA-256 digest (64 lowercase hex characters)")]
    Sha256(String),
}

macro_rules! string_newtype_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                <$ty>::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl FromStr for $ty {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

/// The JSON Schema of a validated string: the type, what the pattern can
/// say of the rules (a check digit it cannot), and a description.
#[cfg(feature = "openapi")]
macro_rules! string_schema {
    ($ty:ty, $pattern:expr, $description:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern($pattern)
                    .description(Some($description))
                    .into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

/// 统一社会信用代码 (unified social credit code), GB 32100-2015.
///
/// Layout: registration authority (1), organisation type (1), administrative
/// division (6 digits), organisation code (9), check character (1). The check
/// character is computed over the first 17 with weights 3^i mod 31.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uscc(String);

impl Uscc {
    /// The 31-character alphabet of GB 32100-2015 (no I, O, S, V, Z).
    pub const ALPHABET: &'static str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 18 {
            return Err(ValueError::UsccLength(chars.len()));
        }
        let mut values = [0u32; 18];
        for (i, &ch) in chars.iter().enumerate() {
            if ch.is_ascii_lowercase() {
                return Err(ValueError::UsccLowercase { ch, pos: i + 1 });
            }
            values[i] = code_value(ch).ok_or(ValueError::UsccCharacter { ch, pos: i + 1 })?;
        }
        let division: String = chars[2..8].iter().collect();
        if !division.chars().all(|c| c.is_ascii_digit()) {
            return Err(ValueError::UsccDivision(division));
        }
        let expected = Self::check_char(&values[..17]);
        if chars[17] != expected {
            return Err(ValueError::UsccCheckDigit {
                found: chars[17],
                expected,
            });
        }
        Ok(Self(s.to_owned()))
    }

    /// Check character for the 17 leading code values.
    fn check_char(values: &[u32]) -> char {
        let mut weight = 1u32;
        let mut sum = 0u32;
        for v in values {
            sum += v * weight;
            weight = weight * 3 % 31;
        }
        let check = (31 - sum % 31) % 31;
        Self::ALPHABET.as_bytes()[check as usize] as char
    }

    /// Complete 17 leading characters with their check character. Used to
    /// generate valid demo and benchmark directories.
    pub fn with_check_char(first17: &str) -> Result<Self, ValueError> {
        let values: Vec<u32> = first17
            .chars()
            .enumerate()
            .map(|(i, ch)| code_value(ch).ok_or(ValueError::UsccCharacter { ch, pos: i + 1 }))
            .collect::<Result<_, _>>()?;
        if values.len() != 17 {
            return Err(ValueError::UsccLength(values.len() + 1));
        }
        let mut s = first17.to_owned();
        s.push(Self::check_char(&values));
        Self::parse(&s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn code_value(ch: char) -> Option<u32> {
    Uscc::ALPHABET.find(ch).map(|i| i as u32)
}

string_newtype_serde!(Uscc);
#[cfg(feature = "openapi")]
string_schema!(
    Uscc,
    Some("^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"),
    "统一社会信用代码 (GB 32100-2015): 18 characters, the last a check character"
);

/// 执法证号: an enforcement officer's credential number.
///
/// Numbering differs between provinces (some prefix a one-character province
/// abbreviation such as 渝, some are all digits), so the rule is deliberately
/// structural: 6-24 characters, uppercase ASCII letters, digits and '-', an
/// optional leading CJK character, and at least 4 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialNo(String);

impl CredentialNo {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValueError::CredentialEmpty);
        }
        let bad = |reason| ValueError::CredentialFormat {
            value: s.to_owned(),
            reason,
        };
        let n = s.chars().count();
        if !(6..=24).contains(&n) {
            return Err(bad("must be 6 to 24 characters long"));
        }
        for (i, ch) in s.chars().enumerate() {
            let ok = ch.is_ascii_digit()
                || ch.is_ascii_uppercase()
                || ch == '-'
                || (i == 0 && is_cjk(ch));
            if !ok {
                return Err(if ch.is_ascii_lowercase() {
                    bad("has a lowercase letter; use uppercase")
                } else {
                    bad(
                        "may hold only digits, uppercase letters, '-' and a leading province character",
                    )
                });
            }
        }
        if s.chars().filter(char::is_ascii_digit).count() < 4 {
            return Err(bad("must contain at least 4 digits"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_serde!(CredentialNo);
#[cfg(feature = "openapi")]
string_schema!(
    CredentialNo,
    Some("^[\\p{Han}]?[A-Z0-9-]{6,24}$"),
    "执法证号: law-enforcement credential number"
);

fn is_cjk(ch: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&ch)
}

/// A non-empty, trimmed, single-line human-readable name (person, company,
/// unit, town). Interior whitespace is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ValueError::NameEmpty);
        }
        let n = s.chars().count();
        if n > Self::MAX_CHARS {
            return Err(ValueError::NameTooLong(n));
        }
        if let Some(pos) = s.chars().position(char::is_control) {
            return Err(ValueError::NameControl(pos + 1));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_serde!(Name);
#[cfg(feature = "openapi")]
string_schema!(
    Name,
    Some(r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]{0,198}[^\s\x00-\x1f\x7f-\x9f])?$"),
    "A name on one line, trimmed, not empty, at most 200 characters, no control characters"
);

/// Number of a group standard (T/...) or an enterprise standard (Q/...), the
/// key of a standard target. Letters are upper-cased because issuing bodies
/// write the prefix inconsistently and the number is the identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StandardNo(String);

impl StandardNo {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s: String = raw.trim().to_ascii_uppercase();
        let err = || ValueError::StandardNo(raw.trim().to_owned());
        let rest = s
            .strip_prefix("T/")
            .or_else(|| s.strip_prefix("Q/"))
            .ok_or_else(err)?;
        let ok = rest.chars().count() >= 3
            && rest.chars().any(|c| c.is_ascii_digit())
            && !rest.chars().any(char::is_control)
            && Name::parse(rest).is_ok();
        if !ok {
            return Err(err());
        }
        Ok(Self(s))
    }

    /// Group standard (团体标准) rather than enterprise standard (企业标准).
    pub fn is_group(&self) -> bool {
        self.0.starts_with("T/")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_serde!(StandardNo);
#[cfg(feature = "openapi")]
string_schema!(
    StandardNo,
    Some("^[TQ]/"),
    "团体标准 (T/…) or 企业标准 (Q/…) number"
);

/// Number of a compulsory product certificate (CCC 证书编号): 16 digits,
/// the first four the year of issue. The key of a CCC-certified product
/// target: one certificate covers one product (and its listed models).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CccCertificateNo(String);

impl CccCertificateNo {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        let year: Option<u32> = s.get(..4).and_then(|y| y.parse().ok());
        let ok = s.len() == 16
            && s.bytes().all(|b| b.is_ascii_digit())
            && year.is_some_and(|y| (2002..=2100).contains(&y));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValueError::CccCertificateNo(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_serde!(CccCertificateNo);
#[cfg(feature = "openapi")]
string_schema!(
    CccCertificateNo,
    Some("^(20[0-9]{2})[0-9]{12}$"),
    "CCC certificate number: 16 digits, the first four the year of issue"
);

/// A SHA-256 digest as 64 lowercase hex characters: how evidence blobs
/// (photos, signature images) are named everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self::from_digest(Sha256::digest(bytes).into())
    }

    /// A finished SHA-256 digest.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::Sha256(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_serde!(Sha256Hex);
#[cfg(feature = "openapi")]
string_schema!(
    Sha256Hex,
    Some("^[0-9a-f]{64}$"),
    "SHA-256 digest, 64 lowercase hex characters"
);

/// A WGS-84 position as reported by GPS, with its horizontal accuracy.
///
/// Stored as WGS-84 even though Chinese web maps display GCJ-02: converting
/// is a display concern, and WGS-84 is what the receiver measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, when the receiver reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64, accuracy_m: Option<f64>) -> Result<Self, ValueError> {
        if !lat.is_finite() || !lon.is_finite() {
            return Err(ValueError::CoordinateNotFinite);
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(ValueError::Latitude(lat));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(ValueError::Longitude(lon));
        }
        if let Some(a) = accuracy_m {
            if !a.is_finite() || a < 0.0 {
                return Err(ValueError::Accuracy(a));
            }
        }
        Ok(Self {
            lat,
            lon,
            accuracy_m,
        })
    }

    /// Great-circle distance in metres (haversine, mean Earth radius). Good
    /// to well under a metre at the distances proof-of-duty checks care about.
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

impl<'de> Deserialize<'de> for GeoPoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            lat: f64,
            lon: f64,
            accuracy_m: Option<f64>,
        }
        let r = Raw::deserialize(d)?;
        GeoPoint::new(r.lat, r.lon, r.accuracy_m).map_err(serde::de::Error::custom)
    }
}

/// A calendar date (no time zone), parsed from the forms Chinese office
/// software writes: `2024-01-31`, `2024/1/31`, `2024.1.31`, `2024年1月31日`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate(NaiveDate);

impl CivilDate {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        let normalised: String = s.replace(['年', '月', '/', '.'], "-").replace('日', "");
        let date = NaiveDate::parse_from_str(&normalised, "%Y-%m-%d")
            .map_err(|_| ValueError::DateFormat(s.to_owned()))?;
        Self::new(date).map_err(|_| ValueError::DateRange(s.to_owned()))
    }

    pub fn new(date: NaiveDate) -> Result<Self, ValueError> {
        if (2000..=2100).contains(&date.year()) {
            Ok(Self(date))
        } else {
            Err(ValueError::DateRange(date.to_string()))
        }
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for CivilDate {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for CivilDate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Date,
            )))
            .description(Some(
                "A date, written YYYY-MM-DD (also read: 2024/1/31, 2024.1.31, 2024年1月31日)",
            ))
            .into()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for CivilDate {}

impl Serialize for CivilDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// China Standard Time (UTC+8, no daylight saving): what every date and
/// time a person reads is written in; stored times stay UTC.
pub fn china_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// `t` in China time to the minute, `2024-01-31 09:30`.
pub fn china_minute(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// [`china_minute`] of an RFC 3339 time as stored; empty when absent or
/// unreadable.
pub fn china_minute_of(stored: Option<&str>) -> String {
    stored
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| china_minute(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Valid codes, check digits confirmed independently (see docs/glossary.md).
    const GOOD: &[&str] = &[
        "91350100M000100Y43",
        "91500000MA5U5ERF5M",
        "12100000400000624D",
    ];

    #[test]
    fn uscc_accepts_valid_codes() {
        for code in GOOD {
            let u = Uscc::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(u.as_str(), *code);
        }
        // Surrounding whitespace from spreadsheets is forgiven.
        assert!(Uscc::parse(" 91350100M000100Y43\t").is_ok());
    }

    #[test]
    fn uscc_rejects_wrong_check_digit() {
        let err = Uscc::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(
            err,
            ValueError::UsccCheckDigit {
                found: '4',
                expected: '3'
            }
        );
        assert!(err.to_string().contains("check digit"));
    }

    #[test]
    fn uscc_rejects_lowercase_letter() {
        let err = Uscc::parse("91350100m000100Y43").unwrap_err();
        assert_eq!(err, ValueError::UsccLowercase { ch: 'm', pos: 9 });
    }

    #[test]
    fn uscc_rejects_bad_length_alphabet_and_division() {
        assert_eq!(
            Uscc::parse("9135010").unwrap_err(),
            ValueError::UsccLength(7)
        );
        assert_eq!(Uscc::parse("").unwrap_err(), ValueError::UsccLength(0));
        // 'I', 'O', 'S', 'V', 'Z' are excluded from the alphabet.
        assert_eq!(
            Uscc::parse("91350100I000100Y43").unwrap_err(),
            ValueError::UsccCharacter { ch: 'I', pos: 9 }
        );
        assert!(matches!(
            Uscc::parse("91A50100M000100Y43").unwrap_err(),
            ValueError::UsccDivision(_)
        ));
        assert!(matches!(
            Uscc::parse("9135010０M000100Y43").unwrap_err(),
            ValueError::UsccCharacter { ch: '０', .. }
        ));
    }

    #[test]
    fn uscc_with_check_char_round_trips() {
        let u = Uscc::with_check_char("91350100M000100Y4").unwrap();
        assert_eq!(u.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn uscc_serde_validates() {
        let ok: Uscc = serde_json::from_str("\"91350100M000100Y43\"").unwrap();
        assert_eq!(ok.as_str(), "91350100M000100Y43");
        let err = serde_json::from_str::<Uscc>("\"91350100M000100Y40\"").unwrap_err();
        assert!(err.to_string().contains("check digit"), "{err}");
    }

    #[test]
    fn credential_numbers() {
        assert!(CredentialNo::parse("渝50010023001").is_ok());
        assert!(CredentialNo::parse("50010023001").is_ok());
        assert!(CredentialNo::parse("CQ-GX-0012").is_ok());
        assert_eq!(
            CredentialNo::parse("  ").unwrap_err(),
            ValueError::CredentialEmpty
        );
        for bad in ["123", "cq-gx-0012", "渝渝5001002", "ABCDEFG-1", "5001 0023"] {
            assert!(
                CredentialNo::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn coordinates_in_wgs84_range() {
        let p = GeoPoint::new(29.5601, 106.3307, Some(8.0)).unwrap();
        assert_eq!(p.lat, 29.5601);
        assert_eq!(
            GeoPoint::new(91.0, 0.0, None).unwrap_err(),
            ValueError::Latitude(91.0)
        );
        assert_eq!(
            GeoPoint::new(0.0, -180.5, None).unwrap_err(),
            ValueError::Longitude(-180.5)
        );
        assert_eq!(
            GeoPoint::new(f64::NAN, 0.0, None).unwrap_err(),
            ValueError::CoordinateNotFinite
        );
        assert_eq!(
            GeoPoint::new(0.0, 0.0, Some(-1.0)).unwrap_err(),
            ValueError::Accuracy(-1.0)
        );
        let bad = serde_json::from_str::<GeoPoint>(r#"{"lat": 120, "lon": 10}"#).unwrap_err();
        assert!(bad.to_string().contains("latitude"), "{bad}");
    }

    #[test]
    fn distance_is_haversine() {
        // One degree of latitude is about 111.2 km everywhere.
        let a = GeoPoint::new(29.0, 106.0, None).unwrap();
        let b = GeoPoint::new(30.0, 106.0, None).unwrap();
        let d = a.distance_m(&b);
        assert!((d - 111_195.0).abs() < 100.0, "{d}");
        assert_eq!(a.distance_m(&a), 0.0);
    }

    #[test]
    fn names() {
        assert_eq!(
            Name::parse("  重庆某某科技有限公司 ").unwrap().as_str(),
            "重庆某某科技有限公司"
        );
        assert_eq!(Name::parse(" \t").unwrap_err(), ValueError::NameEmpty);
        assert_eq!(
            Name::parse("甲\n乙").unwrap_err(),
            ValueError::NameControl(2)
        );
        assert_eq!(
            Name::parse(&"长".repeat(201)).unwrap_err(),
            ValueError::NameTooLong(201)
        );
    }

    #[test]
    fn dates_in_office_formats() {
        let want = CivilDate::parse("2024-01-31").unwrap();
        for s in ["2024/1/31", "2024.01.31", "2024年1月31日", " 2024-1-31 "] {
            assert_eq!(CivilDate::parse(s).unwrap(), want, "{s}");
        }
        assert_eq!(want.to_string(), "2024-01-31");
        assert!(matches!(
            CivilDate::parse("2024-02-30"),
            Err(ValueError::DateFormat(_))
        ));
        assert!(matches!(
            CivilDate::parse("31/01/2024"),
            Err(ValueError::DateFormat(_))
        ));
        assert!(matches!(
            CivilDate::parse("1899-01-01"),
            Err(ValueError::DateRange(_))
        ));
    }

    #[test]
    fn standard_numbers() {
        let t = StandardNo::parse("t/cqses 001-2023").unwrap();
        assert_eq!(t.as_str(), "T/CQSES 001-2023");
        assert!(t.is_group());
        assert!(!StandardNo::parse("Q/CQXY 002-2022").unwrap().is_group());
        assert!(StandardNo::parse("GB 2760-2014").is_err());
        assert!(StandardNo::parse("T/").is_err());
    }

    #[test]
    fn sha256_hex() {
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(Sha256Hex::parse(h).is_ok());
        assert!(Sha256Hex::parse(&h.to_uppercase()).is_err());
        assert!(Sha256Hex::parse(&h[1..]).is_err());
        assert_eq!(Sha256Hex::of(b"").as_str(), h);
    }
}
