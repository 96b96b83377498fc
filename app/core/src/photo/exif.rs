//! The EXIF facts the pipeline needs: orientation, GPS and time taken.

use std::io::Cursor;

use choucha_shared::GeoPoint;
use chrono::{NaiveDate, NaiveDateTime};
use exif::{Exif, In, Tag, Value};

use super::ExifFacts;

/// Reads the facts from a JPEG's APP1 or a PNG's eXIf chunk. Missing or
/// malformed EXIF yields the defaults; it never fails the photo.
pub(super) fn read(input: &[u8]) -> ExifFacts {
    let mut reader = exif::Reader::new();
    // Keep what can be read from a partly malformed block.
    reader.continue_on_error(true);
    let parsed = reader
        .read_from_container(&mut Cursor::new(input))
        .or_else(|e| e.distill_partial_result(|_| {}));
    match parsed {
        Ok(exif) => facts(&exif),
        Err(_) => ExifFacts::default(),
    }
}

fn facts(exif: &Exif) -> ExifFacts {
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u16);
    ExifFacts {
        orientation,
        gps: gps(exif),
        taken_at: taken_at(exif),
    }
}

fn gps(exif: &Exif) -> Option<GeoPoint> {
    let coord = |tag, reference, negative: u8| -> Option<f64> {
        let Value::Rational(dms) = &exif.get_field(tag, In::PRIMARY)?.value else {
            return None;
        };
        if dms.is_empty() || dms.iter().any(|r| r.denom == 0) {
            return None;
        }
        let part = |i: usize| dms.get(i).map_or(0.0, |r| r.to_f64());
        let value = part(0) + part(1) / 60.0 + part(2) / 3600.0;
        let sign = match &exif.get_field(reference, In::PRIMARY)?.value {
            Value::Ascii(v) if v.first().and_then(|s| s.first()) == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * value)
    };
    let lat = coord(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S')?;
    let lon = coord(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W')?;
    let accuracy = exif
        .get_field(Tag::GPSHPositioningError, In::PRIMARY)
        .and_then(|f| match &f.value {
            Value::Rational(v) => v.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
            _ => None,
        });
    GeoPoint::new(lat, lon, accuracy)
        .or_else(|_| GeoPoint::new(lat, lon, None))
        .ok()
}

fn taken_at(exif: &Exif) -> Option<NaiveDateTime> {
    [Tag::DateTimeOriginal, Tag::DateTime]
        .into_iter()
        .find_map(|tag| {
            let Value::Ascii(v) = &exif.get_field(tag, In::PRIMARY)?.value else {
                return None;
            };
            let dt = exif::DateTime::from_ascii(v.first()?).ok()?;
            NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?.and_hms_opt(
                dt.hour.into(),
                dt.minute.into(),
                dt.second.into(),
            )
        })
}
