//! What the console's file forms send (multipart): the text fields and the
//! one file, read in one place so that every upload form reports a broken
//! upload, a missing file and a file of the wrong kind the same way; and
//! evidence files (photos, signature images) served to the pages that may
//! show them.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use choucha_shared::value::Sha256Hex;

use super::error::{ConsoleError, ConsoleResult};
use crate::AppState;
use crate::import::FileFormat;

/// A multipart form: its text fields by name and its `file`.
pub struct Upload {
    pub fields: BTreeMap<String, String>,
    /// The file's name as the browser sent it, and its bytes.
    pub file: Option<(String, Vec<u8>)>,
    /// Files sent as `attachment` (several may be), empty ones left out
    /// (a file input nothing was chosen in).
    pub attachments: Vec<(String, Vec<u8>)>,
}

impl Upload {
    /// Reads the whole form.
    pub async fn read(mut multipart: Multipart) -> ConsoleResult<Self> {
        let bad = ConsoleError::BadRequest;
        let mut fields = BTreeMap::new();
        let mut file = None;
        let mut attachments = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| bad(format!("上传内容无法读取：{e} (bad upload)")))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                let file_name = field.file_name().unwrap_or("upload").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| bad(format!("文件读取失败：{e} (upload failed)")))?;
                file = Some((file_name, bytes.to_vec()));
            } else if name == "attachment" {
                let file_name = field.file_name().unwrap_or("attachment").to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| bad(format!("附件读取失败：{e} (upload failed)")))?;
                if !bytes.is_empty() {
                    attachments.push((file_name, bytes.to_vec()));
                }
            } else {
                fields.insert(name, field.text().await.unwrap_or_default());
            }
        }
        Ok(Self {
            fields,
            file,
            attachments,
        })
    }

    /// A form sent either way: multipart (with files) or urlencoded (the
    /// same fields, no files), so a client without file support can still
    /// post it.
    pub async fn read_any(request: axum::extract::Request) -> ConsoleResult<Self> {
        use axum::extract::FromRequest;
        let multipart = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if multipart {
            let m = Multipart::from_request(request, &()).await.map_err(|e| {
                ConsoleError::BadRequest(format!("上传内容无法读取：{e} (bad upload)"))
            })?;
            return Self::read(m).await;
        }
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|e| ConsoleError::BadRequest(format!("表单无法读取：{e} (bad form)")))?;
        Ok(Self {
            fields: pairs.into_iter().collect(),
            file: None,
            attachments: Vec::new(),
        })
    }

    /// Whether a checkbox (or any field) was sent.
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The CSV or XLSX file, or why there is none: `missing` says what to
    /// choose.
    pub fn table(self, missing: &str) -> ConsoleResult<(String, Vec<u8>, FileFormat)> {
        let (name, bytes) = self
            .file
            .ok_or_else(|| ConsoleError::BadRequest(format!("{missing} (file)")))?;
        let format = FileFormat::from_file_name(&name).ok_or_else(|| {
            ConsoleError::BadRequest(format!(
                "文件 '{name}' 须为 .csv 或 .xlsx (file must end in .csv or .xlsx)"
            ))
        })?;
        Ok((name, bytes, format))
    }
}

/// An evidence file in full, once the caller has checked the user may see
/// it: PNG or JPEG by its first bytes, cached privately, never sniffed.
pub async fn evidence(state: &AppState, sha: &Sha256Hex) -> ConsoleResult<Response> {
    let bytes = state
        .uploads
        .store()
        .read_all(sha)
        .await
        .map_err(|e| ConsoleError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ConsoleError::NotFound("该文件尚未上传 (the file has not arrived yet)".into())
        })?;
    let ctype = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        "image/jpeg"
    } else {
        "application/octet-stream"
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400, immutable"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}
