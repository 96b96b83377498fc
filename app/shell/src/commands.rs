//! The Tauri commands: each reads its arguments, calls the app core and
//! answers with a view from `choucha-app-api`. No inspection logic here.
//! Work that takes CPU time (photos, signatures) or waits on the network
//! runs off the UI thread.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use tauri::State;
use uuid::Uuid;

use choucha_app_api::command::{BlobId, NoArgs, RecordFinding, RecordId, RecordPhoto, TaskId};
use choucha_app_api::{
    Command, CommandError, EnrolmentView, OrderView, PHOTO_RECORD_HEADER, PHOTO_SUBJECT_HEADER,
    PhotoTaken, cmd, decode_subject,
};
use choucha_app_core::photo::PhotoConfig;
use choucha_shared::record::SignatureRefusal;
use choucha_shared::value::Sha256Hex;

use crate::Shell;
use crate::error::{CmdResult, command_error};
use crate::views;

type ShellState<'a> = State<'a, Arc<Shell>>;
/// A command's arguments and answer, from its type in `choucha-app-api`.
type In<C> = <C as Command>::Args;
type Out<C> = CmdResult<<C as Command>::Output>;

/// Fails to compile when a handler is not named as its command: the front
/// end invokes `C::NAME`, Tauri routes by the function's name.
#[macro_export]
macro_rules! serves {
    ($($cmd:ty => $f:ident),* $(,)?) => {
        $(const _: () = assert!(
            choucha_app_api::command::same_name(<$cmd as Command>::NAME, stringify!($f)),
            concat!("handler ", stringify!($f), " is not named as its command"),
        );)*
    };
}

crate::serves! {
    cmd::Home => home,
    cmd::Enrol => enrol,
    cmd::TaskDetail => task_detail,
    cmd::StartTask => start_task,
    cmd::Inspection => inspection,
    cmd::SetItem => set_item,
    cmd::AskQuestion => ask_question,
    cmd::AcknowledgeRevocation => acknowledge_revocation,
    cmd::Escalate => escalate,
    cmd::SetOutcome => set_outcome,
    cmd::TakePhoto => take_photo,
    cmd::PhotoData => photo_data,
    cmd::RemovePhoto => remove_photo,
    cmd::AddFinding => add_finding,
    cmd::RemoveFinding => remove_finding,
    cmd::RectificationOrders => rectification_orders,
    cmd::Sign => sign,
    cmd::RecordRefusal => record_refusal,
    cmd::Seal => seal,
    cmd::StartAmendment => start_amendment,
    cmd::SyncNow => sync_now,
    cmd::SyncStatus => sync_status,
    cmd::SaveSettings => save_settings,
    cmd::LocationFix => location_fix,
    cmd::UiTiming => ui_timing,
}

/// Runs blocking core work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    shell: &Arc<Shell>,
    f: impl FnOnce(&Shell) -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    let shell = shell.clone();
    tauri::async_runtime::spawn_blocking(move || f(&shell))
        .await
        .map_err(|e| CommandError::new("internal", format!("后台任务失败 (task failed): {e}")))?
}

#[tauri::command(rename_all = "snake_case")]
pub async fn home(shell: ShellState<'_>, args: In<cmd::Home>) -> Out<cmd::Home> {
    let NoArgs {} = args;
    blocking(&shell, |s| views::home(s).map_err(command_error)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn enrol(shell: ShellState<'_>, args: In<cmd::Enrol>) -> Out<cmd::Enrol> {
    let req = args;
    if req.code.trim().is_empty() {
        return Err(CommandError::new(
            "bad_request",
            "请输入注册码 (enter the enrolment code)",
        ));
    }
    let name = shell.settings().device_name;
    let e = shell
        .app()
        .map_err(command_error)?
        .enrol_pinned(
            &shell.http,
            &req.server_url,
            &req.code,
            &name,
            req.ca_pem.as_deref(),
        )
        .await
        .map_err(command_error)?;
    // Pull the tasks right away.
    shell.sync.run_now(Duration::from_secs(30)).await;
    Ok(EnrolmentView {
        server_url: e.server_url,
        device_id: e.device_id,
        officer_id: e.officer_id,
        officer_name: e.officer_name,
    })
}

#[tauri::command(rename_all = "snake_case")]
pub async fn task_detail(shell: ShellState<'_>, args: In<cmd::TaskDetail>) -> Out<cmd::TaskDetail> {
    let TaskId { task_id } = args;
    blocking(&shell, move |s| {
        views::task_detail(s.app().map_err(command_error)?, &task_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn start_task(shell: ShellState<'_>, args: In<cmd::StartTask>) -> Out<cmd::StartTask> {
    let TaskId { task_id } = args;
    blocking(&shell, move |s| {
        let id = s
            .app()
            .map_err(command_error)?
            .start_task(&task_id, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn inspection(shell: ShellState<'_>, args: In<cmd::Inspection>) -> Out<cmd::Inspection> {
    let RecordId { record_id } = args;
    blocking(&shell, move |s| {
        views::inspection(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn set_item(shell: ShellState<'_>, args: In<cmd::SetItem>) -> Out<cmd::SetItem> {
    let req = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .set_item(
                &req.record_id,
                &req.item_id,
                req.verdict,
                req.note,
                Utc::now(),
            )
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

/// 咨询: asks the quality section about an item or a finding of the
/// inspection under way; kept and sent with the next sync.
#[tauri::command(rename_all = "snake_case")]
pub async fn ask_question(
    shell: ShellState<'_>,
    args: In<cmd::AskQuestion>,
) -> Out<cmd::AskQuestion> {
    let req = args;
    blocking(&shell, move |s| {
        let record = s
            .app()
            .map_err(command_error)?
            .record(&req.record_id)
            .map_err(command_error)?;
        let about = choucha_app_core::consult::About {
            task_id: record.task_id,
            item_id: req.item_id,
            finding_id: req.finding_id,
        };
        s.app()
            .map_err(command_error)?
            .ask(&about, &req.text, &[], Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

/// 上报: reports a problem of the inspection under way (a finding of it)
/// upward; kept and sent with the next sync.
#[tauri::command(rename_all = "snake_case")]
pub async fn escalate(shell: ShellState<'_>, args: In<cmd::Escalate>) -> Out<cmd::Escalate> {
    let req = args;
    blocking(&shell, move |s| {
        let record = s
            .app()
            .map_err(command_error)?
            .record(&req.record_id)
            .map_err(command_error)?;
        s.app()
            .map_err(command_error)?
            .escalate(
                &record.task_id,
                req.finding_id,
                req.kind,
                &req.description,
                &[],
                Utc::now(),
            )
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

/// What became of the task: chosen at the start or at any point before
/// sealing; the record's own rules decide what evidence it then needs.
#[tauri::command(rename_all = "snake_case")]
pub async fn set_outcome(shell: ShellState<'_>, args: In<cmd::SetOutcome>) -> Out<cmd::SetOutcome> {
    let req = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .set_outcome(&req.record_id, req.outcome, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

pub(crate) fn header<'a>(request: &'a tauri::ipc::Request<'_>, name: &str) -> CmdResult<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| CommandError::new("bad_request", format!("缺少 {name} (missing header)")))
}

/// The raw image file goes through the core's photo pipeline (orientation,
/// resize, watermark with time, place, target and officers) and is stored
/// encrypted; the answer shows the watermarked result.
#[tauri::command(rename_all = "snake_case")]
pub async fn take_photo(
    shell: ShellState<'_>,
    request: tauri::ipc::Request<'_>,
) -> Out<cmd::TakePhoto> {
    let (record_id, subject, raw) = raw_photo(&request)?;
    blocking(&shell, move |s| {
        let record = s
            .app()
            .map_err(command_error)?
            .record(&record_id)
            .map_err(command_error)?;
        let registered = s
            .app()
            .map_err(command_error)?
            .task(&record.task_id)
            .map_err(command_error)?
            .target
            .location;
        // No fix is not a reason to refuse the photo: it is taken without
        // a position and the review sees that.
        let fix = s.position.fix(record_id, registered).ok();
        let sha = s
            .app()
            .map_err(command_error)?
            .take_photo(
                &record_id,
                subject,
                &raw,
                fix.as_ref().map(|f| f.point),
                fix.as_ref().map(|f| f.fix_time),
                &PhotoConfig::default(),
                Utc::now(),
            )
            .map_err(command_error)?;
        let jpeg = s
            .app()
            .map_err(command_error)?
            .evidence(&sha)
            .map_err(command_error)?;
        Ok(PhotoTaken {
            sha256: sha.to_string(),
            data_url: data_url(&jpeg),
            inspection: views::inspection(s.app().map_err(command_error)?, &record_id)
                .map_err(command_error)?,
        })
    })
    .await
}

/// A raw photo request: the record it is for, what it shows, the file's
/// bytes.
pub(crate) fn raw_photo(
    request: &tauri::ipc::Request<'_>,
) -> CmdResult<(Uuid, choucha_shared::record::PhotoSubject, Vec<u8>)> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(CommandError::new(
            "bad_request",
            "照片须以文件内容发送 (the photo must be sent as raw bytes)",
        ));
    };
    let record_id: Uuid = header(request, PHOTO_RECORD_HEADER)?
        .parse()
        .map_err(|e| CommandError::new("bad_request", format!("记录编号无效：{e}")))?;
    let subject = decode_subject(header(request, PHOTO_SUBJECT_HEADER)?)?;
    Ok((record_id, subject, bytes.clone()))
}

/// The enterprise's refusal to sign, as the form gave it (trimmed; an
/// empty witness is none).
pub(crate) fn refusal_of(reason: &str, witness: Option<String>) -> SignatureRefusal {
    SignatureRefusal {
        reason: reason.trim().to_owned(),
        witness: witness
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty()),
        recorded_at: Utc::now(),
    }
}

pub(crate) fn data_url(bytes: &[u8]) -> String {
    let mime = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "image/jpeg"
    };
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn parse_sha(sha: &str) -> CmdResult<Sha256Hex> {
    Sha256Hex::parse(sha).map_err(|e| CommandError::new("bad_request", e.to_string()))
}

/// An evidence file (photo or signature image) as a data URL.
#[tauri::command(rename_all = "snake_case")]
pub async fn photo_data(shell: ShellState<'_>, args: In<cmd::PhotoData>) -> Out<cmd::PhotoData> {
    let BlobId { sha256 } = args;
    blocking(&shell, move |s| {
        let sha = parse_sha(&sha256)?;
        Ok(data_url(
            &s.app()
                .map_err(command_error)?
                .evidence(&sha)
                .map_err(command_error)?,
        ))
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_photo(
    shell: ShellState<'_>,
    args: In<cmd::RemovePhoto>,
) -> Out<cmd::RemovePhoto> {
    let RecordPhoto { record_id, sha256 } = args;
    blocking(&shell, move |s| {
        let sha = parse_sha(&sha256)?;
        s.app()
            .map_err(command_error)?
            .remove_photo(&record_id, &sha, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn add_finding(shell: ShellState<'_>, args: In<cmd::AddFinding>) -> Out<cmd::AddFinding> {
    let req = args;
    blocking(&shell, move |s| {
        let mut finding = req.finding;
        if finding.finding_id.is_nil() {
            finding.finding_id = Uuid::now_v7();
        }
        s.app()
            .map_err(command_error)?
            .add_finding(&req.record_id, finding, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_finding(
    shell: ShellState<'_>,
    args: In<cmd::RemoveFinding>,
) -> Out<cmd::RemoveFinding> {
    let RecordFinding {
        record_id,
        finding_id,
    } = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .remove_finding(&record_id, &finding_id, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await
}

/// The printable 责令整改通知书 of the record's findings.
#[tauri::command(rename_all = "snake_case")]
pub async fn rectification_orders(
    shell: ShellState<'_>,
    args: In<cmd::RectificationOrders>,
) -> Out<cmd::RectificationOrders> {
    let RecordId { record_id } = args;
    blocking(&shell, move |s| {
        let record = s
            .app()
            .map_err(command_error)?
            .record(&record_id)
            .map_err(command_error)?;
        let checklist = s
            .app()
            .map_err(command_error)?
            .checklist(&record.checklist)
            .map_err(command_error)?;
        let target = s
            .app()
            .map_err(command_error)?
            .task(&record.task_id)
            .map_err(command_error)?
            .target;
        let orders = choucha_app_core::rectification::orders(
            &record,
            &target,
            &checklist,
            &s.settings().authority,
        )
        .map_err(|e| CommandError::new("refused", e.to_string()))?;
        // Kept with the tablet's data (and wiped with it).
        let dir = s.config.data_dir.join("exports");
        std::fs::create_dir_all(&dir).map_err(|e| {
            CommandError::new(
                "internal",
                format!("无法创建导出目录 (cannot create {}): {e}", dir.display()),
            )
        })?;
        orders
            .into_iter()
            .map(|o| {
                let pdf = o
                    .pdf()
                    .map_err(|e| CommandError::new("internal", e.to_string()))?;
                let file = dir.join(o.file_name());
                std::fs::write(&file, pdf).map_err(|e| {
                    CommandError::new(
                        "internal",
                        format!("无法保存通知书 (cannot write {}): {e}", file.display()),
                    )
                })?;
                Ok(OrderView {
                    order_no: o.order_no,
                    text: o.sheet.text(),
                    file: file.display().to_string(),
                })
            })
            .collect()
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn sign(shell: ShellState<'_>, args: In<cmd::Sign>) -> Out<cmd::Sign> {
    let req = args;
    blocking(&shell, move |s| {
        let capture = req.capture;
        if req.name.trim().is_empty() {
            return Err(CommandError::new(
                "refused",
                "请填写签字人姓名 (signer name is empty)",
            ));
        }
        s.app()
            .map_err(command_error)?
            .sign_with_capture(
                &req.record_id,
                req.role,
                req.person_id,
                &req.name,
                &capture,
                Utc::now(),
            )
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn record_refusal(
    shell: ShellState<'_>,
    args: In<cmd::RecordRefusal>,
) -> Out<cmd::RecordRefusal> {
    let req = args;
    blocking(&shell, move |s| {
        let refusal = refusal_of(&req.reason, req.witness);
        s.app()
            .map_err(command_error)?
            .record_refusal(&req.record_id, refusal, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &req.record_id).map_err(command_error)
    })
    .await
}

/// Seals the record (refused with every violation listed when it is not
/// complete), then wakes the background sync.
#[tauri::command(rename_all = "snake_case")]
pub async fn seal(shell: ShellState<'_>, args: In<cmd::Seal>) -> Out<cmd::Seal> {
    let RecordId { record_id } = args;
    let view = blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .seal(&record_id, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await?;
    let shell = shell.inner().clone();
    tauri::async_runtime::spawn(async move {
        shell.sync.run_now(Duration::from_secs(1)).await;
    });
    Ok(view)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn start_amendment(
    shell: ShellState<'_>,
    args: In<cmd::StartAmendment>,
) -> Out<cmd::StartAmendment> {
    let RecordId { record_id } = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .start_amendment(&record_id, Utc::now())
            .map_err(command_error)?;
        views::inspection(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await
}

/// Syncs now and answers when that sync has finished (or after 2 minutes,
/// with the status so far).
#[tauri::command(rename_all = "snake_case")]
pub async fn sync_now(shell: ShellState<'_>, args: In<cmd::SyncNow>) -> Out<cmd::SyncNow> {
    let NoArgs {} = args;
    if shell
        .app()
        .map_err(command_error)?
        .enrolment()
        .map_err(command_error)?
        .is_none()
    {
        return Err(command_error(choucha_app_core::CoreError::NotEnrolled));
    }
    shell.sync.run_now(Duration::from_secs(120)).await;
    shell
        .sync
        .view(shell.app().map_err(command_error)?)
        .map_err(command_error)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn sync_status(shell: ShellState<'_>, args: In<cmd::SyncStatus>) -> Out<cmd::SyncStatus> {
    let NoArgs {} = args;
    // Polled by the screen every 1.5 s: not the officer's activity, so it
    // does not keep the idle lock away.
    blocking(&shell, |s| {
        let app = s
            .opened_app()
            .ok_or_else(|| command_error(choucha_app_core::CoreError::Locked))?;
        s.sync.view(app).map_err(command_error)
    })
    .await
}

/// The officer has read the revocation notice: the tablet's data, evidence
/// and key are wiped.
#[tauri::command(rename_all = "snake_case")]
pub async fn acknowledge_revocation(
    shell: ShellState<'_>,
    args: In<cmd::AcknowledgeRevocation>,
) -> Out<cmd::AcknowledgeRevocation> {
    let NoArgs {} = args;
    blocking(&shell, |s| {
        if !s.sync.is_revoked() {
            return Err(CommandError::new(
                "refused",
                "本设备未被注销，不能清除数据 (the device is not revoked)",
            ));
        }
        s.app()
            .map_err(command_error)?
            .wipe_after_revocation()
            .map_err(command_error)?;
        s.sync
            .view(s.app().map_err(command_error)?)
            .map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn save_settings(
    shell: ShellState<'_>,
    args: In<cmd::SaveSettings>,
) -> Out<cmd::SaveSettings> {
    let settings = args;
    if settings.authority.trim().is_empty() {
        return Err(CommandError::new(
            "refused",
            "请填写执法机关名称（打印在责令整改通知书上）(authority is empty)",
        ));
    }
    if settings.device_name.trim().is_empty() {
        return Err(CommandError::new(
            "refused",
            "请填写设备名称 (device name is empty)",
        ));
    }
    if let choucha_app_api::LocationSetting::Fixed {
        lat,
        lon,
        accuracy_m,
    } = settings.location
    {
        choucha_shared::GeoPoint::new(lat, lon, accuracy_m)
            .map_err(|e| CommandError::new("refused", format!("固定位置无效：{e}")))?;
    }
    crate::config::save_settings(&shell.config, &settings)
        .map_err(|e| CommandError::new("io", format!("设置保存失败：{e} (settings not saved)")))?;
    shell.position.set(settings.location.clone());
    *shell.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings.clone();
    Ok(settings)
}

/// A position from the platform (webview geolocation or the mobile plugin).
#[tauri::command(rename_all = "snake_case")]
pub fn location_fix(shell: ShellState<'_>, args: In<cmd::LocationFix>) -> Out<cmd::LocationFix> {
    let fix = args;
    shell
        .position
        .platform
        .update_from_web(fix.lat, fix.lon, fix.accuracy_m, fix.timestamp_ms, false)
        .map(|_| ())
        .map_err(|e| CommandError::new("refused", e.to_string()))
}

/// A timing measured by the front end, appended to `CHOUCHA_TIMINGS_FILE`
/// with the time since the process started (the benchmarks read it).
#[tauri::command(rename_all = "snake_case")]
pub fn ui_timing(shell: ShellState<'_>, args: In<cmd::UiTiming>) -> Out<cmd::UiTiming> {
    let timing = args;
    let Some(path) = &shell.config.timings_file else {
        return Ok(());
    };
    let since_start = shell.started.elapsed().as_secs_f64() * 1000.0;
    let line = format!("{} {:.1} {:.1}\n", timing.name, timing.ms, since_start);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| CommandError::new("io", e.to_string()))
}
