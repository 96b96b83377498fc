//! The Tauri commands of 复查 (the follow-up visit of a rectification
//! order): each calls the app core and answers with the 复查 view. As for
//! inspections, photos and signatures run off the UI thread.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tauri::State;

use choucha_app_api::command::{RecheckId, RecordId};
use choucha_app_api::{Command, CommandError, RecheckPhotoTaken, cmd};
use choucha_app_core::photo::PhotoConfig;

use crate::Shell;
use crate::commands::{blocking, data_url, raw_photo, refusal_of};
use crate::error::{CmdResult, command_error};
use crate::views;

type ShellState<'a> = State<'a, Arc<Shell>>;
type In<C> = <C as Command>::Args;
type Out<C> = CmdResult<<C as Command>::Output>;

crate::serves! {
    cmd::Recheck => recheck,
    cmd::StartRecheck => start_recheck,
    cmd::SetRecheckResult => set_recheck_result,
    cmd::TakeRecheckPhoto => take_recheck_photo,
    cmd::SignRecheck => sign_recheck,
    cmd::RecheckRefusal => recheck_refusal,
    cmd::SealRecheck => seal_recheck,
}

#[tauri::command(rename_all = "snake_case")]
pub async fn recheck(shell: ShellState<'_>, args: In<cmd::Recheck>) -> Out<cmd::Recheck> {
    let RecheckId { recheck_id } = args;
    blocking(&shell, move |s| {
        views::recheck(s.app().map_err(command_error)?, &recheck_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn start_recheck(
    shell: ShellState<'_>,
    args: In<cmd::StartRecheck>,
) -> Out<cmd::StartRecheck> {
    let RecheckId { recheck_id } = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .start_recheck(&recheck_id, Utc::now())
            .map_err(command_error)?;
        views::recheck(s.app().map_err(command_error)?, &recheck_id).map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn set_recheck_result(
    shell: ShellState<'_>,
    args: In<cmd::SetRecheckResult>,
) -> Out<cmd::SetRecheckResult> {
    let req = args;
    blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .set_recheck_result(
                &req.record_id,
                &req.finding_id,
                req.outcome,
                req.note,
                Utc::now(),
            )
            .map_err(command_error)?;
        views::recheck_of_record(s.app().map_err(command_error)?, &req.record_id)
            .map_err(command_error)
    })
    .await
}

/// The raw image goes through the photo pipeline, watermarked with the
/// 复查's facts; the position is taken as for an inspection, around the
/// target's registered location when simulated.
#[tauri::command(rename_all = "snake_case")]
pub async fn take_recheck_photo(
    shell: ShellState<'_>,
    request: tauri::ipc::Request<'_>,
) -> Out<cmd::TakeRecheckPhoto> {
    let (record_id, subject, raw) = raw_photo(&request)?;
    blocking(&shell, move |s| {
        let record = s
            .app()
            .map_err(command_error)?
            .recheck_record(&record_id)
            .map_err(command_error)?;
        // The inspection task is on the device when this officer was on
        // its team (every officer of the team gets it).
        let registered = s
            .app()
            .map_err(command_error)?
            .task(&record.task_id)
            .ok()
            .and_then(|b| b.target.location);
        let fix = s.position.fix(record_id, registered).ok();
        let sha = s
            .app()
            .map_err(command_error)?
            .take_recheck_photo(
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
        Ok(RecheckPhotoTaken {
            sha256: sha.to_string(),
            data_url: data_url(&jpeg),
            recheck: views::recheck_of_record(s.app().map_err(command_error)?, &record_id)
                .map_err(command_error)?,
        })
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn sign_recheck(
    shell: ShellState<'_>,
    args: In<cmd::SignRecheck>,
) -> Out<cmd::SignRecheck> {
    let req = args;
    blocking(&shell, move |s| {
        if req.name.trim().is_empty() {
            return Err(CommandError::new(
                "refused",
                "请填写签字人姓名 (signer name is empty)",
            ));
        }
        s.app()
            .map_err(command_error)?
            .sign_recheck_with_capture(
                &req.record_id,
                req.role,
                req.person_id,
                &req.name,
                &req.capture,
                Utc::now(),
            )
            .map_err(command_error)?;
        views::recheck_of_record(s.app().map_err(command_error)?, &req.record_id)
            .map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn recheck_refusal(
    shell: ShellState<'_>,
    args: In<cmd::RecheckRefusal>,
) -> Out<cmd::RecheckRefusal> {
    let req = args;
    blocking(&shell, move |s| {
        let refusal = refusal_of(&req.reason, req.witness);
        s.app()
            .map_err(command_error)?
            .record_recheck_refusal(&req.record_id, refusal, Utc::now())
            .map_err(command_error)?;
        views::recheck_of_record(s.app().map_err(command_error)?, &req.record_id)
            .map_err(command_error)
    })
    .await
}

/// Seals the 复查 record (refused with every violation listed when it is
/// not complete), then wakes the background sync.
#[tauri::command(rename_all = "snake_case")]
pub async fn seal_recheck(
    shell: ShellState<'_>,
    args: In<cmd::SealRecheck>,
) -> Out<cmd::SealRecheck> {
    let RecordId { record_id } = args;
    let view = blocking(&shell, move |s| {
        s.app()
            .map_err(command_error)?
            .seal_recheck(&record_id, Utc::now())
            .map_err(command_error)?;
        views::recheck_of_record(s.app().map_err(command_error)?, &record_id).map_err(command_error)
    })
    .await?;
    let shell = shell.inner().clone();
    tauri::async_runtime::spawn(async move {
        shell.sync.run_now(Duration::from_secs(1)).await;
    });
    Ok(view)
}
