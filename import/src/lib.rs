//! Directory import (名录库导入): CSV and XLSX files as Chinese office
//! software writes them (UTF-8 with or without BOM, GBK/GB18030), with Chinese
//! header names, validated row by row.
//!
//! This module is pure with respect to storage: it turns file bytes into
//! validated domain values plus a list of **every** bad cell as
//! `row, column, value, reason`. Checks that need the stored directory
//! (duplicates against it, history) happen in the store.
//!
//! Columns are documented in `docs/import.md`.

mod reason;
mod table;

pub use table::{Column, FileFormat, ImportError};

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use choucha_shared::category::KeyKind;
use choucha_shared::directory::{
    BusinessStatus, Expert, IndustryCode, Officer, RiskClass, Target, TargetIdentity, TargetKey,
    TargetProfile,
};
use choucha_shared::plan::AssignedTarget;
use choucha_shared::{
    CccCertificateNo, CredentialNo, GeoPoint, Name, StandardNo, TargetCategory, Uscc, ValueError,
};

use table::Row;

/// One bad cell (or row) of an import file. `row` is the 1-based line as a
/// spreadsheet shows it (the header is row 1); `column` is the header name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// Result of parsing a file: the good rows with their row numbers, and every
/// problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub rows: Vec<(usize, T)>,
    pub errors: Vec<RowError>,
}

impl<T> Parsed<T> {
    /// No row had a problem.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A recusal row: a person (officer credential number or expert id) who must
/// never be drawn for a target (USCC or standard number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecusalRow {
    pub person: String,
    pub target_key: String,
    pub reason: String,
}

impl std::str::FromStr for DirectoryKind {
    type Err = choucha_shared::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        choucha_shared::UnknownCode::find("directory kind", s, Self::ALL, Self::as_str)
    }
}

/// What kind of directory a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryKind {
    Targets,
    Officers,
    Experts,
    Recusals,
}

impl DirectoryKind {
    pub const ALL: [DirectoryKind; 4] =
        [Self::Targets, Self::Officers, Self::Experts, Self::Recusals];

    /// The stable code (the serialised form, the REST path segment).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Targets => "targets",
            Self::Officers => "officers",
            Self::Experts => "experts",
            Self::Recusals => "recusals",
        }
    }

    /// The columns a file of this kind may have, in template order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Self::Targets => &TARGET_COLUMNS,
            Self::Officers => &OFFICER_COLUMNS,
            Self::Experts => &EXPERT_COLUMNS,
            Self::Recusals => &RECUSAL_COLUMNS,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Targets => "检查对象名录",
            Self::Officers => "执法人员名录",
            Self::Experts => "专家名录",
            Self::Recusals => "回避关系",
        }
    }
}

// ---------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------

const fn col(name: &'static str, aliases: &'static [&'static str], required: bool) -> Column {
    Column {
        name,
        aliases,
        required,
    }
}

const T_CATEGORY: usize = 0;
const T_NAME: usize = 1;
const T_USCC: usize = 2;
const T_STANDARD_NO: usize = 3;
const T_ISSUER: usize = 4;
const T_ISSUER_USCC: usize = 5;
const T_JURISDICTION: usize = 6;
const T_ADDRESS: usize = 7;
const T_LON: usize = 8;
const T_LAT: usize = 9;
const T_RISK: usize = 10;
const T_INDUSTRY: usize = 11;
const T_STATUS: usize = 12;
const T_LICENCE: usize = 13;
const T_MODEL: usize = 14;
const T_HOLDER: usize = 15;

/// Longest licence or certificate number taken.
const MAX_LICENCE_CHARS: usize = 64;

static TARGET_COLUMNS: [Column; 16] = [
    col("检查对象类别", &["对象类别", "类别"], true),
    col(
        "企业名称",
        &[
            "名称",
            "单位名称",
            "机构名称",
            "标准名称",
            "产品名称",
            "检查对象名称",
        ],
        true,
    ),
    col("统一社会信用代码", &["社会信用代码"], false),
    col("标准编号", &[], false),
    col("发布单位", &["标准发布单位", "制定单位"], false),
    col("发布单位统一社会信用代码", &[], false),
    col("所属镇街", &["镇街", "所属镇（街）", "属地"], true),
    col("地址", &["住所", "经营地址", "住所（经营场所）"], false),
    col("经度", &[], false),
    col("纬度", &[], false),
    col(
        "信用风险分类",
        &["风险分类", "信用风险等级", "风险等级"],
        false,
    ),
    col("行业代码", &["国民经济行业代码", "行业分类代码"], false),
    col("经营状态", &["登记状态", "企业状态"], false),
    col(
        "证书编号",
        &[
            "许可证编号",
            "生产许可证编号",
            "资质认定证书编号",
            "CCC证书编号",
            "CCC 证书编号",
            "认证证书编号",
        ],
        false,
    ),
    // 强制性产品认证产品 only: the certified model(s) and the holder.
    col("型号", &["产品型号", "规格型号", "型号规格"], false),
    col("持证人", &["证书持有人", "认证委托人", "获证企业"], false),
];

const O_CREDENTIAL: usize = 0;
const O_NAME: usize = 1;
const O_UNIT: usize = 2;
const O_DOMAINS: usize = 3;
const O_ENFORCEMENT: usize = 4;

static OFFICER_COLUMNS: [Column; 5] = [
    col("执法证号", &["执法证编号"], true),
    col("姓名", &[], true),
    col("所属单位", &["所属镇街"], true),
    col("可检查领域", &["检查领域"], true),
    col("是否执法人员", &[], false),
];

const E_ID: usize = 0;
const E_NAME: usize = 1;
const E_ORGANISATION: usize = 2;
const E_DOMAINS: usize = 3;

static EXPERT_COLUMNS: [Column; 4] = [
    col("专家编号", &[], true),
    col("姓名", &[], true),
    col("所属机构", &["工作单位"], true),
    col("可检查领域", &["检查领域"], true),
];

const R_PERSON: usize = 0;
const R_TARGET: usize = 1;
const R_REASON: usize = 2;

const A_TARGET: usize = 0;
const A_CATEGORY: usize = 1;
const A_SOURCE: usize = 2;

/// An upstream list of targets a plan must inspect (总局 or 市局 名单).
pub static ASSIGNED_COLUMNS: [Column; 3] = [
    col(
        "检查对象代码",
        &["统一社会信用代码", "标准编号", "证书编号"],
        true,
    ),
    col("检查对象类别", &["类别"], true),
    col("来源", &["名单来源", "名单"], false),
];

static RECUSAL_COLUMNS: [Column; 3] = [
    col("人员编号", &["执法证号", "专家编号"], true),
    col("检查对象代码", &["统一社会信用代码", "标准编号"], true),
    col("回避原因", &[], true),
];

/// Longest accepted expert id or recusal person id.
const MAX_ID_CHARS: usize = 64;

// ---------------------------------------------------------------------------
// Parsers
// ---------------------------------------------------------------------------

/// Parse a target directory (检查对象名录). `known_jurisdictions` are the
/// town/street offices (所属镇街) a target may belong to.
pub fn parse_targets(
    bytes: &[u8],
    format: FileFormat,
    known_jurisdictions: &BTreeSet<String>,
) -> Result<Parsed<Target>, ImportError> {
    let places = Jurisdictions::new(known_jurisdictions);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(TargetCategory, String), usize> = HashMap::new();
    table::read(
        bytes,
        format,
        &TARGET_COLUMNS,
        &[(T_USCC, T_STANDARD_NO)],
        |row| {
            let number = row.number();
            let mut c = Check::new(row, &mut errors);
            let category =
                c.required(T_CATEGORY, "")
                    .and_then(|s| match s.parse::<TargetCategory>() {
                        Ok(category) => Some(category),
                        Err(e) => c.bad(T_CATEGORY, reason::unknown_category(&e)),
                    });
            let name = c.name(T_NAME);

            let mut key: Option<(usize, String)> = None;
            let identity = match category.map(TargetCategory::key_kind) {
                Some(KeyKind::Uscc) => {
                    let why = if c.get(T_STANDARD_NO).is_empty() {
                        "：该类别的检查对象必须填写统一社会信用代码"
                    } else {
                        "：该类别的检查对象必须填写统一社会信用代码（若这一行是标准，检查对象类别应为 团体标准、企业标准）"
                    };
                    let uscc = c
                        .required(T_USCC, why)
                        .and_then(|s| c.check(T_USCC, Uscc::parse(s)));
                    key = uscc.as_ref().map(|u| (T_USCC, u.as_str().to_owned()));
                    uscc.map(|uscc| TargetIdentity::Organisation { uscc })
                }
                Some(KeyKind::CccCertificateNo) => {
                    let certificate = c
                        .required(T_LICENCE, "：强制性产品认证产品必须填写 CCC 证书编号")
                        .and_then(|s| c.check(T_LICENCE, CccCertificateNo::parse(s)));
                    let model = c
                        .required(T_MODEL, "：强制性产品认证产品必须填写型号（与证书一致）")
                        .map(str::to_owned);
                    let holder = c
                        .required(T_HOLDER, "：强制性产品认证产品必须填写持证人")
                        .and_then(|s| c.check(T_HOLDER, Name::parse(s)));
                    let holder_uscc = c
                        .required(
                            T_USCC,
                            "：强制性产品认证产品必须填写持证人的统一社会信用代码",
                        )
                        .and_then(|s| c.check(T_USCC, Uscc::parse(s)));
                    key = certificate
                        .as_ref()
                        .map(|n| (T_LICENCE, n.as_str().to_owned()));
                    match (certificate, model, holder, holder_uscc) {
                        (Some(certificate_no), Some(model), Some(holder), Some(holder_uscc)) => {
                            Some(TargetIdentity::Product {
                                certificate_no,
                                model,
                                holder,
                                holder_uscc,
                            })
                        }
                        _ => None,
                    }
                }
                Some(KeyKind::StandardNo) => {
                    let org_uscc = c.optional(T_USCC, Uscc::parse);
                    let number = c
                        .required(T_STANDARD_NO, "：团体标准、企业标准必须填写标准编号")
                        .and_then(|s| c.check(T_STANDARD_NO, StandardNo::parse(s)));
                    let issuer = c
                        .required(T_ISSUER, "：团体标准、企业标准必须填写发布单位")
                        .and_then(|s| c.check(T_ISSUER, Name::parse(s)));
                    let issuer_uscc = c.optional(T_ISSUER_USCC, Uscc::parse);
                    // On a standard row the organisation code column can only
                    // mean the issuer's code.
                    let issuer_uscc = match (issuer_uscc, org_uscc) {
                        (Some(Some(a)), Some(Some(b))) if a != b => c.bad(
                            T_USCC,
                            format!(
                                "标准行的统一社会信用代码视为发布单位的代码，但与发布单位统一社会信用代码“{a}”不一致"
                            ),
                        ),
                        (Some(a), Some(b)) => Some(a.or(b)),
                        _ => None,
                    };
                    key = number
                        .as_ref()
                        .map(|n| (T_STANDARD_NO, n.as_str().to_owned()));
                    match (number, issuer, issuer_uscc) {
                        (Some(number), Some(issuer), Some(issuer_uscc)) => {
                            Some(TargetIdentity::Standard {
                                number,
                                issuer,
                                issuer_uscc,
                            })
                        }
                        _ => None,
                    }
                }
                None => {
                    // Without a category the identity cannot be built, but
                    // what is filled in is still checked.
                    c.optional(T_USCC, Uscc::parse);
                    c.optional(T_STANDARD_NO, StandardNo::parse);
                    c.optional(T_ISSUER, Name::parse);
                    c.optional(T_ISSUER_USCC, Uscc::parse);
                    None
                }
            };

            let jurisdiction = c
                .required(T_JURISDICTION, "")
                .and_then(|s| c.jurisdiction(T_JURISDICTION, s, &places));
            let address = Some(c.get(T_ADDRESS))
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            let location = c.location();
            let profile = c.profile();

            if let (Some(category), Some((field, key))) = (category, key) {
                c.unique(&mut seen, (category, key), field, "同一检查对象类别下");
            }
            if let (
                true,
                Some(category),
                Some(name),
                Some(identity),
                Some(jurisdiction),
                Some(location),
                Some(profile),
            ) = (
                c.finish(),
                category,
                name,
                identity,
                jurisdiction,
                location,
                profile,
            ) {
                rows.push((
                    number,
                    Target {
                        category,
                        identity,
                        name,
                        jurisdiction,
                        address,
                        location,
                        profile,
                    },
                ));
            }
        },
    )?;
    Ok(Parsed { rows, errors })
}

/// Parse an officer directory (执法人员名录). `known_jurisdictions` are the
/// town/street offices an officer's 所属单位 may be.
pub fn parse_officers(
    bytes: &[u8],
    format: FileFormat,
    known_jurisdictions: &BTreeSet<String>,
) -> Result<Parsed<Officer>, ImportError> {
    let places = Jurisdictions::new(known_jurisdictions);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    table::read(bytes, format, &OFFICER_COLUMNS, &[], |row| {
        let number = row.number();
        let mut c = Check::new(row, &mut errors);
        let credential_no = c
            .required(O_CREDENTIAL, "")
            .and_then(|s| c.check(O_CREDENTIAL, CredentialNo::parse(s)));
        let name = c.name(O_NAME);
        let unit = c
            .required(O_UNIT, "")
            .and_then(|s| c.jurisdiction(O_UNIT, s, &places));
        let domains = c.domains(O_DOMAINS);
        let enforcement = if row.has_column(O_ENFORCEMENT) {
            c.required(O_ENFORCEMENT, "：请填写 是 或 否")
                .and_then(|s| match yes_no(s) {
                    Some(b) => Some(b),
                    None => c.bad(
                        O_ENFORCEMENT,
                        format!("“{s}”不是 是 或 否（也可写 Y/N、1/0）"),
                    ),
                })
        } else {
            Some(true)
        };
        if let Some(cred) = &credential_no {
            c.unique(&mut seen, cred.as_str().to_owned(), O_CREDENTIAL, "");
        }
        if let (
            true,
            Some(credential_no),
            Some(name),
            Some(unit),
            Some(domains),
            Some(enforcement),
        ) = (c.finish(), credential_no, name, unit, domains, enforcement)
        {
            rows.push((
                number,
                Officer {
                    credential_no,
                    name,
                    unit,
                    domains,
                    enforcement,
                },
            ));
        }
    })?;
    Ok(Parsed { rows, errors })
}

/// Parse a third-party expert directory (专家名录).
pub fn parse_experts(bytes: &[u8], format: FileFormat) -> Result<Parsed<Expert>, ImportError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    table::read(bytes, format, &EXPERT_COLUMNS, &[], |row| {
        let number = row.number();
        let mut c = Check::new(row, &mut errors);
        let expert_id = c.required(E_ID, "").and_then(|s| c.identifier(E_ID, s));
        let name = c.name(E_NAME);
        let organisation = c.name(E_ORGANISATION);
        let domains = c.domains(E_DOMAINS);
        if let Some(id) = &expert_id {
            c.unique(&mut seen, id.clone(), E_ID, "");
        }
        if let (true, Some(expert_id), Some(name), Some(organisation), Some(domains)) =
            (c.finish(), expert_id, name, organisation, domains)
        {
            rows.push((
                number,
                Expert {
                    expert_id,
                    name,
                    organisation,
                    domains,
                },
            ));
        }
    })?;
    Ok(Parsed { rows, errors })
}

/// Parse recusal pairs (回避关系). The target code is normalised the way the
/// target directory stores it (a standard number upper-cased).
pub fn parse_recusals(bytes: &[u8], format: FileFormat) -> Result<Parsed<RecusalRow>, ImportError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    table::read(bytes, format, &RECUSAL_COLUMNS, &[], |row| {
        let number = row.number();
        let mut c = Check::new(row, &mut errors);
        let person = c
            .required(R_PERSON, "")
            .and_then(|s| c.identifier(R_PERSON, s));
        let target_key = c.required(R_TARGET, "").and_then(|s| match target_key(s) {
            Ok(key) => Some(key),
            Err(reason) => c.bad(R_TARGET, reason),
        });
        let reason = c.required(R_REASON, "：回避必须写明原因");
        if let (Some(person), Some(target)) = (&person, &target_key) {
            c.unique(
                &mut seen,
                (person.clone(), target.clone()),
                R_TARGET,
                "同一人员、",
            );
        }
        if let (true, Some(person), Some(target_key), Some(reason)) =
            (c.finish(), person, target_key, reason)
        {
            rows.push((
                number,
                RecusalRow {
                    person,
                    target_key,
                    reason: reason.to_owned(),
                },
            ));
        }
    })?;
    Ok(Parsed { rows, errors })
}

/// Parses an upstream list of assigned targets (检查对象代码, 检查对象类别,
/// 来源). A row without 来源 takes `default_source` (the list the whole
/// file is, as the uploader names it); without either it is refused. Only
/// the shape is checked here: whether each target is in the directory is
/// the store's question.
pub fn parse_assigned(
    bytes: &[u8],
    format: FileFormat,
    default_source: Option<&str>,
) -> Result<Parsed<AssignedTarget>, ImportError> {
    let default_source = default_source.map(str::trim).filter(|s| !s.is_empty());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(TargetCategory, String), usize> = HashMap::new();
    table::read(bytes, format, &ASSIGNED_COLUMNS, &[], |row| {
        let number = row.number();
        let mut c = Check::new(row, &mut errors);
        let key = c.required(A_TARGET, "").and_then(|s| match target_key(s) {
            Ok(key) => Some(key),
            Err(reason) => c.bad(A_TARGET, reason),
        });
        let category = c
            .required(A_CATEGORY, "")
            .and_then(|s| match s.parse::<TargetCategory>() {
                Ok(category) => Some(category),
                Err(e) => c.bad(A_CATEGORY, reason::unknown_category(&e)),
            });
        let source = match c.get(A_SOURCE).trim() {
            "" => match default_source {
                Some(s) => Some(s.to_owned()),
                None => c.bad(
                    A_SOURCE,
                    "：须写明名单来源（如 总局2023年自愿性认证从业机构抽查名单），或在上传时给出整份名单的来源",
                ),
            },
            s => Some(s.to_owned()),
        };
        if let (Some(key), Some(category)) = (&key, category) {
            c.unique(&mut seen, (category, key.clone()), A_TARGET, "同一类别、");
        }
        if let (true, Some(key), Some(category), Some(source)) = (c.finish(), key, category, source)
        {
            rows.push((
                number,
                AssignedTarget {
                    key: TargetKey(key),
                    category,
                    source,
                },
            ));
        }
    })?;
    Ok(Parsed { rows, errors })
}

// ---------------------------------------------------------------------------
// Cell checks
// ---------------------------------------------------------------------------

/// Collects the problems of one row. Errors are reported left to right as
/// the columns stand in the file.
struct Check<'a, 'e> {
    row: Row<'a>,
    found: Vec<(usize, RowError)>,
    errors: &'e mut Vec<RowError>,
}

impl<'a, 'e> Check<'a, 'e> {
    fn new(row: Row<'a>, errors: &'e mut Vec<RowError>) -> Self {
        Self {
            row,
            found: Vec::new(),
            errors,
        }
    }

    fn get(&self, field: usize) -> &'a str {
        self.row.get(field)
    }

    /// Record a problem with a cell; always `None`, for use in matches.
    fn bad<T>(&mut self, field: usize, reason: impl Into<String>) -> Option<T> {
        self.found.push((
            self.row.position(field),
            RowError {
                row: self.row.number(),
                column: self.row.header(field).to_owned(),
                value: self.row.get(field).to_owned(),
                reason: reason.into(),
            },
        ));
        None
    }

    /// Hand the row's problems over; `true` when there were none.
    fn finish(mut self) -> bool {
        self.found.sort_by_key(|(position, _)| *position);
        let clean = self.found.is_empty();
        self.errors.extend(self.found.drain(..).map(|(_, e)| e));
        clean
    }

    /// The non-empty cell, or a problem saying it is required (`why` is
    /// appended to the reason).
    fn required(&mut self, field: usize, why: &str) -> Option<&'a str> {
        let s = self.get(field);
        if !s.is_empty() {
            return Some(s);
        }
        if self.row.has_column(field) {
            self.bad(field, format!("必填，不能为空{why}"))
        } else {
            let header = self.row.header(field).to_owned();
            self.bad(field, format!("文件没有“{header}”列{why}"))
        }
    }

    fn check<T>(&mut self, field: usize, result: Result<T, ValueError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => self.bad(field, reason::value_error(&e)),
        }
    }

    /// `Some(None)` for an empty cell, `Some(Some(v))` for a good one,
    /// `None` (and a problem) for a bad one.
    fn optional<T>(
        &mut self,
        field: usize,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        let s = self.get(field);
        if s.is_empty() {
            return Some(None);
        }
        self.check(field, parse(s)).map(Some)
    }

    /// A cell parsed by `parse` whose error is already the reason; `Some(None)`
    /// when empty.
    fn optional_with<T>(
        &mut self,
        field: usize,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let s = self.get(field);
        if s.is_empty() {
            return Some(None);
        }
        match parse(s) {
            Ok(v) => Some(Some(v)),
            Err(reason) => self.bad(field, reason),
        }
    }

    /// The credit, registration and licensing columns; `None` (with every
    /// problem recorded) when one is bad.
    fn profile(&mut self) -> Option<TargetProfile> {
        let risk = self.optional_with(T_RISK, str::parse::<RiskClass>);
        let industry = self.optional_with(T_INDUSTRY, IndustryCode::parse);
        let status = self.optional_with(T_STATUS, str::parse::<BusinessStatus>);
        let licence_no = self.optional_with(T_LICENCE, |s| {
            let n = s.chars().count();
            if n > MAX_LICENCE_CHARS {
                Err(format!(
                    "证书编号过长（{n} 个字符，最多 {MAX_LICENCE_CHARS} 个）"
                ))
            } else if s.chars().any(char::is_control) {
                Err("证书编号不能含有换行或控制字符".to_owned())
            } else {
                Ok(s.to_owned())
            }
        });
        Some(TargetProfile {
            risk: risk?,
            industry: industry?,
            status: status?.unwrap_or_default(),
            licence_no: licence_no?,
        })
    }

    fn name(&mut self, field: usize) -> Option<Name> {
        self.required(field, "")
            .and_then(|s| self.check(field, Name::parse(s)))
    }

    fn jurisdiction(&mut self, field: usize, s: &str, places: &Jurisdictions<'_>) -> Option<Name> {
        match places.get(s) {
            Some(name) => Some(name.clone()),
            None => self.bad(field, places.unknown(s)),
        }
    }

    fn domains(&mut self, field: usize) -> Option<BTreeSet<TargetCategory>> {
        let s = self.required(field, "：至少填写一个检查对象类别")?;
        match parse_domains(s) {
            Ok(domains) => Some(domains),
            Err(reason) => self.bad(field, reason),
        }
    }

    /// An expert id or person id: single line, at most 64 characters.
    fn identifier(&mut self, field: usize, s: &str) -> Option<String> {
        let n = s.chars().count();
        if n > MAX_ID_CHARS {
            return self.bad(
                field,
                format!("长度为 {n} 个字符，最多允许 {MAX_ID_CHARS} 个"),
            );
        }
        if let Some(pos) = s.chars().position(char::is_control) {
            return self.bad(
                field,
                format!("第 {} 个字符是控制字符（如单元格内换行），请删除", pos + 1),
            );
        }
        Some(s.to_owned())
    }

    /// 经度/纬度: both or neither; each in range; `Some(None)` when neither.
    fn location(&mut self) -> Option<Option<GeoPoint>> {
        let (lon_s, lat_s) = (self.get(T_LON), self.get(T_LAT));
        if lon_s.is_empty() && lat_s.is_empty() {
            return Some(None);
        }
        let lon = self.coordinate(T_LON, T_LAT, "106.5507");
        let lat = self.coordinate(T_LAT, T_LON, "29.5630");
        let swapped = matches!((lat, lon), (Some(a), Some(o)) if a.abs() > 90.0 && o.abs() <= 90.0 && a.abs() <= 180.0);
        let hint = if swapped {
            "；经度和纬度是否填反了？"
        } else {
            ""
        };
        let lon = lon.and_then(|v| match GeoPoint::new(0.0, v, None) {
            Ok(_) => Some(v),
            Err(e) => self.bad(T_LON, reason::value_error(&e)),
        });
        let lat = lat.and_then(|v| match GeoPoint::new(v, 0.0, None) {
            Ok(_) => Some(v),
            Err(e) => self.bad(T_LAT, format!("{}{hint}", reason::value_error(&e))),
        });
        let (lat, lon) = (lat?, lon?);
        match GeoPoint::new(lat, lon, None) {
            Ok(point) => Some(Some(point)),
            Err(e) => self.bad(T_LAT, reason::value_error(&e)),
        }
    }

    fn coordinate(&mut self, field: usize, other: usize, example: &str) -> Option<f64> {
        let s = self.get(field);
        let this_name = TARGET_COLUMNS[field].name;
        let other_name = TARGET_COLUMNS[other].name;
        if s.is_empty() {
            let why = if self.row.has_column(field) {
                format!("填写了{other_name}时必须同时填写{this_name}")
            } else {
                format!("文件没有“{this_name}”列，但填写了{other_name}；经纬度必须同时填写")
            };
            return self.bad(field, why);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Some(v),
            _ => self.bad(
                field,
                format!("“{s}”不是数字；{this_name}应为 WGS-84 十进制度数，如 {example}"),
            ),
        }
    }

    /// Record `key` as seen on this row, or report the row it first
    /// appeared on.
    fn unique<K: std::hash::Hash + Eq>(
        &mut self,
        seen: &mut HashMap<K, usize>,
        key: K,
        field: usize,
        scope: &str,
    ) {
        match seen.entry(key) {
            Entry::Occupied(first) => {
                let header = self.row.header(field).to_owned();
                let first = *first.get();
                self.bad::<()>(field, format!("与第 {first} 行重复（{scope}{header}相同）"));
            }
            Entry::Vacant(slot) => {
                slot.insert(self.row.number());
            }
        }
    }
}

/// Categories separated by any of 、,，;；/／ or whitespace.
fn parse_domains(s: &str) -> Result<BTreeSet<TargetCategory>, String> {
    let mut domains = BTreeSet::new();
    let mut unknown = Vec::new();
    for part in s
        .split(|c: char| "、,，;；/／".contains(c) || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        match part.parse::<TargetCategory>() {
            Ok(c) => {
                domains.insert(c);
            }
            Err(_) => unknown.push(format!("“{part}”")),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "未知的检查对象类别：{}；应为：{}（多个类别用顿号、逗号或分号分隔）",
            unknown.join("、"),
            reason::category_list()
        ));
    }
    if domains.is_empty() {
        return Err("必填，不能为空：至少填写一个检查对象类别".to_owned());
    }
    Ok(domains)
}

fn yes_no(s: &str) -> Option<bool> {
    const YES: [&str; 5] = ["Y", "YES", "TRUE", "1", "是"];
    const NO: [&str; 5] = ["N", "NO", "FALSE", "0", "否"];
    if YES.iter().any(|y| y.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if NO.iter().any(|n| n.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// A target key as the directory stores it: a standard number (T/… or Q/…,
/// upper-cased) or a USCC.
fn target_key(s: &str) -> Result<String, String> {
    let upper = s.to_ascii_uppercase();
    let looks_standard =
        upper.starts_with("T/") || upper.starts_with("Q/") || s.contains('/') || s.contains('／');
    // A CCC certificate number is all digits; a USCC never is (its 9th
    // to 17th characters are an organisation code with letters allowed,
    // but its length is 18).
    let looks_certificate = s.trim().len() == 16 && s.trim().bytes().all(|b| b.is_ascii_digit());
    if looks_standard {
        StandardNo::parse(s)
            .map(|n| n.as_str().to_owned())
            .map_err(|e| reason::value_error(&e))
    } else if looks_certificate {
        CccCertificateNo::parse(s)
            .map(|n| n.as_str().to_owned())
            .map_err(|e| reason::value_error(&e))
    } else {
        Uscc::parse(s).map(|u| u.as_str().to_owned()).map_err(|e| {
            format!(
                "{}（检查对象代码应为统一社会信用代码、标准编号或 CCC 证书编号）",
                reason::value_error(&e)
            )
        })
    }
}

/// The known town/street offices, each validated once and cloned per row.
struct Jurisdictions<'k> {
    by_name: HashMap<&'k str, Name>,
    known: Vec<&'k str>,
}

impl<'k> Jurisdictions<'k> {
    /// Lists of known offices longer than this are not spelled out in
    /// error messages.
    const LIST_LIMIT: usize = 30;

    fn new(known: &'k BTreeSet<String>) -> Self {
        let by_name: HashMap<&str, Name> = known
            .iter()
            .filter_map(|k| Name::parse(k).ok().map(|n| (k.trim(), n)))
            .collect();
        let mut known: Vec<&str> = by_name.keys().copied().collect();
        known.sort_unstable();
        Self { by_name, known }
    }

    fn get(&self, s: &str) -> Option<&Name> {
        self.by_name.get(s)
    }

    fn unknown(&self, s: &str) -> String {
        if self.known.is_empty() {
            return format!("“{s}”不是已知的镇街：系统中尚未配置任何镇街");
        }
        let mut reason = format!("“{s}”不是已知的镇街");
        if let Some(near) = self.known.iter().find(|k| k.contains(s) || s.contains(**k)) {
            reason.push_str(&format!("，是否应为“{near}”？"));
        }
        if self.known.len() < Self::LIST_LIMIT {
            reason.push_str(&format!("；已知的镇街：{}", self.known.join("、")));
        } else {
            reason.push_str(&format!("（系统中共有 {} 个镇街）", self.known.len()));
        }
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_split_on_every_separator() {
        let d = parse_domains("计量、3C,检验检测；团体标准/企业标准 自愿性认证").unwrap();
        assert_eq!(d.len(), 5);
        let err = parse_domains("计量、食品、药品").unwrap_err();
        assert!(err.contains("“食品”、“药品”"), "{err}");
        assert!(parse_domains(" 、 ").is_err());
    }

    #[test]
    fn yes_and_no() {
        for s in ["是", "y", "Y", "true", "TRUE", "1", "yes"] {
            assert_eq!(yes_no(s), Some(true), "{s}");
        }
        for s in ["否", "n", "False", "0"] {
            assert_eq!(yes_no(s), Some(false), "{s}");
        }
        assert_eq!(yes_no("可能"), None);
    }

    #[test]
    fn target_keys() {
        assert_eq!(target_key("t/cqses 001-2023").unwrap(), "T/CQSES 001-2023");
        assert_eq!(
            target_key("91350100M000100Y43").unwrap(),
            "91350100M000100Y43"
        );
        assert!(
            target_key("91350100M000100Y44")
                .unwrap_err()
                .contains("校验位")
        );
        assert!(target_key("GB/T 1-2020").is_err());
        assert_eq!(target_key("2021010703456789").unwrap(), "2021010703456789");
        assert!(target_key("1999010703456789").unwrap_err().contains("2002"));
    }

    #[test]
    fn unknown_jurisdiction_names_the_known_ones() {
        let known: BTreeSet<String> = ["西永街道", "曾家镇"].map(String::from).into();
        let j = Jurisdictions::new(&known);
        let r = j.unknown("西永");
        assert!(r.contains("是否应为“西永街道”"), "{r}");
        assert!(r.contains("曾家镇、西永街道"), "{r}");
        let many: BTreeSet<String> = (0..40).map(|i| format!("镇{i}")).collect();
        let r = Jurisdictions::new(&many).unknown("某镇");
        assert!(r.contains("共有 40 个"), "{r}");
    }
}
