//! Location (定位): where the tablet is when photos are taken and the record
//! is signed, and how far that position can be trusted.
//!
//! A [`LocationProvider`] gives the current [`Fix`]. On the device the Tauri
//! shell pushes the webview's geolocation into an [`ExternalProvider`]; on a
//! desktop a [`FixedProvider`] reports the configured office position; tests
//! and demos use a [`SimulatedProvider`] that replays fixes or walks randomly
//! (seeded) around a point.
//!
//! [`assess`] looks at one fix (and the previous one) and says whether it is
//! stale, looks mocked, or is too inaccurate to count as proof of presence
//! (证实履职到位). It never refuses a fix: the officers still record where
//! they are, and the reasons travel with the record for review.

use std::sync::Mutex;

use choucha_shared::value::{GeoPoint, ValueError};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A fix older than this (seconds) is stale.
pub const STALE_AFTER_SECS: i64 = 120;
/// A fix time more than this (seconds) ahead of the device clock means one of
/// the two clocks is wrong.
pub const MAX_CLOCK_LEAD_SECS: i64 = 30;
/// Moving faster than this between two fixes is implausible on the ground.
pub const MAX_SPEED_KMH: f64 = 300.0;
/// Horizontal accuracy worse than this (metres) is poor.
pub const POOR_ACCURACY_M: f64 = 100.0;
/// Coordinates that are multiples of 10^-N in both latitude and longitude
/// look typed in rather than measured.
pub const MIN_DECIMALS: u32 = 4;

/// One position fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// WGS-84 position with its horizontal accuracy.
    pub point: GeoPoint,
    /// When the receiver took the fix (satellite time where available).
    pub fix_time: DateTime<Utc>,
    /// Which provider produced it (`fixed`, `simulated`, `webview`, `gps`…).
    pub provider: String,
    /// The platform said the position comes from a mock provider (Android's
    /// `isFromMockProvider`, or a fixed/simulated provider here).
    pub reported_mock: bool,
}

/// Why no fix could be had. Chinese first, English in brackets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocationError {
    #[error("尚未获得定位，请到室外或靠近窗口重试 (no location fix yet)")]
    NoFix,
    #[error("未授予定位权限，请在系统设置中允许本应用定位 (location permission denied)")]
    PermissionDenied,
    #[error("定位不可用：{0} (location unavailable)")]
    Unavailable(String),
    #[error("模拟定位序列已用完 (the simulated fixes are exhausted)")]
    Exhausted,
    #[error("定位坐标无效：{0} (invalid position)")]
    Invalid(ValueError),
}

/// Where the current position comes from.
pub trait LocationProvider: Send + Sync {
    fn current(&self) -> Result<Fix, LocationError>;
}

/// A configured point, e.g. a desktop's office position from settings. The
/// position is not measured, so its fixes are marked `reported_mock`: they
/// never count as proof of presence.
#[derive(Debug, Clone)]
pub struct FixedProvider {
    point: GeoPoint,
    fix_time: Option<DateTime<Utc>>,
}

impl FixedProvider {
    pub const NAME: &'static str = "fixed";

    /// `accuracy_m` is what the fixes report (None: unknown).
    pub fn new(lat: f64, lon: f64, accuracy_m: Option<f64>) -> Result<Self, LocationError> {
        let point = GeoPoint::new(lat, lon, accuracy_m).map_err(LocationError::Invalid)?;
        Ok(Self {
            point,
            fix_time: None,
        })
    }

    pub fn from_point(point: GeoPoint) -> Self {
        Self {
            point,
            fix_time: None,
        }
    }

    /// Report this fix time instead of the clock's (for tests).
    pub fn with_fix_time(mut self, t: DateTime<Utc>) -> Self {
        self.fix_time = Some(t);
        self
    }

    pub fn point(&self) -> GeoPoint {
        self.point
    }
}

impl LocationProvider for FixedProvider {
    fn current(&self) -> Result<Fix, LocationError> {
        Ok(Fix {
            point: self.point,
            fix_time: self.fix_time.unwrap_or_else(Utc::now),
            provider: Self::NAME.to_owned(),
            reported_mock: true,
        })
    }
}

/// Fixes for tests and demos: a list replayed in order, or a seeded random
/// walk around a point. Independent of the wall clock, so reproducible.
#[derive(Debug)]
pub struct SimulatedProvider {
    state: Mutex<SimState>,
}

#[derive(Debug)]
enum SimState {
    Replay {
        fixes: Vec<Fix>,
        next: usize,
    },
    Walk {
        rng: SplitMix64,
        lat: f64,
        lon: f64,
        time: DateTime<Utc>,
        interval: Duration,
        max_step_m: f64,
        started: bool,
    },
}

impl SimulatedProvider {
    pub const NAME: &'static str = "simulated";

    /// Replays `fixes` in order, then answers [`LocationError::Exhausted`].
    /// The fixes are returned exactly as given (their provider name and mock
    /// flag included), so tests can feed any situation.
    pub fn replay(fixes: Vec<Fix>) -> Self {
        Self {
            state: Mutex::new(SimState::Replay { fixes, next: 0 }),
        }
    }

    /// A random walk starting at `origin` at time `start`: each call moves up
    /// to `max_step_m` metres in a random direction and advances the fix time
    /// by `interval`. Accuracy varies between 3 and 15 m. The same seed gives
    /// the same walk. Fixes are marked `reported_mock`.
    pub fn random_walk(
        origin: GeoPoint,
        seed: u64,
        start: DateTime<Utc>,
        interval: Duration,
        max_step_m: f64,
    ) -> Self {
        Self {
            state: Mutex::new(SimState::Walk {
                rng: SplitMix64(seed),
                lat: origin.lat,
                lon: origin.lon,
                time: start,
                interval,
                max_step_m: max_step_m.max(0.0),
                started: false,
            }),
        }
    }
}

impl LocationProvider for SimulatedProvider {
    fn current(&self) -> Result<Fix, LocationError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *state {
            SimState::Replay { fixes, next } => {
                let fix = fixes.get(*next).cloned().ok_or(LocationError::Exhausted)?;
                *next += 1;
                Ok(fix)
            }
            SimState::Walk {
                rng,
                lat,
                lon,
                time,
                interval,
                max_step_m,
                started,
            } => {
                if *started {
                    let bearing = rng.next_f64() * std::f64::consts::TAU;
                    let dist = rng.next_f64() * *max_step_m;
                    const M_PER_DEG: f64 = 111_195.0;
                    *lat = (*lat + dist * bearing.cos() / M_PER_DEG).clamp(-89.9, 89.9);
                    let m_per_deg_lon = M_PER_DEG * lat.to_radians().cos().max(1e-6);
                    *lon += dist * bearing.sin() / m_per_deg_lon;
                    if *lon > 180.0 {
                        *lon -= 360.0;
                    } else if *lon < -180.0 {
                        *lon += 360.0;
                    }
                    *time += *interval;
                }
                *started = true;
                let accuracy = 3.0 + rng.next_f64() * 12.0;
                let point =
                    GeoPoint::new(*lat, *lon, Some(accuracy)).map_err(LocationError::Invalid)?;
                Ok(Fix {
                    point,
                    fix_time: *time,
                    provider: Self::NAME.to_owned(),
                    reported_mock: true,
                })
            }
        }
    }
}

/// The last fix pushed in from the platform. The Tauri shell calls
/// [`ExternalProvider::update`] with every position the webview's
/// geolocation reports (and [`ExternalProvider::fail`] with its errors);
/// `current()` returns the last fix, or the last error when there is none.
#[derive(Debug)]
pub struct ExternalProvider {
    name: String,
    state: Mutex<ExternalState>,
}

#[derive(Debug, Default)]
struct ExternalState {
    last: Option<Fix>,
    error: Option<LocationError>,
}

impl ExternalProvider {
    /// `name` is recorded as the fixes' provider when the platform does not
    /// name one (e.g. `webview`).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            state: Mutex::new(ExternalState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExternalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new fix from the platform replaces the previous one.
    pub fn update(&self, fix: Fix) {
        let mut s = self.lock();
        s.last = Some(fix);
        s.error = None;
    }

    /// A fix from the values of a W3C `GeolocationPosition`: latitude and
    /// longitude in degrees, accuracy in metres, `timestamp` in milliseconds
    /// since the Unix epoch. Returns the fix it stored.
    pub fn update_from_web(
        &self,
        latitude: f64,
        longitude: f64,
        accuracy_m: Option<f64>,
        timestamp_ms: i64,
        reported_mock: bool,
    ) -> Result<Fix, LocationError> {
        let point =
            GeoPoint::new(latitude, longitude, accuracy_m).map_err(LocationError::Invalid)?;
        let fix_time = Utc
            .timestamp_millis_opt(timestamp_ms)
            .single()
            .ok_or_else(|| LocationError::Unavailable(format!("时间戳无效 {timestamp_ms}")))?;
        let fix = Fix {
            point,
            fix_time,
            provider: self.name.clone(),
            reported_mock,
        };
        self.update(fix.clone());
        Ok(fix)
    }

    /// The platform reported an error (permission denied, timeout…). A fix
    /// already held is still returned; [`assess`] will call it stale.
    pub fn fail(&self, error: LocationError) {
        self.lock().error = Some(error);
    }

    /// Forget the last fix (e.g. when a new inspection starts).
    pub fn clear(&self) {
        *self.lock() = ExternalState::default();
    }
}

impl LocationProvider for ExternalProvider {
    fn current(&self) -> Result<Fix, LocationError> {
        let s = self.lock();
        match (&s.last, &s.error) {
            (Some(fix), _) => Ok(fix.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(LocationError::NoFix),
        }
    }
}

/// How far a fix can be trusted. Each flag that is set has at least one
/// line in `reasons` (Chinese first, English in brackets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FixAssessment {
    /// Older than [`Thresholds::stale_after`].
    pub stale: bool,
    /// Reported mock, accuracy of exactly 0 m, an implausible jump from the
    /// previous fix, or coordinates too round to be measured.
    pub suspected_mock: bool,
    /// Accuracy worse than [`Thresholds::poor_accuracy_m`], or not reported.
    pub poor_accuracy: bool,
    /// The fix time is ahead of the device clock: the device clock is wrong
    /// (common offline), so photo times need checking.
    pub clock_skew: bool,
    pub reasons: Vec<String>,
}

impl FixAssessment {
    /// Nothing to remark: fresh, plausible and accurate.
    pub fn is_trustworthy(&self) -> bool {
        !(self.stale || self.suspected_mock || self.poor_accuracy || self.clock_skew)
    }
}

/// The limits [`assess_with`] applies; [`Default`] uses the module constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub stale_after: Duration,
    pub max_clock_lead: Duration,
    pub max_speed_kmh: f64,
    pub poor_accuracy_m: f64,
    pub min_decimals: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            stale_after: Duration::seconds(STALE_AFTER_SECS),
            max_clock_lead: Duration::seconds(MAX_CLOCK_LEAD_SECS),
            max_speed_kmh: MAX_SPEED_KMH,
            poor_accuracy_m: POOR_ACCURACY_M,
            min_decimals: MIN_DECIMALS,
        }
    }
}

/// Assess `fix` at device time `now`, against the `previous` fix if any,
/// with the default [`Thresholds`].
pub fn assess(fix: &Fix, now: DateTime<Utc>, previous: Option<&Fix>) -> FixAssessment {
    assess_with(fix, now, previous, &Thresholds::default())
}

pub fn assess_with(
    fix: &Fix,
    now: DateTime<Utc>,
    previous: Option<&Fix>,
    limits: &Thresholds,
) -> FixAssessment {
    let mut a = FixAssessment::default();

    let age = now - fix.fix_time;
    if age > limits.stale_after {
        a.stale = true;
        a.reasons.push(format!(
            "定位已过时：{} 前获得，超过 {} 秒 (the fix is stale: {} s old, limit {} s)",
            describe_secs(age.num_seconds()),
            limits.stale_after.num_seconds(),
            age.num_seconds(),
            limits.stale_after.num_seconds(),
        ));
    } else if -age > limits.max_clock_lead {
        a.clock_skew = true;
        a.reasons.push(format!(
            "定位时间比设备时间晚 {} 秒，设备时钟可能不准 (the fix time is {} s ahead of the device clock; the clock may be wrong)",
            (-age).num_seconds(),
            (-age).num_seconds(),
        ));
    }

    if fix.reported_mock {
        a.suspected_mock = true;
        a.reasons.push(format!(
            "系统报告为模拟定位（来源：{}）(the platform reports a mock location, provider {})",
            fix.provider, fix.provider
        ));
    }
    if fix.point.accuracy_m == Some(0.0) {
        a.suspected_mock = true;
        a.reasons.push(
            "定位精度恰为 0 米，真实定位不会如此 (an accuracy of exactly 0 m is not produced by a real receiver)"
                .to_owned(),
        );
    }
    if is_round(fix.point.lat, limits.min_decimals) && is_round(fix.point.lon, limits.min_decimals)
    {
        a.suspected_mock = true;
        a.reasons.push(format!(
            "坐标 ({}, {}) 小数位少于 {} 位，像是手工输入而非实测 (coordinates with fewer than {} decimals look typed in)",
            fix.point.lat, fix.point.lon, limits.min_decimals, limits.min_decimals
        ));
    }
    if let Some(prev) = previous {
        let dist = fix.point.distance_m(&prev.point);
        // Movement within the two accuracy circles is not evidence of a jump.
        let slack = prev.point.accuracy_m.unwrap_or(0.0) + fix.point.accuracy_m.unwrap_or(0.0);
        let moved = (dist - slack).max(0.0);
        let dt_ms = (fix.fix_time - prev.fix_time).num_milliseconds().abs();
        // Two fixes in the same second: treat as one second apart.
        let secs = (dt_ms as f64 / 1000.0).max(1.0);
        let kmh = moved / secs * 3.6;
        if kmh > limits.max_speed_kmh {
            a.suspected_mock = true;
            a.reasons.push(format!(
                "与上次定位相距 {dist:.0} 米、间隔 {secs:.0} 秒，速度约 {kmh:.0} 公里/小时，不合常理 (implausible jump: {dist:.0} m in {secs:.0} s, about {kmh:.0} km/h)",
            ));
        }
    }

    match fix.point.accuracy_m {
        Some(acc) if acc > limits.poor_accuracy_m => {
            a.poor_accuracy = true;
            a.reasons.push(format!(
                "定位精度较差：{acc:.0} 米，超过 {:.0} 米 (poor accuracy: {acc:.0} m, limit {:.0} m)",
                limits.poor_accuracy_m, limits.poor_accuracy_m
            ));
        }
        Some(_) => {}
        None => {
            a.poor_accuracy = true;
            a.reasons
                .push("未报告定位精度 (the fix has no accuracy)".to_owned());
        }
    }
    a
}

fn describe_secs(secs: i64) -> String {
    if secs >= 3600 {
        format!("{} 小时 {} 分", secs / 3600, secs % 3600 / 60)
    } else if secs >= 60 {
        format!("{} 分 {} 秒", secs / 60, secs % 60)
    } else {
        format!("{secs} 秒")
    }
}

/// Whether `v` is a multiple of 10^-decimals (allowing for binary rounding).
fn is_round(v: f64, decimals: u32) -> bool {
    let scaled = v * 10f64.powi(decimals as i32 - 1);
    (scaled - scaled.round()).abs() < 1e-6
}

/// SplitMix64: a tiny, fixed PRNG so a seed gives the same walk on every
/// platform and every version of the `rand` crate.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
