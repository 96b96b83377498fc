//! Directory imports (名录库): one function for the REST API, the
//! console's upload form, the command line and the demo.

use crate::import::{self, DirectoryKind, FileFormat};
use crate::store::{ImportMode, ImportSummary, Store};

use super::{Actor, ServiceError, ServiceResult};

/// Parses and stores one directory file. A file that cannot be read at
/// all is an error naming the file; bad rows come back in the summary
/// (nothing is written unless the mode is partial), with the audit entry
/// written in the import's transaction when it committed. A full import
/// (the whole target directory) marks the targets it lacks 不在最新名录.
#[tracing::instrument(skip_all, fields(actor = %actor, file_name = %file_name))]
pub async fn import_file(
    store: &Store,
    actor: &Actor,
    kind: DirectoryKind,
    bytes: &[u8],
    format: FileFormat,
    mode: ImportMode,
    file_name: &str,
) -> ServiceResult<ImportSummary> {
    if mode == ImportMode::Full && kind != DirectoryKind::Targets {
        return Err(ServiceError::BadInput {
            message:
                "完整名录导入只适用于检查对象名录 (a full import is for the target directory only)"
                    .into(),
            details: serde_json::json!({ "field": "mode" }),
        });
    }
    let partial = mode == ImportMode::Partial;
    let bad_file = |e: import::ImportError| ServiceError::BadInput {
        message: format!("{file_name}: {e}"),
        details: serde_json::json!({ "file": file_name }),
    };
    Ok(match kind {
        DirectoryKind::Targets => {
            let known = store.jurisdictions().await?;
            let parsed = import::parse_targets(bytes, format, &known).map_err(bad_file)?;
            store.import_targets(parsed, mode, file_name, actor).await?
        }
        DirectoryKind::Officers => {
            let known = store.jurisdictions().await?;
            let parsed = import::parse_officers(bytes, format, &known).map_err(bad_file)?;
            store
                .import_officers(parsed, partial, file_name, actor)
                .await?
        }
        DirectoryKind::Experts => {
            let parsed = import::parse_experts(bytes, format).map_err(bad_file)?;
            store
                .import_experts(parsed, partial, file_name, actor)
                .await?
        }
        DirectoryKind::Recusals => {
            let parsed = import::parse_recusals(bytes, format).map_err(bad_file)?;
            store
                .import_recusals(parsed, partial, file_name, actor)
                .await?
        }
    })
}

/// Parses a directory kind's code (`targets`, `officers`, `experts`,
/// `recusals`) as the REST path and the console form give it.
pub fn parse_kind(code: &str) -> ServiceResult<DirectoryKind> {
    code.parse().map_err(|_| {
        ServiceError::NotFound(format!(
            "未知的名录类型 '{code}'（targets / officers / experts / recusals）"
        ))
    })
}
