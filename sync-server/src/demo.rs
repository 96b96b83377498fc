//! Demo data: a generated directory for a high-tech zone's towns and
//! streets, drawn with the seed document's plan (46 testing bodies, 114
//! enterprises, 30 group/enterprise standards) on draw algorithm version 2:
//! enterprises by credit-risk class, voluntary-certification bodies and
//! standards as upstream lists assign them.
//!
//! The directory goes through the same CSV import as a bureau's real files,
//! so the demo also exercises the import path. Generation is deterministic
//! (a fixed generator seed), so every demo has the same directory and,
//! given the fixed public draw seed, the same draw — anyone can verify it.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use choucha_shared::directory::{RiskClass, TargetKey};
use choucha_shared::plan::{AssignedTarget, DrawPlan, Quota, Stratum};
use choucha_shared::{CivilDate, TargetCategory, Uscc};

use crate::AppState;
use crate::import::{DirectoryKind, FileFormat};
use crate::service::{self, Actor};
use crate::store::Role;

pub const PLAN_ID: &str = "GXQ-2023-ZBJR";
/// The public seed of the demo draw (digits of dice rolled at the ceremony).
pub const DRAW_SEED: &str = "41523 66214 35126 52431 16623";

/// Towns/streets (镇街) of the zone, with an approximate centre (WGS-84).
pub const TOWNS: [(&str, f64, f64); 8] = [
    ("西永街道", 29.6005, 106.3062),
    ("虎溪街道", 29.5875, 106.2945),
    ("香炉山街道", 29.5633, 106.3248),
    ("曾家镇", 29.6410, 106.2840),
    ("含谷镇", 29.5125, 106.3335),
    ("金凤镇", 29.4950, 106.2920),
    ("白市驿镇", 29.5430, 106.3610),
    ("巴福镇", 29.4720, 106.2655),
];

/// Generated directory sizes: a zone of this kind has thousands of
/// registered enterprises but a few hundred in each supervised category.
const SIZES: [(TargetCategory, usize); 7] = [
    (TargetCategory::TestingBody, 160),
    (TargetCategory::ProductionLicence, 240),
    (TargetCategory::Ccc, 210),
    (TargetCategory::VoluntaryCertification, 620),
    (TargetCategory::Metrology, 880),
    (TargetCategory::Standard, 420),
    (TargetCategory::CccProduct, 180),
];

/// SplitMix64: small, deterministic, good enough for synthetic names.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

const WORDS: [&str; 24] = [
    "渝新", "西永", "科润", "华信", "博远", "恒通", "联创", "嘉陵", "缙云", "巴渝", "中昊", "天齐",
    "瑞丰", "长江", "明德", "金鼎", "宏达", "睿智", "远航", "鼎盛", "欣荣", "正泰", "卓越", "三峡",
];

fn industry(c: TargetCategory) -> &'static [&'static str] {
    match c {
        TargetCategory::TestingBody => &[
            "检测技术有限公司",
            "检验检测有限公司",
            "计量检测研究院有限公司",
            "质量检测中心有限公司",
        ],
        TargetCategory::ProductionLicence => &[
            "电线电缆有限公司",
            "建材有限公司",
            "化工有限公司",
            "食品用纸包装有限公司",
            "危险化学品包装物有限公司",
        ],
        TargetCategory::Ccc => &[
            "电子科技有限公司",
            "电器有限公司",
            "汽车零部件有限公司",
            "照明电器有限公司",
            "电动车有限公司",
        ],
        TargetCategory::VoluntaryCertification => &[
            "智能科技有限公司",
            "精密制造有限公司",
            "软件有限公司",
            "物流有限公司",
            "生物医药有限公司",
        ],
        TargetCategory::Metrology => &[
            "加油站有限公司",
            "商贸有限公司",
            "燃气有限公司",
            "食品有限公司",
            "医院有限公司",
        ],
        TargetCategory::Standard => &["协会", "商会", "科技有限公司"],
        TargetCategory::CccProduct => &[
            "电线组件",
            "插头插座",
            "电动自行车",
            "家用电冰箱",
            "LED 灯具",
        ],
    }
}

/// The 行业代码 (GB/T 4754-2017) of a generated company, from the trade
/// its name ends in; standards have none.
fn industry_code(name: &str) -> &'static str {
    const CODES: [(&str, &str); 24] = [
        ("检测技术有限公司", "M7452"),
        ("检验检测有限公司", "M7452"),
        ("计量检测研究院有限公司", "M7453"),
        ("质量检测中心有限公司", "M7452"),
        ("电线电缆有限公司", "C3831"),
        ("建材有限公司", "C3021"),
        ("化工有限公司", "C2614"),
        ("食品用纸包装有限公司", "C2231"),
        ("危险化学品包装物有限公司", "C3333"),
        ("电子科技有限公司", "C3982"),
        ("照明电器有限公司", "C3872"),
        ("电器有限公司", "C3856"),
        ("汽车零部件有限公司", "C3670"),
        ("电动车有限公司", "C3770"),
        ("智能科技有限公司", "I6513"),
        ("精密制造有限公司", "C3484"),
        ("软件有限公司", "I6513"),
        ("物流有限公司", "G5990"),
        ("生物医药有限公司", "C2720"),
        ("加油站有限公司", "F5265"),
        ("商贸有限公司", "F5299"),
        ("燃气有限公司", "D4500"),
        ("食品有限公司", "C1499"),
        ("医院有限公司", "Q8411"),
    ];
    let trade = name.split('（').next().unwrap_or(name);
    CODES
        .iter()
        .find(|(suffix, _)| trade.ends_with(suffix))
        .map_or("", |(_, code)| code)
}

/// A valid USCC in the zone's division (500107), from the generator.
fn uscc(g: &mut Gen) -> String {
    let alphabet = Uscc::ALPHABET.as_bytes();
    let mut s = String::from("91500107MA");
    for _ in 0..7 {
        s.push(alphabet[(g.next() % 31) as usize] as char);
    }
    Uscc::with_check_char(&s)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

fn targets_csv() -> String {
    let mut g = Gen(20231229);
    // The credit-risk classes come from their own generator, so the
    // directory (names, codes, towns) is the one earlier demos had.
    let mut risk = Gen(20240101);
    let mut out = String::from(
        "检查对象类别,企业名称,统一社会信用代码,标准编号,发布单位,所属镇街,地址,经度,纬度,信用风险分类,行业代码,经营状态,证书编号,型号,持证人\n",
    );
    let mut seen = std::collections::BTreeSet::new();
    for (category, n) in SIZES {
        let mut made = 0;
        while made < n {
            let (town, lat, lon) = TOWNS[(g.next() % TOWNS.len() as u64) as usize];
            let name = format!("重庆{}{}", g.pick(&WORDS), g.pick(industry(category)));
            let name = format!("{name}（{}）", made + 1);
            let code = uscc(&mut g);
            if !seen.insert((category, code.clone())) {
                continue;
            }
            let lat = lat + (g.unit() - 0.5) * 0.02;
            let lon = lon + (g.unit() - 0.5) * 0.02;
            let address = format!(
                "重庆市高新区{town}{}路{}号",
                g.pick(&WORDS),
                g.next() % 300 + 1
            );
            if category == TargetCategory::Standard {
                let group = made % 2 == 0;
                let prefix = if group { "T/CQ" } else { "Q/CQ" };
                let number = format!(
                    "{prefix}{} {:03}-2023",
                    ["KJ", "ZL", "JC", "XH"][made % 4],
                    made + 1
                );
                let title = format!(
                    "{}{}",
                    g.pick(&["智能", "精密", "绿色", "高效", "低碳"]),
                    g.pick(&[
                        "电子元器件通用规范",
                        "工业机器人技术要求",
                        "食品包装用纸",
                        "汽车线束",
                        "数据中心能效评价"
                    ])
                );
                let _ = writeln!(
                    out,
                    "团体标准、企业标准,{title},{code},{number},{name},{town},{address},{lon:.6},{lat:.6},,,存续,,,"
                );
            } else if category == TargetCategory::CccProduct {
                // One certificate per product: the number is the year of
                // issue, a 4-digit product code and an 8-digit serial.
                let product = name
                    .split('（')
                    .next()
                    .unwrap_or(&name)
                    .trim_start_matches("重庆");
                let product = product.get(6..).unwrap_or(product).to_owned();
                let certificate = format!("2022{:04}{:08}", 101 + made % 40, 10_000 + made);
                let model = format!("CQ-{}{:03}", ["A", "B", "K", "M"][made % 4], made + 1);
                let holder = format!("重庆{}电器有限公司", WORDS[(made * 7) % WORDS.len()]);
                let _ = writeln!(
                    out,
                    "强制性产品认证产品,{product}（{}）,{code},,,{town},{address},{lon:.6},{lat:.6},,,存续,{certificate},{model},{holder}",
                    made + 1
                );
            } else {
                // About what a district's 信用风险分类 looks like: most
                // companies A or B, a few C, very few D.
                let class = match risk.next() % 100 {
                    0..=39 => "A",
                    40..=74 => "B",
                    75..=93 => "C",
                    _ => "D",
                };
                let _ = writeln!(
                    out,
                    "{},{name},{code},,,{town},{address},{lon:.6},{lat:.6},{class},{},存续,,,",
                    category.label_zh(),
                    industry_code(&name)
                );
            }
            made += 1;
        }
    }
    out
}

/// Three enforcement officers per office (24, "about 20" for a zone of this
/// size) plus one non-enforcement staff member per office.
fn officers_csv() -> String {
    let surnames = [
        "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙",
    ];
    let given = [
        "建国", "晓东", "丽娟", "志强", "海燕", "明", "静", "伟", "敏", "磊", "婷", "勇",
    ];
    let mut out = String::from("姓名,执法证号,所属单位,可检查领域,是否执法人员\n");
    let mut n = 0;
    for (t, (town, _, _)) in TOWNS.iter().enumerate() {
        for i in 0..4 {
            n += 1;
            let name = format!(
                "{}{}",
                surnames[(t * 4 + i) % 12],
                given[(t * 5 + i * 7) % 12]
            );
            let domains = "工业产品生产许可证获证企业、检验检测机构、强制性产品认证获证企业、自愿性认证获证组织、团体标准、计量有关企业、强制性产品认证产品";
            let enforcement = if i == 3 { "否" } else { "是" };
            let _ = writeln!(
                out,
                "{name},渝5001072300{n:02},{town},{domains},{enforcement}"
            );
        }
    }
    out
}

fn experts_csv() -> String {
    let mut out = String::from("专家编号,姓名,所属机构,可检查领域\n");
    let rows = [
        ("ZJ-001", "钟立新", "检验检测机构、计量有关企业"),
        (
            "ZJ-002",
            "柯文静",
            "工业产品生产许可证获证企业、强制性产品认证获证企业",
        ),
        ("ZJ-003", "万海波", "自愿性认证获证组织、团体标准、企业标准"),
        (
            "ZJ-004",
            "谭雪梅",
            "检验检测机构、工业产品生产许可证获证企业、计量有关企业",
        ),
        (
            "ZJ-005",
            "罗建华",
            "强制性产品认证获证企业、自愿性认证获证组织",
        ),
        ("ZJ-006", "秦玉兰", "团体标准、企业标准、检验检测机构"),
    ];
    for (id, name, domains) in rows {
        let _ = writeln!(
            out,
            "{id},{name},重庆某某质量技术服务有限公司（第三方技术机构）,\"{domains}\""
        );
    }
    out
}

/// Where the demo's assigned targets come from (seed §四(一)).
pub const NATIONAL_LIST: &str = "总局2023年自愿性认证从业机构抽查名单";
pub const CITY_LIST: &str = "市局2023年团体标准、企业标准抽查名单";

/// Every `step`-th target of `category` in the generated directory (by
/// file order), `n` of them: the demo's stand-in for an upstream list.
fn listed(category: TargetCategory, n: usize, step: usize) -> Vec<TargetKey> {
    let csv = targets_csv();
    let keys: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let in_category = cells[0].parse::<TargetCategory>().ok() == Some(category);
            // A standard's key is its number, anyone else's the USCC.
            let key = if category.is_standard() {
                cells[3]
            } else {
                cells[2]
            };
            in_category.then_some(key)
        })
        .collect();
    (0..n)
        .map(|i| TargetKey(keys[(i * step) % keys.len()].to_owned()))
        .collect()
}

/// The seed document's plan on draw algorithm version 2 (seed §四(一)):
/// the 46 testing bodies drawn from the directory (the 2023 monitoring
/// plan); 114 enterprises, of which the 14 voluntary-certification bodies
/// a 总局 list names and the others drawn by credit-risk class (信用风险
/// 分类: the higher the risk, the higher the ratio); the 30 group and
/// enterprise standards a 市局 list names.
pub fn plan() -> DrawPlan {
    let by_risk = |id: &str, category, ratios: [f64; 4]| {
        let quota = RiskClass::ALL.into_iter().zip(ratios).collect();
        Stratum::new(id, category, Quota::ByRisk(quota))
    };
    let assigned = |category, n, step, source: &'static str| {
        listed(category, n, step)
            .into_iter()
            .map(move |key| AssignedTarget {
                key,
                category,
                source: source.to_owned(),
            })
    };
    DrawPlan {
        format: choucha_shared::FORMAT_VERSION,
        algorithm: choucha_shared::draw_v2::ALGORITHM_VERSION,
        assigned: assigned(
            TargetCategory::VoluntaryCertification,
            14,
            43,
            NATIONAL_LIST,
        )
        .chain(assigned(TargetCategory::Standard, 30, 13, CITY_LIST))
        .collect(),
        exclude_inspected_since: None,
        plan_id: PLAN_ID.into(),
        title: "2023年度质量、标准、计量、认证认可领域“双随机、一公开”监督检查".into(),
        strata: vec![
            Stratum::new("JCJG", TargetCategory::TestingBody, Quota::Count(46)),
            by_risk("SCXK", TargetCategory::ProductionLicence, RATIOS),
            by_risk("CCC", TargetCategory::Ccc, RATIOS),
            by_risk("JL", TargetCategory::Metrology, RATIOS),
        ],
        team_size: 2,
        with_expert: true,
        officer_cap: 30,
        due: CivilDate::parse("2024-01-31").ok(),
    }
}

/// Sampling ratios per credit-risk class A, B, C, D (3 %, 5 %, 10 %,
/// 40 %), chosen so that with the generated directory the enterprises
/// drawn are the seed's 100 (114 less the 14 the 总局 list names).
const RATIOS: [f64; 4] = [0.03, 0.05, 0.1, 0.4];

/// Loads the demo directory and runs the demo draw, unless the demo plan
/// already exists (idempotent). Returns the draw ID.
pub async fn load(state: &AppState) -> anyhow::Result<String> {
    let store = &state.store;
    if store.plan(PLAN_ID).await.is_ok() {
        if let Some(d) = store.current_draw_id(PLAN_ID).await? {
            return Ok(d);
        }
        bail!(
            "demo plan {PLAN_ID} exists but has no draw; remove the data directory to start over"
        );
    }
    let towns: Vec<String> = TOWNS.iter().map(|t| t.0.to_owned()).collect();
    store.add_jurisdictions(&towns).await?;
    for (kind, name, csv) in [
        (DirectoryKind::Targets, "demo-targets.csv", targets_csv()),
        (DirectoryKind::Officers, "demo-officers.csv", officers_csv()),
        (DirectoryKind::Experts, "demo-experts.csv", experts_csv()),
    ] {
        let summary = service::directory::import_file(
            store,
            &Actor::demo(),
            kind,
            csv.as_bytes(),
            FileFormat::Csv,
            crate::store::ImportMode::AllOrNothing,
            name,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !summary.imported {
            bail!(
                "demo file {name} did not import: {:?}",
                summary.errors.first()
            );
        }
    }
    let plan = plan();
    let demo = Actor::demo();
    service::draws::create_plan(store, &demo, &plan)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    service::draws::freeze_plan(store, &demo, PLAN_ID)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The seed's deadline for the towns' reports (§五(四)).
    store
        .set_report_due(PLAN_ID, chrono::NaiveDate::from_ymd_opt(2024, 1, 31), &demo)
        .await?;
    let req = service::draws::DrawRequest {
        seed: DRAW_SEED.to_owned(),
        entered_by: "质量科（演示）".to_owned(),
        ..Default::default()
    };
    let draw = service::draws::run_draw(store, &demo, PLAN_ID, req, |c| state.checklist_for(c))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("running the demo draw")?;
    Ok(draw.draw_id)
}

/// The demo's console users: (username, role, town). Town leads get the
/// first two towns, so the demo shows one town not seeing another's records.
pub const CONSOLE_USERS: [(&str, Role, Option<&str>); 5] = [
    ("admin", Role::Admin, None),
    ("zhiliangke", Role::Supervisor, None),
    ("xiyong", Role::TownLead, Some(TOWNS[0].0)),
    ("huxi", Role::TownLead, Some(TOWNS[1].0)),
    ("shenji", Role::Auditor, None),
];

/// Creates the demo console users that do not exist yet, with generated
/// passwords; returns (username, password) of those created, to print once.
pub async fn console_users(state: &AppState) -> anyhow::Result<Vec<(String, String)>> {
    let existing: Vec<String> = state
        .store
        .console_users()
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    let mut created = Vec::new();
    for (name, role, town) in CONSOLE_USERS {
        if existing.iter().any(|e| e == name) {
            continue;
        }
        let (_, password) =
            service::users::create_user(&state.store, &Actor::demo(), name, role, town, None)
                .await
                .map_err(|e| anyhow::anyhow!("demo user {name}: {e}"))?;
        created.push((name.to_owned(), password.unwrap_or_default()));
    }
    Ok(created)
}
