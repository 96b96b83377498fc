//! Directory import: CSV (UTF-8, UTF-8 with BOM, GBK) and XLSX files with
//! Chinese headers, validated cell by cell. Every fixture is generated here.

use std::collections::BTreeSet;
use std::time::Instant;

use choucha_import::{
    DirectoryKind, FileFormat, ImportError, RowError, parse_assigned, parse_experts,
    parse_officers, parse_recusals, parse_targets,
};
use choucha_shared::directory::TargetIdentity;
use choucha_shared::{TargetCategory, Uscc};
use rust_xlsxwriter::Workbook;

// ---------------------------------------------------------------------------
// Fixture helpers
// ---------------------------------------------------------------------------

/// A valid USCC, different for every `n`.
fn uscc(n: u32) -> String {
    Uscc::with_check_char(&format!("91500106MA{n:07}"))
        .unwrap()
        .as_str()
        .to_owned()
}

/// `code` with its check character replaced by a wrong one.
fn wrong_check(code: &str) -> String {
    let last = code.chars().last().unwrap();
    let wrong = if last == '0' { '1' } else { '0' };
    format!("{}{wrong}", &code[..17])
}

fn known() -> BTreeSet<String> {
    ["西永街道", "曾家镇", "虎溪街道"].map(String::from).into()
}

fn csv_text(rows: &[Vec<&str>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        w.write_record(row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "fixture text must be GBK-encodable");
    bytes.into_owned()
}

fn with_bom(text: &str) -> Vec<u8> {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// An XLSX workbook with `rows` on its first sheet (starting at row 1 plus
/// `skip` blank rows). Cells of the `numeric` columns that parse as numbers
/// are stored as numbers, the way Excel stores typed-in numbers; empty cells
/// are not written at all.
fn xlsx(rows: &[Vec<&str>], numeric: &[usize], skip: u32) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + skip, c as u16);
            if cell.is_empty() {
                continue;
            }
            match cell.parse::<f64>() {
                Ok(n) if r > skip && numeric.contains(&(c as usize)) => {
                    sheet.write_number(r, c, n).unwrap();
                }
                _ => {
                    sheet.write_string(r, c, *cell).unwrap();
                }
            }
        }
    }
    workbook.save_to_buffer().unwrap()
}

fn find<'e>(errors: &'e [RowError], row: usize, column: &str) -> &'e RowError {
    errors
        .iter()
        .find(|e| e.row == row && e.column == column)
        .unwrap_or_else(|| panic!("no error at row {row} column {column}: {errors:#?}"))
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

const TARGET_HEADER: [&str; 16] = [
    "检查对象类别",
    "企业名称",
    "统一社会信用代码",
    "标准编号",
    "发布单位",
    "发布单位统一社会信用代码",
    "所属镇街",
    "地址",
    "经度",
    "纬度",
    "信用风险分类",
    "行业代码",
    "经营状态",
    "证书编号",
    "型号",
    "持证人",
];

fn good_target_rows(codes: &[String; 4]) -> Vec<Vec<&str>> {
    vec![
        TARGET_HEADER.to_vec(),
        vec![
            "计量有关企业",
            " 重庆某某计量器具有限公司 ",
            &codes[0],
            "",
            "",
            "",
            "西永街道",
            "重庆市沙坪坝区\n西永大道 1 号",
            "106.3307",
            "29.5601",
        ],
        vec![
            "检验检测机构",
            "重庆某某检测技术有限公司",
            &codes[1],
            "",
            "",
            "",
            "曾家镇",
            "",
            "",
            "",
        ],
        // A fully empty row: skipped, but it keeps its row number.
        vec!["", "", "", "", "", "", "", "", "", ""],
        vec![
            "团体标准",
            "智能门锁安全技术要求",
            "",
            "t/cqses 001-2023",
            "重庆市某某协会",
            &codes[2],
            "虎溪街道",
            "",
            "",
            "",
        ],
        vec![
            "3C",
            "重庆某某电器有限公司",
            &codes[3],
            "",
            "",
            "",
            "西永街道",
            "重庆市沙坪坝区虎溪路 8 号",
            "106.3",
            "29.6",
        ],
    ]
}

#[test]
fn good_targets_parse_alike_in_every_encoding_and_xlsx() {
    let codes = [uscc(1), uscc(2), uscc(3), uscc(4)];
    let rows = good_target_rows(&codes);
    let text = csv_text(&rows);
    let known = known();

    let utf8 = parse_targets(text.as_bytes(), FileFormat::Csv, &known).unwrap();
    let bom = parse_targets(&with_bom(&text), FileFormat::Csv, &known).unwrap();
    let gbk = parse_targets(&gbk(&text), FileFormat::Csv, &known).unwrap();
    let xlsx = parse_targets(&xlsx(&rows, &[8, 9], 0), FileFormat::Xlsx, &known).unwrap();

    assert!(utf8.is_clean(), "{:#?}", utf8.errors);
    assert_eq!(
        utf8.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [2, 3, 5, 6],
        "the blank row 4 is skipped but counted; the newline inside row 2 is not a row"
    );
    assert_eq!(bom, utf8);
    assert_eq!(gbk, utf8);
    assert_eq!(xlsx, utf8);

    let (_, metrology) = &utf8.rows[0];
    assert_eq!(metrology.category, TargetCategory::Metrology);
    assert_eq!(metrology.name.as_str(), "重庆某某计量器具有限公司");
    assert_eq!(metrology.key().as_str(), codes[0]);
    assert_eq!(metrology.jurisdiction.as_str(), "西永街道");
    let at = metrology.location.unwrap();
    assert_eq!((at.lat, at.lon), (29.5601, 106.3307));
    assert_eq!(
        metrology.address.as_deref(),
        Some("重庆市沙坪坝区\n西永大道 1 号")
    );

    let (_, testing) = &utf8.rows[1];
    assert_eq!(testing.location, None);
    assert_eq!(testing.address, None);

    let (_, standard) = &utf8.rows[2];
    assert_eq!(standard.category, TargetCategory::Standard);
    match &standard.identity {
        TargetIdentity::Standard {
            number,
            issuer,
            issuer_uscc,
        } => {
            assert_eq!(number.as_str(), "T/CQSES 001-2023");
            assert_eq!(issuer.as_str(), "重庆市某某协会");
            assert_eq!(issuer_uscc.as_ref().unwrap().as_str(), codes[2]);
        }
        other => panic!("expected a standard, got {other:?}"),
    }
    assert_eq!(utf8.rows[3].1.category, TargetCategory::Ccc);
}

#[test]
fn bad_targets_report_every_bad_cell_with_row_column_and_value() {
    let good = uscc(10);
    let bad_check = wrong_check(&uscc(11));
    let lowercase = uscc(12).replacen('M', "m", 1);
    let three_bad = wrong_check(&uscc(13));
    let (u14, u15, u16, u17) = (uscc(14), uscc(15), uscc(16), uscc(17));
    let rows = vec![
        TARGET_HEADER.to_vec(),
        // row 2: good
        vec!["计量", "甲公司", &good, "", "", "", "西永街道", "", "", ""],
        // row 3: wrong check digit
        vec![
            "计量",
            "乙公司",
            &bad_check,
            "",
            "",
            "",
            "西永街道",
            "",
            "",
            "",
        ],
        // row 4: lowercase letter
        vec![
            "计量",
            "丙公司",
            &lowercase,
            "",
            "",
            "",
            "曾家镇",
            "",
            "",
            "",
        ],
        // row 5: unknown category
        vec!["食品经营", "丁公司", &u14, "", "", "", "曾家镇", "", "", ""],
        // row 6: unknown jurisdiction
        vec!["计量", "戊公司", &u15, "", "", "", "南山街道", "", "", ""],
        // row 7: latitude 95
        vec![
            "计量",
            "己公司",
            &u16,
            "",
            "",
            "",
            "虎溪街道",
            "",
            "106.3",
            "95",
        ],
        // row 8: missing name
        vec!["计量", "", &u17, "", "", "", "虎溪街道", "", "", ""],
        // row 9: duplicate of row 2 (same category, same code)
        vec![
            "计量有关企业",
            "甲公司（重复）",
            &good,
            "",
            "",
            "",
            "西永街道",
            "",
            "",
            "",
        ],
        // row 10: three bad cells in one row
        vec![
            "计量",
            "庚公司",
            &three_bad,
            "",
            "",
            "",
            "北碚",
            "",
            "106.3",
            "95",
        ],
        // row 11: the same code in another category is not a duplicate
        vec!["3C", "甲公司", &good, "", "", "", "西永街道", "", "", ""],
    ];
    let parsed = parse_targets(csv_text(&rows).as_bytes(), FileFormat::Csv, &known()).unwrap();
    let errors = &parsed.errors;

    assert_eq!(
        parsed.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [2, 11],
        "{errors:#?}"
    );

    let e = find(errors, 3, "统一社会信用代码");
    assert_eq!(e.value, bad_check);
    assert!(e.reason.contains("校验位"), "{}", e.reason);

    let e = find(errors, 4, "统一社会信用代码");
    assert_eq!(e.value, lowercase);
    assert!(e.reason.contains("小写字母“m”"), "{}", e.reason);

    let e = find(errors, 5, "检查对象类别");
    assert_eq!(e.value, "食品经营");
    assert!(e.reason.contains("未知的检查对象类别"), "{}", e.reason);

    let e = find(errors, 6, "所属镇街");
    assert_eq!(e.value, "南山街道");
    assert!(
        e.reason.contains("曾家镇、虎溪街道、西永街道"),
        "names the known ones: {}",
        e.reason
    );

    let e = find(errors, 7, "纬度");
    assert_eq!(e.value, "95");
    assert!(e.reason.contains("纬度 95"), "{}", e.reason);

    let e = find(errors, 8, "企业名称");
    assert_eq!(e.value, "");
    assert!(e.reason.contains("必填"), "{}", e.reason);

    let e = find(errors, 9, "统一社会信用代码");
    assert_eq!(e.value, good);
    assert!(e.reason.contains("与第 2 行重复"), "{}", e.reason);

    let row10: Vec<&str> = errors
        .iter()
        .filter(|e| e.row == 10)
        .map(|e| e.column.as_str())
        .collect();
    assert_eq!(
        row10,
        ["统一社会信用代码", "所属镇街", "纬度"],
        "left to right"
    );

    assert_eq!(errors.len(), 10, "{errors:#?}");
    assert!(errors.windows(2).all(|w| w[0].row <= w[1].row));
}

#[test]
fn target_rows_need_the_identity_their_category_calls_for() {
    let (u3, u4) = (uscc(3), uscc(4));
    let rows = vec![
        TARGET_HEADER.to_vec(),
        // organisation without a code
        vec!["检验检测", "甲机构", "", "", "", "", "西永街道", "", "", ""],
        // standard without number and issuer
        vec!["企业标准", "乙标准", "", "", "", "", "西永街道", "", "", ""],
        // bad standard number, only one coordinate, non-numeric longitude
        vec![
            "团体标准",
            "丙标准",
            "",
            "GB 2760-2014",
            "某协会",
            "",
            "曾家镇",
            "",
            "",
            "29.5",
        ],
        vec![
            "计量",
            "丁公司",
            &u3,
            "",
            "",
            "",
            "曾家镇",
            "",
            "东经106度",
            "29.5",
        ],
        // swapped coordinates get a hint
        vec![
            "计量",
            "戊公司",
            &u4,
            "",
            "",
            "",
            "曾家镇",
            "",
            "29.5",
            "106.3",
        ],
    ];
    let parsed = parse_targets(csv_text(&rows).as_bytes(), FileFormat::Csv, &known()).unwrap();
    let errors = &parsed.errors;
    assert!(parsed.rows.is_empty());
    assert!(find(errors, 2, "统一社会信用代码").reason.contains("必填"));
    assert!(find(errors, 3, "标准编号").reason.contains("标准编号"));
    assert!(find(errors, 3, "发布单位").reason.contains("发布单位"));
    assert!(find(errors, 4, "标准编号").reason.contains("T/"));
    assert!(find(errors, 4, "经度").reason.contains("同时填写"));
    assert!(find(errors, 5, "经度").reason.contains("不是数字"));
    assert!(find(errors, 6, "纬度").reason.contains("填反"));
    assert_eq!(errors.len(), 7, "{errors:#?}");

    // A file of standards only may leave out the code column altogether.
    let text = "检查对象类别,标准名称,标准编号,发布单位,所属镇街\n\
                团体标准,某标准,T/ABC 001-2024,某协会,西永街道\n";
    let parsed = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(parsed.is_clean(), "{:#?}", parsed.errors);
    // ...but then an organisation row says the column is missing.
    let text = "检查对象类别,名称,标准编号,发布单位,所属镇街\n计量,某公司,,,西永街道\n";
    let parsed = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(
        find(&parsed.errors, 2, "统一社会信用代码")
            .reason
            .contains("文件没有“统一社会信用代码”列")
    );
}

#[test]
fn headers_are_trimmed_and_aliases_accepted() {
    let text = format!(
        " *检查对象类别 \t,单位名称,统一社会\n信用代码（必填）,所属镇街,序号\n计量,某公司,{},曾家镇,1\n",
        uscc(5)
    )
    .replace("\t,", ",");
    // The wrapped header cell needs quoting to stay one cell.
    let text = text.replace(
        "统一社会\n信用代码（必填）",
        "\"统一社会\n信用代码（必填）\"",
    );
    let parsed = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(parsed.is_clean(), "{:#?}", parsed.errors);
    assert_eq!(parsed.rows[0].0, 2);

    // Tab-separated text works too.
    let tsv = format!(
        "检查对象类别\t企业名称\t统一社会信用代码\t所属镇街\n计量\t某公司\t{}\t曾家镇\n",
        uscc(5)
    );
    let parsed = parse_targets(tsv.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert_eq!(parsed.rows.len(), 1, "{:#?}", parsed.errors);
}

#[test]
fn csv_blank_lines_and_crlf_keep_spreadsheet_row_numbers() {
    let text = format!(
        "\r\n检查对象类别,企业名称,统一社会信用代码,所属镇街\r\n\r\n计量,\"甲\r\n公司\",{},曾家镇\r\n\r\n\r\n计量,乙公司,{},曾家镇\r\n计量,丙公司,{},曾家镇",
        uscc(1),
        uscc(2),
        wrong_check(&uscc(3))
    );
    let parsed = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    // Header on row 2; the quoted line break stays inside row 4.
    assert_eq!(find(&parsed.errors, 4, "企业名称").value, "甲\r\n公司");
    assert_eq!(parsed.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [7]);
    assert_eq!(find(&parsed.errors, 8, "统一社会信用代码").row, 8);
}

#[test]
fn xlsx_rows_keep_the_numbers_the_spreadsheet_shows() {
    let codes = [uscc(1), uscc(2), uscc(3), uscc(4)];
    let rows = good_target_rows(&codes);
    // Header on row 3 after two empty rows.
    let parsed = parse_targets(&xlsx(&rows, &[8, 9], 2), FileFormat::Xlsx, &known()).unwrap();
    assert_eq!(
        parsed.rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [4, 5, 7, 8]
    );
}

// ---------------------------------------------------------------------------
// Whole-file errors
// ---------------------------------------------------------------------------

#[test]
fn missing_header_columns_are_all_listed() {
    let text = "企业名称,地址\n某公司,某地\n";
    let err = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap_err();
    match &err {
        ImportError::MissingColumns {
            missing,
            expected,
            found,
            header_row,
        } => {
            assert_eq!(
                missing,
                &["检查对象类别", "所属镇街", "统一社会信用代码 或 标准编号"]
            );
            assert_eq!(expected.len(), 16);
            assert!(expected.iter().any(|c| c == "纬度"));
            assert_eq!(found, &["企业名称", "地址"]);
            assert_eq!(*header_row, 1);
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.starts_with("缺少必填列：检查对象类别、所属镇街"),
        "{message}"
    );
    assert!(message.contains("missing required column"), "{message}");

    let err = parse_officers("姓名\n张三\n".as_bytes(), FileFormat::Csv, &known()).unwrap_err();
    let ImportError::MissingColumns { missing, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(missing, ["执法证号", "所属单位", "可检查领域"]);

    let err = parse_recusals(
        &xlsx(&[vec!["人员编号"], vec!["1"]], &[], 0),
        FileFormat::Xlsx,
    )
    .unwrap_err();
    let ImportError::MissingColumns { missing, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(missing, ["检查对象代码", "回避原因"]);
}

#[test]
fn duplicate_header_is_refused() {
    let text = format!(
        "检查对象类别,企业名称,统一社会信用代码,所属镇街,名称\n计量,甲,{},曾家镇,乙\n",
        uscc(1)
    );
    let err = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap_err();
    assert_eq!(
        err,
        ImportError::DuplicateColumn {
            column: "企业名称".into(),
            first: "B".into(),
            first_header: "企业名称".into(),
            second: "E".into(),
            second_header: "名称".into(),
        }
    );
    assert!(err.to_string().contains("表头重复"));
}

#[test]
fn empty_files_are_refused() {
    let k = known();
    for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\n\n  \r\n", b",,,\n,,\n"] {
        assert_eq!(
            parse_targets(bytes, FileFormat::Csv, &k).unwrap_err(),
            ImportError::Empty,
            "{bytes:?}"
        );
    }
    let empty_workbook = Workbook::new().save_to_buffer().unwrap();
    assert_eq!(
        parse_experts(&empty_workbook, FileFormat::Xlsx).unwrap_err(),
        ImportError::Empty
    );
    assert_eq!(
        parse_experts(b"", FileFormat::Xlsx).unwrap_err(),
        ImportError::Empty
    );
    let header_only = "专家编号,姓名,所属机构,可检查领域\n,,,\n";
    let err = parse_experts(header_only.as_bytes(), FileFormat::Csv).unwrap_err();
    assert_eq!(err, ImportError::NoDataRows { header_row: 1 });
    assert!(err.to_string().contains("没有数据行"));
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let err = parse_targets(&garbage, FileFormat::Xlsx, &known()).unwrap_err();
    assert!(matches!(err, ImportError::NotXlsx(_)), "{err:?}");
    assert!(err.to_string().contains("不是有效的 XLSX 文件"), "{err}");

    let legacy_xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
    let err = parse_officers(&legacy_xls, FileFormat::Xlsx, &known()).unwrap_err();
    assert!(err.to_string().contains(".xls"), "{err}");

    // Neither UTF-8 nor GB18030: 0xFF is never valid in either.
    let err = parse_targets(b"\xC0\xFF\xFF\n", FileFormat::Csv, &known()).unwrap_err();
    assert_eq!(err, ImportError::Undecodable { line: 1 });

    // An XLSX workbook uploaded as CSV.
    let book = xlsx(&[vec!["姓名"]], &[], 0);
    assert_eq!(
        parse_experts(&book, FileFormat::Csv).unwrap_err(),
        ImportError::XlsxAsCsv
    );
    assert_eq!(
        parse_experts(b"\xFF\xFEa\0b\0", FileFormat::Csv).unwrap_err(),
        ImportError::Utf16
    );
}

#[test]
fn file_format_from_name() {
    assert_eq!(
        FileFormat::from_file_name("检查对象.CSV"),
        Some(FileFormat::Csv)
    );
    assert_eq!(
        FileFormat::from_file_name("名录.xlsx"),
        Some(FileFormat::Xlsx)
    );
    assert_eq!(
        FileFormat::from_file_name("名录.XlSx"),
        Some(FileFormat::Xlsx)
    );
    assert_eq!(FileFormat::from_file_name("名录.xls"), None);
    assert_eq!(FileFormat::from_file_name("名录"), None);
}

// ---------------------------------------------------------------------------
// Officers
// ---------------------------------------------------------------------------

const OFFICER_HEADER: [&str; 5] = ["执法证号", "姓名", "所属单位", "可检查领域", "是否执法人员"];

#[test]
fn officers_in_gbk_and_xlsx_alike() {
    let rows = vec![
        OFFICER_HEADER.to_vec(),
        vec!["渝50010023001", "张三", "西永街道", "计量、3C", "是"],
        // typed as a number in Excel
        vec![
            "50010023002",
            "李四",
            "曾家镇",
            "检验检测；工业产品生产许可证获证企业",
            "否",
        ],
        vec![
            "CQ-GX-0012",
            "王五",
            "虎溪街道",
            "计量 团体标准, 自愿性认证",
            "Y",
        ],
    ];
    let text = csv_text(&rows);
    let from_gbk = parse_officers(&gbk(&text), FileFormat::Csv, &known()).unwrap();
    let from_xlsx = parse_officers(&xlsx(&rows, &[0], 0), FileFormat::Xlsx, &known()).unwrap();
    assert!(from_gbk.is_clean(), "{:#?}", from_gbk.errors);
    assert_eq!(from_xlsx, from_gbk);

    let officers: Vec<_> = from_gbk.rows.iter().map(|(_, o)| o).collect();
    assert_eq!(officers[0].credential_no.as_str(), "渝50010023001");
    assert_eq!(
        officers[0].domains,
        [TargetCategory::Metrology, TargetCategory::Ccc].into()
    );
    assert!(officers[0].enforcement);
    assert_eq!(officers[1].credential_no.as_str(), "50010023002");
    assert!(!officers[1].enforcement);
    assert_eq!(officers[2].domains.len(), 3);
    assert_eq!(officers[2].unit.as_str(), "虎溪街道");
}

#[test]
fn officer_enforcement_defaults_to_yes_without_the_column() {
    let text = "姓名,执法证号,所属单位,可检查领域\n张三,50010023001,西永街道,计量\n";
    let parsed = parse_officers(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(parsed.rows[0].1.enforcement);
}

#[test]
fn bad_officers_report_every_cell() {
    let rows = vec![
        OFFICER_HEADER.to_vec(),
        vec!["cq-gx-0012", "张三", "西永街道", "计量", "是"],
        vec!["50010023002", "李四", "南山街道", "计量、食品", "也许"],
        vec!["50010023003", "", "曾家镇", "", ""],
        vec!["50010023002", "赵六", "曾家镇", "3C", "否"],
    ];
    let parsed = parse_officers(csv_text(&rows).as_bytes(), FileFormat::Csv, &known()).unwrap();
    let errors = &parsed.errors;
    assert!(parsed.rows.is_empty());
    assert!(find(errors, 2, "执法证号").reason.contains("小写"));
    assert!(find(errors, 3, "所属单位").reason.contains("南山街道"));
    assert!(find(errors, 3, "可检查领域").reason.contains("“食品”"));
    assert_eq!(find(errors, 3, "是否执法人员").value, "也许");
    assert!(find(errors, 4, "姓名").reason.contains("必填"));
    assert!(find(errors, 4, "可检查领域").reason.contains("必填"));
    assert!(find(errors, 4, "是否执法人员").reason.contains("是 或 否"));
    assert!(find(errors, 5, "执法证号").reason.contains("与第 3 行重复"));
    assert_eq!(errors.len(), 8, "{errors:#?}");
}

// ---------------------------------------------------------------------------
// Experts
// ---------------------------------------------------------------------------

#[test]
fn experts_parse_and_duplicates_are_reported() {
    let rows = vec![
        vec!["专家编号", "姓名", "所属机构", "可检查领域"],
        vec!["1001", "陈专家", "重庆某某检测研究院", "检验检测、计量"],
        vec!["ZJ-002", "刘专家", "重庆某某认证中心", "自愿性认证"],
    ];
    let text = csv_text(&rows);
    let csv = parse_experts(text.as_bytes(), FileFormat::Csv).unwrap();
    let book = parse_experts(&xlsx(&rows, &[0], 0), FileFormat::Xlsx).unwrap();
    assert!(csv.is_clean(), "{:#?}", csv.errors);
    assert_eq!(book, csv);
    assert_eq!(csv.rows[0].1.expert_id, "1001");
    assert_eq!(csv.rows[0].1.organisation.as_str(), "重庆某某检测研究院");
    assert_eq!(
        csv.rows[1].1.domains,
        [TargetCategory::VoluntaryCertification].into()
    );

    let bad = "专家编号,姓名,所属机构,可检查领域\n\
               1001,陈专家,某研究院,计量\n\
               1001,陈专家,某研究院,计量\n\
               ,王专家,,美容美发\n";
    let parsed = parse_experts(bad.as_bytes(), FileFormat::Csv).unwrap();
    let errors = &parsed.errors;
    assert_eq!(parsed.rows.len(), 1);
    assert!(find(errors, 3, "专家编号").reason.contains("与第 2 行重复"));
    assert!(find(errors, 4, "专家编号").reason.contains("必填"));
    assert!(find(errors, 4, "所属机构").reason.contains("必填"));
    assert!(find(errors, 4, "可检查领域").reason.contains("美容美发"));
    assert_eq!(errors.len(), 4, "{errors:#?}");
}

// ---------------------------------------------------------------------------
// Recusals
// ---------------------------------------------------------------------------

#[test]
fn recusals_parse_with_aliases_and_report_problems() {
    let code = uscc(1);
    let bad_code = wrong_check(&uscc(2));
    let rows = vec![
        vec!["执法证号", "统一社会信用代码", "回避原因"],
        vec!["渝50010023001", &code, "配偶在该企业任职"],
        vec!["1001", "t/cqses 001-2023", "曾参与该标准起草"],
        vec!["渝50010023001", &code, "重复登记"],
        vec!["50010023002", &bad_code, ""],
    ];
    let text = csv_text(&rows);
    let parsed = parse_recusals(text.as_bytes(), FileFormat::Csv).unwrap();
    let book = parse_recusals(&xlsx(&rows, &[0], 0), FileFormat::Xlsx).unwrap();
    assert_eq!(book, parsed);

    assert_eq!(parsed.rows.len(), 2);
    assert_eq!(parsed.rows[0].1.person, "渝50010023001");
    assert_eq!(parsed.rows[0].1.target_key, code);
    assert_eq!(parsed.rows[1].1.person, "1001");
    assert_eq!(parsed.rows[1].1.target_key, "T/CQSES 001-2023");
    assert_eq!(parsed.rows[1].1.reason, "曾参与该标准起草");

    let errors = &parsed.errors;
    assert!(
        find(errors, 4, "统一社会信用代码")
            .reason
            .contains("与第 2 行重复")
    );
    assert!(
        find(errors, 5, "统一社会信用代码")
            .reason
            .contains("校验位")
    );
    assert!(find(errors, 5, "回避原因").reason.contains("必填"));
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn every_kind_documents_its_columns() {
    let names = |k: DirectoryKind| k.columns().iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(DirectoryKind::Targets), TARGET_HEADER);
    assert_eq!(names(DirectoryKind::Officers), OFFICER_HEADER);
    assert_eq!(names(DirectoryKind::Experts).len(), 4);
    assert_eq!(names(DirectoryKind::Recusals).len(), 3);
}

// ---------------------------------------------------------------------------
// Throughput (run with --release --ignored --nocapture; prints, asserts no time)
// ---------------------------------------------------------------------------

#[test]
#[ignore = "throughput measurement; run in release mode"]
fn million_row_targets_throughput() {
    const N: u32 = 1_000_000;
    let places = ["西永街道", "曾家镇", "虎溪街道"];
    let mut text = TARGET_HEADER.join(",");
    text.push('\n');
    for i in 0..N {
        let code = uscc(i);
        let place = places[i as usize % places.len()];
        text.push_str(&format!(
            "计量有关企业,重庆某某计量器具有限公司{i},{code},,,,{place},重庆市沙坪坝区西永大道{i}号,106.{:04},29.{:04}\n",
            i % 10_000,
            (i * 7) % 10_000
        ));
    }
    let gbk_bytes = gbk(&text);
    for (label, bytes) in [("UTF-8", text.as_bytes()), ("GBK", &gbk_bytes[..])] {
        let start = Instant::now();
        let parsed = parse_targets(bytes, FileFormat::Csv, &known()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(parsed.rows.len(), N as usize, "{:?}", parsed.errors.first());
        println!(
            "{label}: {N} rows, {:.1} MB in {secs:.2} s = {:.0} rows/s",
            bytes.len() as f64 / 1e6,
            f64::from(N) / secs
        );
    }
}

// ---------------------------------------------------------------------------
// docs/import.md
// ---------------------------------------------------------------------------

/// The example files in docs/import.md parse without a single problem.
#[test]
fn documented_examples_parse_cleanly() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/import.md")).unwrap();
    let example = |kind: &str| -> String {
        let fence = format!("```csv {kind}\n");
        let start = doc
            .find(&fence)
            .unwrap_or_else(|| panic!("no {kind} example"))
            + fence.len();
        let len = doc[start..].find("```").unwrap();
        doc[start..start + len].to_owned()
    };
    let targets = parse_targets(example("targets").as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(targets.is_clean(), "{:#?}", targets.errors);
    assert_eq!(targets.rows.len(), 4);
    let officers =
        parse_officers(example("officers").as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert!(officers.is_clean(), "{:#?}", officers.errors);
    assert_eq!(officers.rows.len(), 3);
    let experts = parse_experts(example("experts").as_bytes(), FileFormat::Csv).unwrap();
    assert!(experts.is_clean(), "{:#?}", experts.errors);
    assert_eq!(experts.rows.len(), 2);
    let recusals = parse_recusals(example("recusals").as_bytes(), FileFormat::Csv).unwrap();
    assert!(recusals.is_clean(), "{:#?}", recusals.errors);
    assert_eq!(recusals.rows.len(), 2);

    // Every documented column name is one the parser knows.
    for kind in [
        DirectoryKind::Targets,
        DirectoryKind::Officers,
        DirectoryKind::Experts,
        DirectoryKind::Recusals,
    ] {
        for column in kind.columns() {
            assert!(
                doc.contains(&format!("| {} |", column.name)),
                "{}",
                column.name
            );
        }
    }
}

#[test]
fn credit_registration_and_licence_columns_are_read_and_checked() {
    use choucha_shared::directory::{BusinessStatus, RiskClass};
    let (a, b, c, d) = (uscc(11), uscc(12), uscc(13), uscc(14));
    let rows = vec![
        vec![
            "检查对象类别",
            "企业名称",
            "统一社会信用代码",
            "所属镇街",
            "信用风险分类",
            "行业代码",
            "经营状态",
            "生产许可证编号",
        ],
        vec![
            "计量",
            "重庆甲计量器具有限公司",
            a.as_str(),
            "西永街道",
            "B",
            "C4010",
            "存续",
            "XK21-008-00123",
        ],
        vec![
            "计量",
            "重庆乙计量器具有限公司",
            b.as_str(),
            "西永街道",
            "",
            "",
            "",
            "",
        ],
        vec![
            "计量",
            "重庆丙计量器具有限公司",
            c.as_str(),
            "曾家镇",
            "D类",
            "C40",
            "吊销，未注销",
            "",
        ],
        vec![
            "计量",
            "重庆丁计量器具有限公司",
            d.as_str(),
            "曾家镇",
            "b",
            "40C1",
            "歇业",
            "第一行\n第二行",
        ],
    ];
    let parsed = parse_targets(csv_text(&rows).as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert_eq!(parsed.rows.len(), 3, "{:?}", parsed.errors);
    let first = &parsed.rows[0].1.profile;
    assert_eq!(first.risk, Some(RiskClass::B));
    assert_eq!(first.industry.as_ref().map(|i| i.as_str()), Some("C4010"));
    assert_eq!(first.status, BusinessStatus::Active);
    assert_eq!(first.licence_no.as_deref(), Some("XK21-008-00123"));
    // Empty cells: unknown class, 存续.
    let second = &parsed.rows[1].1.profile;
    assert_eq!((second.risk, second.status), (None, BusinessStatus::Active));
    let third = &parsed.rows[2].1.profile;
    assert_eq!(
        (third.risk, third.status),
        (Some(RiskClass::D), BusinessStatus::Revoked)
    );
    // The fourth row: every bad cell, with its row, column, value and reason.
    assert_eq!(parsed.errors.len(), 4, "{:?}", parsed.errors);
    assert!(
        find(&parsed.errors, 5, "信用风险分类")
            .reason
            .contains("A、B、C、D")
    );
    assert!(
        find(&parsed.errors, 5, "行业代码")
            .reason
            .contains("GB/T 4754")
    );
    assert!(find(&parsed.errors, 5, "经营状态").reason.contains("存续"));
    let licence = find(&parsed.errors, 5, "生产许可证编号");
    assert_eq!(licence.value, "第一行\n第二行");
}

#[test]
fn ccc_products_are_keyed_by_their_certificate() {
    let holder = Uscc::with_check_char("91500107MA5U0A1B2")
        .unwrap()
        .to_string();
    let text = format!(
        "检查对象类别,产品名称,统一社会信用代码,所属镇街,证书编号,型号,持证人\n\
         强制性产品认证产品,家用电冰箱,{holder},西永街道,2021010703456789,BCD-215TMPK,重庆某某电器有限公司\n\
         CCC产品,插头插座,{holder},西永街道,2021010703456789,10A 250V,重庆某某电器有限公司\n\
         3C产品,电线组件,{holder},西永街道,1999010703456789,,\n"
    );
    let parsed = parse_targets(text.as_bytes(), FileFormat::Csv, &known()).unwrap();
    assert_eq!(parsed.rows.len(), 1, "{:#?}", parsed.errors);
    let t = &parsed.rows[0].1;
    assert_eq!(t.category, TargetCategory::CccProduct);
    assert_eq!(t.key().as_str(), "2021010703456789");
    match &t.identity {
        TargetIdentity::Product {
            model,
            holder: h,
            holder_uscc,
            ..
        } => {
            assert_eq!(model, "BCD-215TMPK");
            assert_eq!(h.as_str(), "重庆某某电器有限公司");
            assert_eq!(holder_uscc.as_str(), holder);
        }
        other => panic!("{other:?}"),
    }
    let errors = &parsed.errors;
    assert!(
        find(errors, 3, "证书编号").reason.contains("重复"),
        "{errors:#?}"
    );
    assert!(
        find(errors, 4, "证书编号").reason.contains("2002"),
        "{errors:#?}"
    );
    assert!(
        find(errors, 4, "型号").reason.contains("型号"),
        "{errors:#?}"
    );
    assert!(
        find(errors, 4, "持证人").reason.contains("持证人"),
        "{errors:#?}"
    );
}

#[test]
fn assigned_lists_parse_alike_in_csv_and_xlsx_and_report_every_bad_row() {
    let (a, b) = (uscc(11), uscc(12));
    let rows = vec![
        vec!["统一社会信用代码", "类别", "名单来源"],
        vec![
            a.as_str(),
            "自愿性认证",
            "总局2023年自愿性认证从业机构抽查名单",
        ],
        vec![b.as_str(), "自愿性认证获证组织", ""],
        vec!["t/cqses 001-2023", "团体标准", "市局名单"],
        vec![a.as_str(), "自愿性认证获证组织", "又一份名单"],
        vec!["91500107MA0000000X", "检测", ""],
    ];
    let text = csv_text(&rows);
    let with_default =
        parse_assigned(text.as_bytes(), FileFormat::Csv, Some(" 市局补充名单 ")).unwrap();
    let book =
        parse_assigned(&xlsx(&rows, &[], 0), FileFormat::Xlsx, Some("市局补充名单")).unwrap();
    assert_eq!(book, with_default);
    let good: Vec<(usize, &str, &str)> = with_default
        .rows
        .iter()
        .map(|(n, r)| (*n, r.key.as_str(), r.source.as_str()))
        .collect();
    assert_eq!(
        good,
        vec![
            (2, a.as_str(), "总局2023年自愿性认证从业机构抽查名单"),
            (3, b.as_str(), "市局补充名单"),
            (4, "T/CQSES 001-2023", "市局名单"),
        ]
    );
    let errors = &with_default.errors;
    // Errors name the columns as the file's header has them.
    assert!(
        find(errors, 5, "统一社会信用代码")
            .reason
            .contains("与第 2 行重复"),
        "{errors:#?}"
    );
    assert!(
        find(errors, 6, "统一社会信用代码")
            .reason
            .contains("校验位"),
        "{errors:#?}"
    );
    assert!(
        find(errors, 6, "类别").reason.contains("检测"),
        "{errors:#?}"
    );
    assert_eq!(errors.len(), 3, "{errors:#?}");

    // Without a source for the whole file, a row without 来源 is refused.
    let bare = parse_assigned(text.as_bytes(), FileFormat::Csv, None).unwrap();
    assert!(
        find(&bare.errors, 3, "名单来源").reason.contains("来源"),
        "{:#?}",
        bare.errors
    );
}

/// A workbook that unpacks to far more than any directory needs (a small
/// file of zeros that deflate squeezes 1000-fold) is refused from the zip's
/// own table of contents, before anything is unpacked.
#[test]
fn a_zip_bomb_is_refused_before_it_unpacks() {
    use std::io::{Read, Write};
    let real = xlsx(
        &[
            vec!["专家编号", "姓名", "所属机构", "可检查领域"],
            vec!["E1", "王五", "重庆大学", "计量"],
        ],
        &[],
        0,
    );
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(real)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for i in 0..src.len() {
        let mut entry = src.by_index(i).unwrap();
        let name = entry.name().to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(name, deflate).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.start_file("xl/media/padding.bin", deflate).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        out.write_all(&zeros).unwrap();
    }
    let bomb = out.finish().unwrap().into_inner();
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let err = parse_experts(&bomb, FileFormat::Xlsx).unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::XlsxTooLarge {
                unpacked_mib: 300..,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("解压后过大"), "{err}");
}

/// A sheet with one cell in its last row and column: nothing is sized by
/// the sheet's extent; the far cell is named.
#[test]
fn a_cell_far_beyond_the_table_is_named_not_allocated() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let rows = [
        ["专家编号", "姓名", "所属机构", "可检查领域"],
        ["E1", "王五", "重庆大学", "计量"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *cell).unwrap();
        }
    }
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let err = parse_experts(&bytes, FileFormat::Xlsx).unwrap_err();
    assert_eq!(
        err,
        ImportError::TooManyColumns {
            row: 1_048_576,
            column: 16_384,
            max: 1_000
        }
    );
    assert!(
        err.to_string().contains("第 1048576 行第 16384 列"),
        "{err}"
    );
}
