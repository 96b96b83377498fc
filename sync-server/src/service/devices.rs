//! Tablets: a one-time enrolment code for an officer, the device's
//! exchange of that code for its token, and revocation.

use choucha_shared::sync::EnrolResponse;

use super::{Actor, ServiceError, ServiceResult};
use crate::store::{EnrolmentCode, Store, StoreError};

/// How long an enrolment code stays valid by default: one working day.
pub const DEFAULT_CODE_MINUTES: i64 = 24 * 60;
/// The longest validity a code may be given: three days, so a code noted
/// down and lost is not good for long.
pub const MAX_CODE_MINUTES: i64 = 72 * 60;

/// A one-time code for `officer_id`'s tablet, valid `minutes` (default
/// one day, at most 30 days).
#[tracing::instrument(skip_all, fields(actor = %actor, officer_id = %officer_id))]
pub async fn create_enrolment(
    store: &Store,
    actor: &Actor,
    officer_id: &str,
    minutes: Option<i64>,
) -> ServiceResult<EnrolmentCode> {
    let minutes = minutes.unwrap_or(DEFAULT_CODE_MINUTES);
    if !(1..=MAX_CODE_MINUTES).contains(&minutes) {
        return Err(ServiceError::bad_input(
            "注册码有效期须在 1 分钟到 72 小时之间 (valid_minutes)",
        ));
    }
    Ok(store
        .create_enrolment(actor, officer_id, chrono::Duration::minutes(minutes))
        .await?)
}

/// Failed enrolments one client may make within [`ENROL_WINDOW_MINUTES`]
/// before it must wait: a typo or two, never enough to guess a code.
pub const MAX_ENROL_FAILURES: i64 = 10;
pub const ENROL_WINDOW_MINUTES: i64 = 15;
/// Failed enrolments of codes with one first group, from any client: after
/// these, that group is locked for the window, so a code whose first group
/// was seen cannot be guessed from many addresses.
pub const MAX_PREFIX_FAILURES: i64 = 5;
/// Failed enrolments from all clients together within the window: a
/// bureau enrols a few dozen tablets a day; beyond this it is a flood.
pub const MAX_GLOBAL_ENROL_FAILURES: i64 = 500;

/// A tablet at `client` (the address rate limits count, see
/// `client_addr`) exchanges its one-time code for a device token.
#[tracing::instrument(skip_all, fields(client = %client))]
pub async fn enrol(
    store: &Store,
    code: &str,
    device_name: &str,
    client: &str,
) -> ServiceResult<EnrolResponse> {
    let window = chrono::Duration::minutes(ENROL_WINDOW_MINUTES);
    let wait = || {
        ServiceError::TooManyAttempts(format!(
            "注册码错误次数过多，请 {ENROL_WINDOW_MINUTES} 分钟后再试 \
             (too many failed enrolments; try again in {ENROL_WINDOW_MINUTES} minutes)"
        ))
    };
    if store.recent_enrolment_failures(client, window).await? >= MAX_ENROL_FAILURES
        || store.recent_prefix_failures(code, window).await? >= MAX_PREFIX_FAILURES
        || store.recent_enrolment_failures_anywhere(window).await? >= MAX_GLOBAL_ENROL_FAILURES
    {
        return Err(wait());
    }
    let result = store.enrol(code, device_name).await;
    let refused = matches!(result, Err(StoreError::Invalid { .. }));
    if result.is_ok() || refused {
        store
            .record_enrolment_attempt(client, code, !refused)
            .await?;
    }
    Ok(result?)
}

/// Revokes a device: every later request with its token is refused.
#[tracing::instrument(skip_all, fields(actor = %actor, device_id = %device_id))]
pub async fn revoke(store: &Store, actor: &Actor, device_id: &str) -> ServiceResult<()> {
    Ok(store.revoke_device(actor, device_id).await?)
}
