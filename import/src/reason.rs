//! Chinese wording for why a cell was refused.

use choucha_shared::ValueError;
use choucha_shared::category::UnknownCategory;
use choucha_shared::{Name, TargetCategory};

/// Why a value was refused, in words for the import report.
pub(crate) fn value_error(e: &ValueError) -> String {
    match e {
        ValueError::UsccLength(n) => format!("统一社会信用代码应为 18 位，实际为 {n} 位"),
        ValueError::UsccLowercase { ch, pos } => {
            format!("第 {pos} 位是小写字母“{ch}”；统一社会信用代码只使用大写字母，请核对原始数据")
        }
        ValueError::UsccCharacter { ch, pos } => format!(
            "第 {pos} 位“{ch}”不是统一社会信用代码允许的字符（数字 0-9 和除 I、O、S、V、Z 以外的大写字母）"
        ),
        ValueError::UsccDivision(found) => {
            format!("第 3-8 位应为 6 位数字的行政区划码，实际为“{found}”")
        }
        ValueError::UsccCheckDigit { found, expected } => format!(
            "校验位（第 18 位）是“{found}”，按 GB 32100-2015 计算应为“{expected}”；代码有误"
        ),
        ValueError::CredentialEmpty => "执法证号不能为空".to_owned(),
        ValueError::CredentialFormat { value, reason } => {
            let why = match *reason {
                "must be 6 to 24 characters long" => "长度应为 6 至 24 个字符",
                "has a lowercase letter; use uppercase" => "含有小写字母，请使用大写字母",
                "must contain at least 4 digits" => "至少应含 4 位数字",
                r if r.starts_with("may hold only") => {
                    "只能由数字、大写字母、“-”以及开头的一个省份简称汉字组成"
                }
                other => other,
            };
            format!("执法证号“{value}”格式不正确：{why}")
        }
        ValueError::Latitude(v) => format!("纬度 {v} 超出 -90 至 90 的范围（WGS-84）"),
        ValueError::Longitude(v) => format!("经度 {v} 超出 -180 至 180 的范围（WGS-84）"),
        ValueError::CoordinateNotFinite => "坐标不是有效的数值".to_owned(),
        ValueError::NameEmpty => "必填，不能为空".to_owned(),
        ValueError::NameTooLong(n) => {
            format!("长度为 {n} 个字符，最多允许 {} 个", Name::MAX_CHARS)
        }
        ValueError::NameControl(pos) => {
            format!("第 {pos} 个字符是控制字符（如单元格内换行），请删除")
        }
        ValueError::StandardNo(raw) => format!(
            "标准编号“{raw}”应以 T/（团体标准）或 Q/（企业标准）开头，后接社会团体或企业代号和顺序号，如 T/CQSES 001-2023"
        ),
        ValueError::CccCertificateNo(raw) => format!(
            "CCC 证书编号“{raw}”应为 16 位数字，前 4 位为发证年份（2002 年起），如 2021010703456789"
        ),
        other => other.to_string(),
    }
}

/// Every category, for error messages.
pub(crate) fn category_list() -> String {
    TargetCategory::ALL
        .iter()
        .map(|c| c.label_zh())
        .collect::<Vec<_>>()
        .join("；")
}

pub(crate) fn unknown_category(e: &UnknownCategory) -> String {
    format!("未知的检查对象类别“{}”；应为：{}", e.0, category_list())
}
