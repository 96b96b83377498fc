//! What a signature pad captured: strokes of sampled points. The field
//! app's front end sends it, the app core renders and binds it; both use
//! these types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// One sampled point of a stroke, in pad pixels from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Point {
    pub x: f32,
    pub y: f32,
    /// Milliseconds since the capture started.
    pub t_ms: u32,
    /// Pen pressure 0..=1 where the device reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<f32>,
}

/// One pen-down … pen-up movement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stroke {
    pub points: Vec<Point>,
}

/// Everything the signing pad captured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capture {
    /// Pad size in pixels; every point must lie inside it.
    pub width: u32,
    pub height: u32,
    pub strokes: Vec<Stroke>,
}

impl Capture {
    /// Total number of points in all strokes.
    pub fn point_count(&self) -> usize {
        self.strokes.iter().map(|s| s.points.len()).sum()
    }

    /// The canonical JSON of the capture, as stored beside the PNG.
    pub fn to_json(&self) -> String {
        // Plain numbers and vectors: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
