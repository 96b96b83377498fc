//! Every command the shell serves, as a type: its name as `invoke` spells
//! it, its arguments and its answer. The shell's handler for `C` takes
//! `args: C::Args` and returns `C::Output`; the front end's
//! `ipc::invoke::<C>(&args)` sends `{ "args": … }` and reads a `C::Output`.
//! A command whose handler disagrees does not compile on one side or the
//! other; the shell also checks at compile time that each handler's name
//! is its command's `NAME`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One command between the front end and the shell.
pub trait Command {
    /// The handler's name, as `invoke` spells it.
    const NAME: &'static str;
    /// Whether the front end runs it in the order the user acted (it
    /// changes a record). Reads and status polls need not wait.
    const SERIAL: bool = true;
    type Args: Serialize + DeserializeOwned;
    type Output: Serialize + DeserializeOwned;
}

/// Arguments of a command that needs none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskId {
    pub task_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecheckId {
    pub recheck_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordId {
    pub record_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobId {
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPhoto {
    pub record_id: Uuid,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFinding {
    pub record_id: Uuid,
    pub finding_id: Uuid,
}

macro_rules! commands {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal, $args:ty => $out:ty $(, serial = $serial:literal)? ;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl Command for $ty {
                const NAME: &'static str = $name;
                $(const SERIAL: bool = $serial;)?
                type Args = $args;
                type Output = $out;
            }
        )*

        /// Every command's name.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

/// The commands, by the name the front end invokes.
pub mod cmd {
    use super::*;
    use crate::{
        AddFinding as AddFindingReq, Ask as AskReq, EnrolTarget, EnrolmentView,
        Escalate as EscalateReq, Home as HomeView, Inspection as InspectionView,
        LocationFix as Fix, OrderView, PhotoTaken, PinChange, PinEntry, PinView, RecheckPhotoTaken,
        RecheckView, Refusal, SetItem as SetItemReq, SetOutcome as SetOutcomeReq,
        SetRecheckResult as SetRecheckResultReq, Settings, Sign as SignReq, SyncView,
        TaskDetail as Detail, UiTiming as Timing,
    };

    commands! {
        /// The start screen: enrolment, tasks, sync status.
        Home = "home", NoArgs => HomeView, serial = false;
        Enrol = "enrol", EnrolTarget => EnrolmentView;
        TaskDetail = "task_detail", TaskId => Detail, serial = false;
        StartTask = "start_task", TaskId => InspectionView;
        Inspection = "inspection", RecordId => InspectionView, serial = false;
        SetItem = "set_item", SetItemReq => InspectionView;
        SetOutcome = "set_outcome", SetOutcomeReq => InspectionView;
        /// Raw body: the image file's bytes; headers
        /// [`crate::PHOTO_RECORD_HEADER`] and [`crate::PHOTO_SUBJECT_HEADER`].
        TakePhoto = "take_photo", NoArgs => PhotoTaken;
        PhotoData = "photo_data", BlobId => String, serial = false;
        RemovePhoto = "remove_photo", RecordPhoto => InspectionView;
        AddFinding = "add_finding", AddFindingReq => InspectionView;
        RemoveFinding = "remove_finding", RecordFinding => InspectionView;
        RectificationOrders = "rectification_orders", RecordId => Vec<OrderView>, serial = false;
        Sign = "sign", SignReq => InspectionView;
        RecordRefusal = "record_refusal", Refusal => InspectionView;
        Seal = "seal", RecordId => InspectionView;
        StartAmendment = "start_amendment", RecordId => InspectionView;
        SyncNow = "sync_now", NoArgs => SyncView, serial = false;
        SyncStatus = "sync_status", NoArgs => SyncView, serial = false;
        /// After the revocation notice: wipes the tablet's data and key.
        AcknowledgeRevocation = "acknowledge_revocation", NoArgs => SyncView;
        SaveSettings = "save_settings", Settings => Settings;
        LocationFix = "location_fix", Fix => (), serial = false;
        UiTiming = "ui_timing", Timing => (), serial = false;
        /// 复查: one task with its record as it stands.
        Recheck = "recheck", RecheckId => RecheckView, serial = false;
        StartRecheck = "start_recheck", RecheckId => RecheckView;
        SetRecheckResult = "set_recheck_result", SetRecheckResultReq => RecheckView;
        /// Raw body as for [`TakePhoto`]: the photo of the gate or of a
        /// finding's state now.
        TakeRecheckPhoto = "take_recheck_photo", NoArgs => RecheckPhotoTaken;
        SignRecheck = "sign_recheck", SignReq => RecheckView;
        RecheckRefusal = "recheck_refusal", Refusal => RecheckView;
        SealRecheck = "seal_recheck", RecordId => RecheckView;
        /// 咨询: a question to the quality section, offline too.
        AskQuestion = "ask_question", AskReq => InspectionView;
        /// 上报: a problem reported upward at once, offline too.
        Escalate = "escalate", EscalateReq => InspectionView;
        /// The PIN lock: what the lock screen asks for.
        PinStatus = "pin_status", NoArgs => PinView, serial = false;
        /// The first PIN (first start): the data key is made and wrapped.
        SetPin = "set_pin", PinEntry => PinView;
        /// Unlocks the data with the PIN (at start and after idle time).
        Unlock = "unlock", PinEntry => PinView;
        ChangePin = "change_pin", PinChange => PinView;
    }
}

/// Whether two names are the same, at compile time (the shell's check
/// that a handler is named as its command says).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_args_are_objects() {
        let mut names = cmd::ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cmd::ALL.len());
        // Tauri reads named arguments from an object.
        assert_eq!(
            serde_json::to_value(NoArgs {}).unwrap(),
            serde_json::json!({})
        );
        assert!(same_name(cmd::SetItem::NAME, "set_item"));
        assert!(!same_name(cmd::SetItem::NAME, "set_items"));
        const { assert!(!<cmd::SyncStatus as Command>::SERIAL) };
        const { assert!(<cmd::Seal as Command>::SERIAL) };
    }
}
