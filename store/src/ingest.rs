//! What the entries a push takes change on the server: each is checked
//! against the server's facts (only the device's officer's tasks, records
//! that match their task, amendments only of the current, returned version
//! of the same task), and the records accepted are stored and indexed.
//!
//! # Why in groups
//!
//! A push holds the single writer while every other device waits, and most
//! of its time was round trips: a dozen statements per record. So a batch
//! is applied as one group: its facts are read in a few statements
//! ([`Facts::load`]), every entry is decided against them in memory
//! ([`Facts::decide`], which keeps them current as entries are accepted),
//! and what was decided is written in multi-row statements
//! ([`Writes::apply`]).
//!
//! The group runs in a savepoint. When a write breaks a constraint — on
//! PostgreSQL a reviewer or another device can change a row between this
//! push's read and its write — the savepoint is rolled back and the batch is
//! applied again one entry per savepoint, each against freshly read facts:
//! only the entry the race hit is refused, and the rest are taken.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use choucha_checklists::Catalogue;
use choucha_shared::completeness::{self, Violation};
use choucha_shared::plan::TeamMember;
use choucha_shared::record::InspectionRecord;
use choucha_shared::review::{ReviewAction, ReviewState};
use choucha_shared::sync::{EntryPayload, LogEntry};
use choucha_shared::value::Sha256Hex;

use super::projection::{self, TaskFacts, Version};
use super::sync::DeviceCtx;
use super::{Backend, StoreError, corrupt, marks, parse_time};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Device times up to this far off are taken as clock noise.
const CLOCK_TOLERANCE_MIN: i64 = 10;

/// Bound parameters per `IN (…)` list: well under every database's limit.
const IN_LIST: usize = 400;

/// Applies the payloads of the entries a push takes (in log order), in its
/// transaction. Returns, per entry, why its payload was refused (`None`
/// when it was accepted). A refused entry changes nothing.
#[allow(clippy::too_many_arguments)]
pub(super) async fn apply(
    tx: &mut Tx<'_>,
    backend: Backend,
    device: &DeviceCtx,
    entries: &[&LogEntry],
    received_at: &str,
    catalogue: &Catalogue,
    recipients: &[super::escalation::Recipient],
) -> Result<Vec<Option<String>>, StoreError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut sp = sqlx::Acquire::begin(&mut **tx).await?;
    match apply_group(
        &mut sp,
        backend,
        device,
        entries,
        received_at,
        catalogue,
        recipients,
    )
    .await
    {
        Ok(refusals) => {
            sp.commit().await?;
            return Ok(refusals);
        }
        Err(e) if race(&e).is_some() => sp.rollback().await?,
        Err(e) => return Err(e),
    }
    let mut refusals = Vec::with_capacity(entries.len());
    for e in entries {
        let mut sp = sqlx::Acquire::begin(&mut **tx).await?;
        match apply_group(
            &mut sp,
            backend,
            device,
            &[*e],
            received_at,
            catalogue,
            recipients,
        )
        .await
        {
            Ok(mut one) => {
                sp.commit().await?;
                refusals.push(one.pop().flatten());
            }
            Err(err) => match race(&err) {
                Some(message) => {
                    // Undo what the entry wrote; the entry itself is still
                    // taken into the log.
                    sp.rollback().await?;
                    refusals.push(Some(message));
                }
                None => return Err(err),
            },
        }
    }
    Ok(refusals)
}

/// Why a write that lost a race refuses its entry; `None` for an error that
/// is not a race (it fails the push).
fn race(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Conflict(message) => Some(message.clone()),
        StoreError::Db(sqlx::Error::Database(d))
            if d.is_unique_violation() || d.is_foreign_key_violation() =>
        {
            Some(format!(
                "服务器无法保存该条目（与已保存的数据冲突）(stored data conflict): {d}"
            ))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_group(
    tx: &mut Tx<'_>,
    backend: Backend,
    device: &DeviceCtx,
    entries: &[&LogEntry],
    received_at: &str,
    catalogue: &Catalogue,
    recipients: &[super::escalation::Recipient],
) -> Result<Vec<Option<String>>, StoreError> {
    let mut facts = Facts::load(tx, backend, device, entries).await?;
    let received = parse_time(received_at)?;
    let mut writes = Writes::default();
    let mut refusals = entries
        .iter()
        .map(|e| facts.decide(e, received, catalogue, &mut writes))
        .collect::<Result<Vec<_>, _>>()?;
    writes
        .apply(tx, &device.device_id, received_at, &facts.flags)
        .await?;
    // 复查 records and questions are few and touch other rows (their
    // task, its findings): each is decided and written on its own.
    for (i, e) in entries.iter().enumerate() {
        if let EntryPayload::RecheckSealed { record } = &e.payload {
            refusals[i] = super::recheck::ingest(tx, backend, device, record, received_at).await?;
        }
        if let EntryPayload::QuestionAsked { question } = &e.payload {
            refusals[i] =
                super::consult::ingest(tx, backend, device, question, received_at, catalogue)
                    .await?;
        }
        if let EntryPayload::Escalated { escalation } = &e.payload {
            refusals[i] =
                super::escalation::ingest(tx, backend, device, escalation, recipients).await?;
        }
    }
    Ok(refusals)
}

/// Serialises, blob by blob, a push that reads whether its records' blobs
/// have arrived with a registration of those blobs (PostgreSQL; on SQLite
/// the single writer already does). Without it, under read committed, the
/// push could read a blob as absent while its registration commits, and the
/// registration look for the records waiting for it before the push
/// commits: the record would stay `incomplete` for good. Each takes the
/// blobs' transaction locks in one global order (their keys sorted), so two
/// cannot wait for each other; a lock is released at commit.
pub(super) async fn lock_blobs(
    tx: &mut Tx<'_>,
    backend: Backend,
    hashes: &[&str],
) -> Result<(), StoreError> {
    if backend != Backend::Postgres || hashes.is_empty() {
        return Ok(());
    }
    // The first 64 bits of the SHA-256: as good a key as the whole hash.
    let mut keys: Vec<i64> = hashes
        .iter()
        .filter_map(|h| h.get(..16).and_then(|p| u64::from_str_radix(p, 16).ok()))
        .map(|k| k as i64)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for part in keys.chunks(IN_LIST) {
        // The inner ORDER BY (kept by OFFSET 0) is the order the locks are
        // taken in.
        let sql = format!(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM (VALUES {}) AS v(k) ORDER BY k OFFSET 0) AS s",
            (1..=part.len())
                .map(|i| format!("(${i}::bigint)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut q = sqlx::query(&sql);
        for k in part {
            q = q.bind(*k);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The task a payload names, when it names one.
fn task_of(payload: &EntryPayload) -> Option<&str> {
    match payload {
        EntryPayload::Started { task_id, .. } => Some(task_id),
        EntryPayload::Sealed { record } | EntryPayload::Amended { record, .. } => {
            Some(&record.task_id)
        }
        EntryPayload::ItemSet { .. }
        | EntryPayload::PhotoTaken { .. }
        | EntryPayload::RecheckSealed { .. }
        | EntryPayload::QuestionAsked { .. }
        | EntryPayload::Escalated { .. } => None,
    }
}

/// A record version a push carries: the record and what it replaces.
fn record_of(payload: &EntryPayload) -> Option<(&InspectionRecord, Option<&Sha256Hex>)> {
    match payload {
        EntryPayload::Sealed { record } => Some((record, None)),
        EntryPayload::Amended { replaces, record } => Some((record, Some(replaces))),
        _ => None,
    }
}

/// A task as drawn, with the target's directory name.
struct TaskRow {
    category: String,
    target_key: String,
    checklist_id: String,
    checklist_version: i64,
    team: Vec<TeamMember>,
    target_name: Option<String>,
    /// When the draw that made it was run (its seed entered).
    drawn_at: String,
    /// Where the projection files its records.
    facts: TaskFacts,
}

/// A record's current version, as stored or as accepted by this group.
#[derive(Clone)]
struct Current {
    version: String,
    state: ReviewState,
    task_id: String,
}

/// A current record version of a task, whose flags another record for the
/// same task adds to.
struct Sibling {
    record_id: String,
    version: String,
    at: Place,
}

#[derive(Clone, Copy)]
enum Place {
    /// Stored before this group: its flags are in `Writes::reflag`.
    Stored,
    /// Accepted by this group: `Writes::new[i]`.
    New(usize),
}

/// What the server knows that decides a group's entries, read once per
/// group and kept current as its entries are accepted.
struct Facts {
    /// Tasks (among those the group names) the device's officer is on.
    officer_tasks: HashSet<String>,
    tasks: HashMap<String, TaskRow>,
    /// Records (among those the group carries) that have a stored version,
    /// with their current one.
    records: HashMap<String, Option<Current>>,
    /// Current record versions of the group's tasks.
    siblings: HashMap<String, Vec<Sibling>>,
    /// The flags of stored sibling versions, by (record, version).
    flags: HashMap<(String, String), Vec<String>>,
    /// Blobs (among those the group's records name) the server holds.
    blobs: HashSet<String>,
}

impl Facts {
    async fn load(
        tx: &mut Tx<'_>,
        backend: Backend,
        device: &DeviceCtx,
        entries: &[&LogEntry],
    ) -> Result<Self, StoreError> {
        let task_ids: Vec<&str> = entries
            .iter()
            .filter_map(|e| task_of(&e.payload))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let records: Vec<&InspectionRecord> = entries
            .iter()
            .filter_map(|e| record_of(&e.payload).map(|(r, _)| r))
            .collect();
        let record_ids: Vec<String> = records
            .iter()
            .map(|r| r.record_id.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let hashes: Vec<&str> = records
            .iter()
            .flat_map(|r| r.blob_hashes().map(Sha256Hex::as_str))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut facts = Facts {
            officer_tasks: HashSet::new(),
            tasks: HashMap::new(),
            records: HashMap::new(),
            siblings: HashMap::new(),
            flags: HashMap::new(),
            blobs: HashSet::new(),
        };
        for part in task_ids.chunks(IN_LIST) {
            let sql = format!(
                "SELECT task_id FROM task_members WHERE person_id = $1 AND task_id IN ({})",
                marks(2, part.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(&device.officer_id);
            for t in part {
                q = q.bind(*t);
            }
            facts
                .officer_tasks
                .extend(q.fetch_all(&mut **tx).await?.into_iter().map(|r| r.0));
        }
        // Tasks are only needed for the records' checks; a Started entry
        // needs only its membership.
        let record_tasks: Vec<&str> = records
            .iter()
            .map(|r| r.task_id.as_str())
            .filter(|t| facts.officer_tasks.contains(*t))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for part in record_tasks.chunks(IN_LIST) {
            facts.load_tasks(tx, part).await?;
        }
        for part in record_ids.chunks(IN_LIST) {
            let sql = format!(
                "SELECT record_id, version, state, task_id, superseded FROM records WHERE record_id IN ({})",
                marks(1, part.len())
            );
            let mut q = sqlx::query_as::<_, (String, String, String, String, i64)>(&sql);
            for r in part {
                q = q.bind(r.as_str());
            }
            for (record_id, version, state, task_id, superseded) in q.fetch_all(&mut **tx).await? {
                let slot = facts.records.entry(record_id).or_insert(None);
                if superseded == 0 {
                    *slot = Some(Current {
                        version,
                        state: state.parse().map_err(corrupt)?,
                        task_id,
                    });
                }
            }
        }
        for part in record_tasks.chunks(IN_LIST) {
            let sql = format!(
                "SELECT task_id, record_id, version, flags FROM records WHERE superseded = 0 AND task_id IN ({})",
                marks(1, part.len())
            );
            let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql);
            for t in part {
                q = q.bind(*t);
            }
            for (task_id, record_id, version, flags) in q.fetch_all(&mut **tx).await? {
                let list: Vec<String> = serde_json::from_str(&flags).map_err(corrupt)?;
                facts
                    .flags
                    .insert((record_id.clone(), version.clone()), list);
                facts.siblings.entry(task_id).or_default().push(Sibling {
                    record_id,
                    version,
                    at: Place::Stored,
                });
            }
        }
        lock_blobs(tx, backend, &hashes).await?;
        for part in hashes.chunks(IN_LIST) {
            let sql = format!(
                "SELECT sha256 FROM blobs WHERE sha256 IN ({})",
                marks(1, part.len())
            );
            let mut q = sqlx::query_as::<_, (String,)>(&sql);
            for h in part {
                q = q.bind(*h);
            }
            facts
                .blobs
                .extend(q.fetch_all(&mut **tx).await?.into_iter().map(|r| r.0));
        }
        Ok(facts)
    }

    async fn load_tasks(&mut self, tx: &mut Tx<'_>, task_ids: &[&str]) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT t.task_id, t.category, t.target_key, t.checklist_id, t.checklist_version, t.team, tg.name, \
             d.seed_entered_at, d.plan_id, t.stratum_id, tg.jurisdiction, \
             ot.plan_id, ot.stratum_id, ot.jurisdiction, ot.team_key, ot.team_label \
             FROM tasks t JOIN draws d ON d.draw_id = t.draw_id \
             LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key \
             LEFT JOIN oversight_tasks ot ON ot.task_id = t.task_id \
             WHERE t.task_id IN ({})",
            marks(1, task_ids.len())
        );
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            String,
            Option<String>,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut q = sqlx::query_as::<_, Row>(&sql);
        for t in task_ids {
            q = q.bind(*t);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let (task_id, category, target_key, checklist_id, checklist_version, team, name) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
            let team: Vec<TeamMember> = serde_json::from_str(&team).map_err(corrupt)?;
            let facts = TaskFacts::indexed([row.11, row.12, row.13, row.14, row.15])
                // A task of a superseded draw: the record still belongs
                // somewhere.
                .unwrap_or_else(|| TaskFacts::of_task(row.8, row.9, &team, row.10));
            self.tasks.insert(
                task_id,
                TaskRow {
                    category,
                    target_key,
                    checklist_id,
                    checklist_version,
                    team,
                    target_name: name,
                    drawn_at: row.7,
                    facts,
                },
            );
        }
        Ok(())
    }

    /// Decides one entry: `Some` is why its payload is refused. An accepted
    /// record is added to `writes` and to the facts the group's later
    /// entries are decided against.
    fn decide<'e>(
        &mut self,
        e: &'e LogEntry,
        received: DateTime<Utc>,
        catalogue: &Catalogue,
        writes: &mut Writes<'e>,
    ) -> Result<Option<String>, StoreError> {
        if let Some(task_id) = task_of(&e.payload) {
            if !self.officer_tasks.contains(task_id) {
                return Ok(Some(format!(
                    "任务 {task_id} 不存在或不属于本设备执法人员所在的检查组 (not your team's task)"
                )));
            }
        }
        let Some((record, replaces)) = record_of(&e.payload) else {
            return Ok(None);
        };
        let lies = match self.tasks.get(&record.task_id) {
            Some(task) => mismatches(task, record),
            None => vec![format!("task_id：任务 {} 不存在", record.task_id)],
        };
        if !lies.is_empty() {
            return Ok(Some(format!(
                "记录与任务 {} 不符，未予接收 (the record does not match its task)：{}",
                record.task_id,
                lies.join("；")
            )));
        }
        let record_id = record.record_id.to_string();
        let stored = self.records.get(&record_id);
        match (replaces, stored) {
            (None, Some(_)) => {
                return Ok(Some(format!(
                    "记录 {record_id} 已封存，封存后的修改须以补正（amendment）提交"
                )));
            }
            (None, None) => {}
            (Some(_), None | Some(None)) => {
                return Ok(Some(format!("记录 {record_id} 尚未封存，无从补正")));
            }
            (Some(replaces), Some(Some(current))) => {
                if current.task_id != record.task_id {
                    return Ok(Some(format!(
                        "补正须针对原任务 {}，不能改为任务 {} (an amendment keeps its record's task)",
                        current.task_id, record.task_id
                    )));
                }
                if current.version != replaces.as_str() {
                    return Ok(Some(format!(
                        "补正所替代的版本 {replaces} 不是当前版本 {}，请先同步后再补正",
                        current.version
                    )));
                }
                if let Err(e) = current.state.apply(ReviewAction::Supersede) {
                    return Ok(Some(e.to_string()));
                }
            }
        }
        // Signatures that do not sign this content, or signers not on the
        // drawn team, are not a record left incomplete but a forgery: the
        // app cannot seal such a record.
        let violations = catalogue
            .get(&record.checklist)
            .map(|c| completeness::check(record, c));
        let forged: Vec<String> = violations
            .iter()
            .flatten()
            .filter(|v| {
                matches!(
                    v,
                    Violation::SignatureStale { .. } | Violation::SignerNotOnTeam { .. }
                )
            })
            .map(ToString::to_string)
            .collect();
        if !forged.is_empty() {
            return Ok(Some(format!(
                "记录的签字与其内容不符，未予接收 (the signatures do not sign this record)：{}",
                forged.join("；")
            )));
        }
        // Accepted.
        let task = &self.tasks[&record.task_id];
        let version = record.version().as_str().to_owned();
        if let Some(old) = replaces {
            writes
                .supersede
                .push((record_id.clone(), old.as_str().to_owned()));
        }
        let mut flags = clock_flags(&task.drawn_at, record, e, received)?;
        let facts = task.facts.clone();
        // Two records for one task (two devices started it offline): keep
        // both and flag every one of them for the supervisor to choose.
        let siblings = self.siblings.entry(record.task_id.clone()).or_default();
        siblings.retain(|s| s.record_id != record_id);
        if !siblings.is_empty() {
            let ids: Vec<&str> = siblings.iter().map(|s| s.record_id.as_str()).collect();
            flags.push(several_records(&ids.join("、")));
            let flag = several_records(&record_id);
            for s in siblings.iter() {
                match s.at {
                    Place::Stored => {
                        let key = (s.record_id.clone(), s.version.clone());
                        let list = self.flags.entry(key.clone()).or_default();
                        if !list.contains(&flag) {
                            list.push(flag.clone());
                            writes.reflag.insert(key);
                        }
                    }
                    Place::New(i) => {
                        let list = &mut writes.new[i].flags;
                        if !list.contains(&flag) {
                            list.push(flag.clone());
                        }
                    }
                }
            }
        }
        let hashes: Vec<&'e str> = record
            .blob_hashes()
            .map(Sha256Hex::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let blobs_missing = hashes.iter().any(|h| !self.blobs.contains(*h));
        let missing: Vec<String> = match &violations {
            Some(v) => v.iter().map(ToString::to_string).collect(),
            None => vec![format!("服务器没有检查表 {}", record.checklist)],
        };
        // Submitted only when every named blob has arrived and the sealing
        // rules pass. `missing` holds only what the rules found: it cannot
        // change for a sealed version, while missing blobs do, and are read
        // from `record_blobs` and `blobs` when asked for.
        let state = if missing.is_empty() && !blobs_missing {
            ReviewState::Received
        } else {
            ReviewState::Incomplete
        };
        siblings.push(Sibling {
            record_id: record_id.clone(),
            version: version.clone(),
            at: Place::New(writes.new.len()),
        });
        self.records.insert(
            record_id.clone(),
            Some(Current {
                version: version.clone(),
                state,
                task_id: record.task_id.clone(),
            }),
        );
        writes.new.push(NewVersion {
            record,
            record_id: record.record_id.to_string(),
            version,
            replaces,
            state,
            missing,
            flags,
            hashes,
            facts,
        });
        Ok(None)
    }
}

fn several_records(others: &str) -> String {
    format!("同一任务有多份记录（另见 {others}），请审核人员选择 (several records for one task)")
}

/// How a sealed record differs from the task it names and the target's
/// directory entry: one line per field, naming the field, what the task
/// says and what the record says. Empty when the record tells the truth.
fn mismatches(task: &TaskRow, record: &InspectionRecord) -> Vec<String> {
    let mut lies = Vec::new();
    let mut differ = |field: &str, task: &str, claimed: &str| {
        if task != claimed {
            lies.push(format!("{field}：任务为「{task}」，记录为「{claimed}」"));
        }
    };
    differ("category", &task.category, record.category.code());
    differ("target", &task.target_key, record.target.as_str());
    differ("checklist", &task.checklist_id, &record.checklist.id);
    differ(
        "checklist.version",
        &task.checklist_version.to_string(),
        &record.checklist.version.to_string(),
    );
    if let Some(name) = &task.target_name {
        differ("target_name", name, &record.target_name);
    }
    // Role, credential and name of each member, as drawn.
    let key = |t: &[TeamMember]| -> BTreeSet<(String, String, String)> {
        t.iter()
            .map(|m| (format!("{:?}", m.role), m.person_id.clone(), m.name.clone()))
            .collect()
    };
    let (want, got) = (key(&task.team), key(&record.team));
    if want != got {
        let who = |(_, p, n): &(String, String, String)| format!("{n}（{p}）");
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "无".to_owned()
            } else {
                v.join("、")
            }
        };
        lies.push(format!(
            "team：与抽取的检查组不一致（缺少 {}；多出 {}）",
            list(want.difference(&got).map(who).collect()),
            list(got.difference(&want).map(who).collect()),
        ));
    }
    lies
}

/// Device times that cannot be right: before the task existed, ahead of
/// the server's clock, or far from the satellite time of a GPS fix.
fn clock_flags(
    drawn_at: &str,
    record: &InspectionRecord,
    e: &LogEntry,
    received: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut flags = Vec::new();
    let tolerance = Duration::minutes(CLOCK_TOLERANCE_MIN);
    if record.started_at + tolerance < parse_time(drawn_at)? {
        flags.push(format!(
            "设备时间早于任务下达时间（开始检查 {}）(device time before the task existed)",
            record.started_at
        ));
    }
    let mut times: Vec<DateTime<Utc>> = vec![e.created_at, record.started_at];
    times.extend(record.photos.iter().map(|p| p.taken_at));
    times.extend(record.signatures.iter().map(|s| s.signed_at));
    if times.iter().any(|t| *t > received + tolerance) {
        flags.push(
            "设备时间晚于服务器接收时间（设备时钟可能不准）(device time in the future)".into(),
        );
    }
    for p in &record.photos {
        if let Some(g) = p.gps_time {
            if (p.taken_at - g).abs() > tolerance {
                flags.push(format!(
                    "照片 {} 的拍摄时间与卫星定位时间相差超过 {CLOCK_TOLERANCE_MIN} 分钟",
                    &p.sha256.as_str()[..12]
                ));
            }
        }
    }
    Ok(flags)
}

/// A record version a group accepted.
struct NewVersion<'e> {
    record: &'e InspectionRecord,
    record_id: String,
    version: String,
    replaces: Option<&'e Sha256Hex>,
    state: ReviewState,
    missing: Vec<String>,
    flags: Vec<String>,
    /// The blobs it names, distinct.
    hashes: Vec<&'e str>,
    facts: TaskFacts,
}

/// What a group's accepted entries write.
#[derive(Default)]
struct Writes<'e> {
    /// (record, version) amendments supersede: each must still be the
    /// current, returned version when written.
    supersede: Vec<(String, String)>,
    /// Stored sibling versions whose flags changed (to what
    /// `Facts::flags` now holds).
    reflag: BTreeSet<(String, String)>,
    new: Vec<NewVersion<'e>>,
}

impl Writes<'_> {
    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        device_id: &str,
        received_at: &str,
        flags: &HashMap<(String, String), Vec<String>>,
    ) -> Result<(), StoreError> {
        for (record_id, old) in &self.supersede {
            // Conditional: a reviewer who changed the version's state since
            // the facts were read (on PostgreSQL nothing serialises the two)
            // wins, and this amendment is refused.
            let done = sqlx::query(
                "UPDATE records SET superseded = 1 WHERE record_id = $1 AND version = $2 AND superseded = 0 AND state = $3",
            )
            .bind(record_id)
            .bind(old)
            .bind(ReviewState::Returned.as_str())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "版本 {old} 已不是待补正的当前版本（刚被审核或已被补正），本次补正未予接收"
                )));
            }
        }
        for key @ (record_id, version) in &self.reflag {
            let list = flags.get(key).map(Vec::as_slice).unwrap_or_default();
            sqlx::query("UPDATE records SET flags = $1 WHERE record_id = $2 AND version = $3")
                .bind(serde_json::to_string(list).map_err(corrupt)?)
                .bind(record_id)
                .bind(version)
                .execute(&mut **tx)
                .await?;
        }
        let blobs: Vec<(&str, &str, &str)> = self
            .new
            .iter()
            .flat_map(|n| {
                n.hashes
                    .iter()
                    .map(move |h| (n.record_id.as_str(), n.version.as_str(), *h))
            })
            .collect();
        for part in blobs.chunks(300) {
            let sql = format!(
                "INSERT INTO record_blobs (record_id, version, sha256) VALUES {} ON CONFLICT DO NOTHING",
                (0..part.len())
                    .map(|i| format!("({})", marks(i * 3 + 1, 3)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (r, v, h) in part {
                q = q.bind(*r).bind(*v).bind(*h);
            }
            q.execute(&mut **tx).await?;
        }
        // Per row eight values; the device and the time are shared ($1, $2).
        const COLUMNS: usize = 8;
        for part in self.new.chunks(50) {
            let rows: Vec<String> = (0..part.len())
                .map(|i| {
                    let m = 3 + i * COLUMNS;
                    format!(
                        "(${m}, ${}, ${}, $1, ${}, 0, ${}, ${}, ${}, ${}, $2)",
                        m + 1,
                        m + 2,
                        m + 3,
                        m + 4,
                        m + 5,
                        m + 6,
                        m + 7
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO records (record_id, version, task_id, device_id, replaces, superseded, state, missing, flags, record, received_at) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(device_id).bind(received_at);
            for n in part {
                q = q
                    .bind(n.record_id.as_str())
                    .bind(n.version.as_str())
                    .bind(n.record.task_id.as_str())
                    .bind(n.replaces.map(|r| r.to_string()))
                    .bind(n.state.as_str())
                    .bind(serde_json::to_string(&n.missing).map_err(corrupt)?)
                    .bind(serde_json::to_string(&n.flags).map_err(corrupt)?)
                    .bind(serde_json::to_string(n.record).map_err(corrupt)?);
            }
            q.execute(&mut **tx).await?;
        }
        let versions: Vec<(Version<'_>, TaskFacts)> = self
            .new
            .iter()
            .map(|n| {
                (
                    Version {
                        record: n.record,
                        version: &n.version,
                        state: n.state.as_str(),
                        received_at,
                    },
                    n.facts.clone(),
                )
            })
            .collect();
        projection::index_versions(tx, &versions).await
    }
}
