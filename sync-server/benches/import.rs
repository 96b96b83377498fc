//! Benchmark: import of 1 million target rows (检查对象名录, CSV) into SQLite.
//!
//! Issue target: at least 50,000 rows/s. This binary prints its figures and
//! checks the import outcomes (row counts), never timings.
//!
//! ```sh
//! cargo bench -p choucha-sync-server --bench import
//! CHOUCHA_BENCH_ROWS=100000 cargo bench -p choucha-sync-server --bench import   # smaller run
//! ```
//!
//! Phases, each on the same fresh SQLite store in a temporary data directory:
//!
//! 1. generate a realistic UTF-8 CSV in memory (Chinese header, valid USCCs,
//!    unique names, 10 towns, the five organisation categories);
//! 2. first import: parse + store (all rows inserted);
//! 3. re-import of the same file (all rows unchanged);
//! 4. re-import with every 10th row changed (updates with history);
//! 5. parse speed of the same file encoded as GBK.
//!
//! Results are recorded in `docs/benchmarks.md`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use choucha_shared::Uscc;
use choucha_shared::directory::Target;
use choucha_sync_server::import::{FileFormat, Parsed, parse_targets};
use choucha_sync_server::store::{DirectoryTable, ImportSummary, Store};

const DEFAULT_ROWS: usize = 1_000_000;

/// The town/street offices (镇街) of the benchmark district.
const TOWNS: [&str; 10] = [
    "西永街道",
    "曾家镇",
    "虎溪街道",
    "井口街道",
    "歌乐山街道",
    "山洞街道",
    "新桥街道",
    "天星桥街道",
    "土湾街道",
    "回龙坝镇",
];

/// Category cells as offices write them (full labels mostly, a few short
/// forms), with a weight out of 100. The five organisation categories only:
/// standards have no USCC and a different key.
const CATEGORIES: [(&str, u64); 7] = [
    ("计量有关企业", 28),
    ("计量", 4),
    ("强制性产品认证获证企业", 20),
    ("3C", 3),
    ("工业产品生产许可证获证企业", 20),
    ("检验检测机构", 10),
    ("自愿性认证获证组织", 15),
];

/// Characters of trade names (字号); two of them make one.
const TRADE_CHARS: &str = "华兴盛达鑫源通宏恒泰隆昌瑞祥福康安嘉信诚德利永佳金宝丰富强新星光明天海山川江渝巴蜀峰林森博锦程远航宇辰创智维力众合和友联正中科精准捷迅优美凯越腾飞龙凤鹏辉耀晨阳春秋泉润雅方圆立成荣旺顺鼎铭骏豪翔益佰汇鸿源";

const INDUSTRIES: [&str; 20] = [
    "计量器具",
    "检测技术",
    "电器",
    "机械制造",
    "电子科技",
    "建材",
    "化工",
    "食品机械",
    "汽车零部件",
    "仪器仪表",
    "线缆",
    "五金",
    "塑胶",
    "照明",
    "家具",
    "包装",
    "环保科技",
    "医疗器械",
    "新材料",
    "认证服务",
];

const SUFFIXES: [&str; 5] = [
    "有限公司",
    "有限责任公司",
    "股份有限公司",
    "实业有限公司",
    "科技有限公司",
];

const PLACES: [&str; 2] = ["重庆", "重庆市沙坪坝区"];

const ROADS: [&str; 12] = [
    "西永大道",
    "虎溪路",
    "大学城南路",
    "曾家大道",
    "井口工业园路",
    "歌乐山正街",
    "山洞路",
    "新桥正街",
    "天星桥正街",
    "土湾路",
    "回龙坝大道",
    "西园一路",
];

/// Registration-office divisions (行政区划码) seen in a Chongqing district.
const DIVISIONS: [&str; 5] = ["500106", "500107", "500112", "500000", "500103"];

const HEADER: [&str; 7] = [
    "检查对象类别",
    "企业名称",
    "统一社会信用代码",
    "所属镇街",
    "地址",
    "经度",
    "纬度",
];

/// A cheap deterministic mix of `n` (splitmix64 finaliser).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Generator {
    trade: Vec<char>,
    name_capacity: u64,
}

impl Generator {
    fn new() -> Self {
        let trade: Vec<char> = TRADE_CHARS.chars().collect();
        let distinct: BTreeSet<char> = trade.iter().copied().collect();
        let trade: Vec<char> = distinct.into_iter().collect();
        let t = trade.len() as u64;
        let name_capacity = t * t * (INDUSTRIES.len() * SUFFIXES.len() * PLACES.len()) as u64;
        Self {
            trade,
            name_capacity,
        }
    }

    /// A company name, unique for every `n` (a bijective scramble of `n`
    /// decomposed in mixed radix; a branch suffix past the capacity).
    fn name(&self, n: u64, out: &mut String) {
        out.clear();
        // 1_000_003 is prime and larger than any factor of the capacity.
        let mut m = (n % self.name_capacity + 1) * 1_000_003 % self.name_capacity;
        let t = self.trade.len() as u64;
        let mut digit = |radix: u64| {
            let d = m % radix;
            m /= radix;
            d as usize
        };
        let place = PLACES[digit(PLACES.len() as u64)];
        let a = self.trade[digit(t)];
        let b = self.trade[digit(t)];
        let industry = INDUSTRIES[digit(INDUSTRIES.len() as u64)];
        let suffix = SUFFIXES[digit(SUFFIXES.len() as u64)];
        let _ = write!(out, "{place}{a}{b}{industry}{suffix}");
        if n >= self.name_capacity {
            let _ = write!(out, "第{}分公司", n / self.name_capacity);
        }
    }
}

/// A valid USCC, unique for every `n` < 31^7: the last 7 characters of the
/// organisation code are a scramble of `n` in the code alphabet.
fn uscc(n: u64, h: u64) -> Uscc {
    const SPACE: u64 = 31u64.pow(7);
    let alphabet = Uscc::ALPHABET.as_bytes();
    let kind = [b'1', b'1', b'1', b'2', b'3'][(h % 5) as usize] as char;
    let division = DIVISIONS[((h >> 8) % DIVISIONS.len() as u64) as usize];
    let mut s = String::with_capacity(18);
    s.push('9');
    s.push(kind);
    s.push_str(division);
    s.push_str("MA");
    // 2_654_435_761 is not a multiple of 31, so this is a bijection.
    let mut m = (n % SPACE + 1) * 2_654_435_761 % SPACE;
    for _ in 0..7 {
        s.push(alphabet[(m % 31) as usize] as char);
        m /= 31;
    }
    Uscc::with_check_char(&s).expect("generated USCC is valid")
}

/// The targets CSV (UTF-8, no BOM). With `changed_every = Some(k)`, every
/// k-th row has another address and location (as if the company moved).
fn generate(rows: usize, changed_every: Option<usize>) -> String {
    let gen_ = Generator::new();
    let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(rows * 170));
    w.write_record(HEADER).unwrap();
    let (mut name, mut address, mut lon, mut lat) =
        (String::new(), String::new(), String::new(), String::new());
    for i in 0..rows {
        let n = i as u64;
        let h = mix(n);
        let changed = changed_every.is_some_and(|k| i % k == 0);

        let mut pick = h % 100;
        let category = CATEGORIES
            .iter()
            .find(|(_, weight)| {
                let hit = pick < *weight;
                pick = pick.saturating_sub(*weight);
                hit
            })
            .map_or(CATEGORIES[0].0, |(c, _)| c);
        gen_.name(n, &mut name);
        let code = uscc(n, h >> 7);
        let town_no = ((h >> 16) % TOWNS.len() as u64) as usize;
        let town = TOWNS[town_no];

        address.clear();
        let road = ROADS[((h >> 24) as usize + usize::from(changed)) % ROADS.len()];
        let number = (h >> 32) % 800 + 1 + u64::from(changed) * 1000;
        match (h >> 40) % 50 {
            0..=4 => {}
            5..=9 => {
                let _ = write!(address, "重庆市沙坪坝区{road}{number}号，{}栋", h % 9 + 1);
            }
            10 => {
                // An ASCII comma: the field is quoted.
                let _ = write!(address, "重庆市沙坪坝区{road}{number}号, {}栋", h % 9 + 1);
            }
            _ => {
                let _ = write!(address, "重庆市沙坪坝区{road}{number}号");
            }
        }

        lon.clear();
        lat.clear();
        if (h >> 48) % 10 < 8 || changed {
            let jitter = |shift: u32| ((h >> shift) % 20_000) as f64 / 1e6 - 0.01;
            let base_lon = 106.30 + town_no as f64 * 0.018 + f64::from(u8::from(changed)) * 0.003;
            let base_lat = 29.50 + (town_no % 5) as f64 * 0.025;
            let _ = write!(lon, "{:.6}", base_lon + jitter(50));
            let _ = write!(lat, "{:.6}", base_lat + jitter(20));
        }

        w.write_record([
            category,
            name.as_str(),
            code.as_str(),
            town,
            address.as_str(),
            lon.as_str(),
            lat.as_str(),
        ])
        .unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// `VmHWM` (peak resident set) or `VmRSS` of this process, in MiB.
fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// CPU time of the whole process (every thread: the caller's and SQLite's
/// worker), from `/proc/self/stat` (`utime + stime`, in USER_HZ = 1/100 s).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn rate(rows: usize, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

/// One line of the results table.
struct Line {
    phase: &'static str,
    rows: usize,
    parse: Duration,
    /// Wall time and process CPU time of the store call.
    store: Option<(Duration, Duration)>,
}

impl Line {
    fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        match self.store {
            Some((store, cpu)) => {
                let total = self.parse + store;
                println!(
                    "| {} | {} | {:.0} ms ({:.0}/s) | {:.0} ms ({:.0}/s) | {:.0} ms ({:.0}/s) | {:.1} s |",
                    self.phase,
                    self.rows,
                    ms(self.parse),
                    rate(self.rows, self.parse),
                    ms(store),
                    rate(self.rows, store),
                    ms(total),
                    rate(self.rows, total),
                    cpu.as_secs_f64(),
                );
            }
            None => println!(
                "| {} | {} | {:.0} ms ({:.0}/s) | — | — | — |",
                self.phase,
                self.rows,
                ms(self.parse),
                rate(self.rows, self.parse),
            ),
        }
    }
}

fn parse(bytes: &[u8], known: &BTreeSet<String>) -> (Parsed<Target>, Duration) {
    let start = Instant::now();
    let parsed = parse_targets(bytes, FileFormat::Csv, known).expect("file parses");
    let took = start.elapsed();
    assert!(
        parsed.is_clean(),
        "generated file has errors: {:?}",
        &parsed.errors[..parsed.errors.len().min(5)]
    );
    (parsed, took)
}

async fn import(store: &Store, parsed: Parsed<Target>) -> (ImportSummary, (Duration, Duration)) {
    let cpu = process_cpu();
    let start = Instant::now();
    let summary = store
        .import_targets(
            parsed,
            choucha_sync_server::store::ImportMode::AllOrNothing,
            "bench.csv",
            &choucha_sync_server::store::Actor::cli(),
        )
        .await
        .expect("import");
    let took = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu);
    assert!(summary.imported, "import refused: {:?}", summary.errors);
    (summary, (took, cpu))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() {
    let rows: usize = std::env::var("CHOUCHA_BENCH_ROWS")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(DEFAULT_ROWS);
    let changed_every = 10;

    println!("# Directory import benchmark: {rows} target rows, SQLite");
    println!();
    println!("load average at start: {}", load_average());

    let start = Instant::now();
    let csv_text = generate(rows, None);
    let generated = start.elapsed();
    println!(
        "generated UTF-8 CSV: {:.1} MiB in {:.0} ms (first data row: {})",
        mib(csv_text.len() as u64),
        generated.as_secs_f64() * 1e3,
        csv_text.lines().nth(1).unwrap_or_default()
    );
    println!(
        "peak RSS after generating: {:.0} MiB",
        proc_status_mib("VmHWM")
    );

    let dir = TempDir(std::env::temp_dir().join(format!(
        "choucha-bench-import-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )));
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let store = runtime
        .block_on(Store::open(None, &dir.0))
        .expect("open store");
    let towns: Vec<String> = TOWNS.iter().map(|t| (*t).to_owned()).collect();
    runtime
        .block_on(store.add_jurisdictions(&towns))
        .expect("add towns");
    let known = runtime.block_on(store.jurisdictions()).expect("read towns");
    let db = dir.0.join("choucha.db");
    let wal = dir.0.join("choucha.db-wal");

    let mut lines = Vec::new();

    // 1. First import: every row inserted.
    let (parsed, parse_took) = parse(csv_text.as_bytes(), &known);
    let (summary, store_took) = runtime.block_on(import(&store, parsed));
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (rows, 0, 0)
    );
    lines.push(Line {
        phase: "first import (all inserted)",
        rows,
        parse: parse_took,
        store: Some(store_took),
    });
    let peak_first = proc_status_mib("VmHWM");
    let (db_first, wal_first) = (file_size(&db), file_size(&wal));
    let stored = runtime
        .block_on(store.count(DirectoryTable::Targets))
        .expect("count");
    assert_eq!(stored, rows as i64);
    println!(
        "after first import: {stored} targets; choucha.db {:.1} MiB, WAL {:.1} MiB; peak RSS {:.0} MiB",
        mib(db_first),
        mib(wal_first),
        peak_first
    );

    // 2. Same file again: every row unchanged.
    let (parsed, parse_took) = parse(csv_text.as_bytes(), &known);
    let (summary, store_took) = runtime.block_on(import(&store, parsed));
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (0, 0, rows)
    );
    lines.push(Line {
        phase: "re-import, all unchanged",
        rows,
        parse: parse_took,
        store: Some(store_took),
    });

    // 3. Every 10th row changed: updates with history.
    let changed_text = generate(rows, Some(changed_every));
    let (parsed, parse_took) = parse(changed_text.as_bytes(), &known);
    let (summary, store_took) = runtime.block_on(import(&store, parsed));
    let expect_changed = rows.div_ceil(changed_every);
    assert_eq!(
        (summary.inserted, summary.updated, summary.unchanged),
        (0, expect_changed, rows - expect_changed)
    );
    lines.push(Line {
        phase: "re-import, 10 % changed (updates + history)",
        rows,
        parse: parse_took,
        store: Some(store_took),
    });
    drop(changed_text);
    let (db_after, wal_after) = (file_size(&db), file_size(&wal));
    let history = runtime
        .block_on(
            sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM target_history")
                .fetch_one(store.raw_pool()),
        )
        .expect("count history")
        .0;
    assert_eq!(history, expect_changed as i64);

    // 4. The same file as GBK (Excel's plain "CSV" on Chinese Windows).
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&csv_text);
    assert!(!unmappable, "benchmark text must be GBK-encodable");
    let gbk = gbk.into_owned();
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "GBK bytes are not UTF-8"
    );
    let (parsed_gbk, gbk_took) = parse(&gbk, &known);
    assert_eq!(parsed_gbk.rows.len(), rows);
    drop(parsed_gbk);
    lines.push(Line {
        phase: "parse only, GBK-encoded file",
        rows,
        parse: gbk_took,
        store: None,
    });
    let peak_end = proc_status_mib("VmHWM");

    println!("load average at end: {}", load_average());
    println!();
    println!("| phase | rows | parse | store | total | store CPU (all threads) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for line in &lines {
        line.print();
    }
    println!();
    println!(
        "| CSV size | UTF-8 {:.1} MiB, GBK {:.1} MiB |",
        mib(csv_text.len() as u64),
        mib(gbk.len() as u64)
    );
    println!(
        "| SQLite after first import | choucha.db {:.1} MiB + WAL {:.1} MiB |",
        mib(db_first),
        mib(wal_first)
    );
    println!(
        "| SQLite after 10 % update | choucha.db {:.1} MiB + WAL {:.1} MiB; {history} history rows |",
        mib(db_after),
        mib(wal_after)
    );
    println!(
        "| peak RSS (VmHWM) | {peak_first:.0} MiB after first import, {peak_end:.0} MiB at end |"
    );

    runtime.block_on(store.raw_pool().close());
}
