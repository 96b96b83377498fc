//! Consultation (咨询, seed §五(三)): an officer on site asks the quality
//! section (质量科) a professional or technical question about a checklist
//! item or a finding, and gets the answer on the tablet.
//!
//! A question is made on the device, offline if need be, and travels as one
//! log entry (`EntryPayload::QuestionAsked`), synced exactly once like
//! everything else; its photos are evidence blobs uploaded like an
//! inspection's. The answer comes back in the officer's feed
//! (`FeedItem::QuestionAnswered`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::value::Sha256Hex;

/// Longest question or answer text taken (characters).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most photos one question carries.
pub const MAX_PHOTOS: usize = 6;

/// A question asked on site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Question {
    /// Made on the device (UUIDv7).
    pub question_id: Uuid,
    /// The task the team is inspecting.
    pub task_id: String,
    /// The checklist item it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The finding it is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_id: Option<Uuid>,
    pub text: String,
    /// Photos of what is asked about (evidence blobs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Sha256Hex>,
    pub asked_at: DateTime<Utc>,
}

/// The quality section's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    pub question_id: Uuid,
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub text: String,
    /// The legal basis (法律依据) the answer cites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Who answered, as the officer should read it (质量科 王建国).
    pub answered_by: String,
    pub answered_at: DateTime<Utc>,
    /// Images the answer comes with (the page of a standard, a sample of
    /// a correct label), sent to the asking officer's tablet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Sha256Hex>,
}

/// An answered question the quality section made guidance for every
/// officer (常见问题): attached to a checklist item, it travels with the
/// checklist. Numbered per checklist (`seq`), so the FAQ of a checklist is
/// versioned: an officer's tablet holds entries 1…n.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaqEntry {
    /// The question it was made from.
    pub faq_id: Uuid,
    /// The checklist's ID (every version of it: an item ID names the same
    /// requirement across versions).
    pub checklist_id: String,
    pub item_id: String,
    pub seq: u32,
    pub question: String,
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    pub published_at: DateTime<Utc>,
}

/// A question as its asker sees it: with the answer once it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuestionView {
    pub question: Question,
    pub answer: Option<Answer>,
}

/// What is wrong with a question or an answer, in the words shown to the
/// person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsultError {
    #[error("请填写问题内容")]
    EmptyText,
    #[error("内容过长：{0} 个字，最多 {MAX_TEXT_CHARS} 个字")]
    TooLong(usize),
    #[error("照片过多：{0} 张，最多 {MAX_PHOTOS} 张")]
    TooManyPhotos(usize),
    #[error("请填写答复内容")]
    EmptyAnswer,
    #[error("附件过多：{0} 个，最多 {MAX_PHOTOS} 个")]
    TooManyAttachments(usize),
}

/// A text of at most [`MAX_TEXT_CHARS`], not blank.
fn check_text(text: &str, empty: ConsultError) -> Result<(), ConsultError> {
    let n = text.trim().chars().count();
    if n == 0 {
        return Err(empty);
    }
    if n > MAX_TEXT_CHARS {
        return Err(ConsultError::TooLong(n));
    }
    Ok(())
}

impl Question {
    /// The rules a question meets wherever it is made or received.
    pub fn check(&self) -> Result<(), ConsultError> {
        check_text(&self.text, ConsultError::EmptyText)?;
        if self.photos.len() > MAX_PHOTOS {
            return Err(ConsultError::TooManyPhotos(self.photos.len()));
        }
        Ok(())
    }
}

impl Answer {
    pub fn check(&self) -> Result<(), ConsultError> {
        check_text(&self.text, ConsultError::EmptyAnswer)?;
        if self.attachments.len() > MAX_PHOTOS {
            return Err(ConsultError::TooManyAttachments(self.attachments.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(text: &str, photos: usize) -> Question {
        Question {
            question_id: Uuid::nil(),
            task_id: "T".into(),
            item_id: Some("MET-1.01".into()),
            finding_id: None,
            text: text.into(),
            photos: (0..photos).map(|i| Sha256Hex::of(&[i as u8])).collect(),
            asked_at: Utc::now(),
        }
    }

    #[test]
    fn a_question_needs_words_and_few_photos() {
        assert_eq!(question("  ", 0).check(), Err(ConsultError::EmptyText));
        assert_eq!(
            question(&"问".repeat(2001), 0).check(),
            Err(ConsultError::TooLong(2001))
        );
        assert_eq!(
            question("加油机检定标志过期如何处理？", 7).check(),
            Err(ConsultError::TooManyPhotos(7))
        );
        assert_eq!(question("加油机检定标志过期如何处理？", 2).check(), Ok(()));
    }
}
