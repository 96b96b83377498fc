//! Where photo positions come from on this platform.
//!
//! * `platform` — the front end forwards what the platform reports (the
//!   webview's `navigator.geolocation`; on Android/iOS the Tauri
//!   geolocation plugin, see docs/app.md) through the `location_fix`
//!   command into the core's `ExternalProvider`.
//! * `fixed` — a configured point (a desktop at the office); the core marks
//!   its fixes as not measured.
//! * `simulated` — a seeded random walk around the task's registered
//!   location, one walk per record (demos and tests).
//!
//! A start-up override (`CHOUCHA_LOCATION`) wins over the setting.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Duration, Utc};
use uuid::Uuid;

use choucha_app_api::{LocationSetting, Settings};
use choucha_app_core::location::{
    ExternalProvider, Fix, FixedProvider, LocationError, LocationProvider, SimulatedProvider,
};
use choucha_shared::GeoPoint;

use crate::error::StartError;

/// Used when a simulated walk has no registered location to start from
/// (the seed document's zone).
const DEFAULT_ORIGIN: (f64, f64) = (29.6005, 106.3062);

#[derive(Debug)]
pub struct Positions {
    pub platform: ExternalProvider,
    setting: Mutex<LocationSetting>,
    override_: Option<LocationSetting>,
    walks: Mutex<HashMap<Uuid, SimulatedProvider>>,
}

impl Positions {
    pub fn new(
        settings: &Settings,
        override_: Option<LocationSetting>,
    ) -> Result<Self, StartError> {
        Ok(Self {
            platform: ExternalProvider::new("webview"),
            setting: Mutex::new(settings.location.clone()),
            override_,
            walks: Mutex::new(HashMap::new()),
        })
    }

    pub fn set(&self, setting: LocationSetting) {
        *self.setting.lock().unwrap_or_else(|p| p.into_inner()) = setting;
    }

    /// The source in force: the start-up override, else the setting.
    pub fn effective(&self) -> LocationSetting {
        self.override_.clone().unwrap_or_else(|| {
            self.setting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    /// The current fix for a photo of `record_id` at a target registered at
    /// `registered`.
    pub fn fix(&self, record_id: Uuid, registered: Option<GeoPoint>) -> Result<Fix, LocationError> {
        match self.effective() {
            LocationSetting::Platform => self.platform.current(),
            LocationSetting::Fixed {
                lat,
                lon,
                accuracy_m,
            } => FixedProvider::new(lat, lon, accuracy_m)?.current(),
            LocationSetting::Simulated => {
                let mut walks = self.walks.lock().unwrap_or_else(|p| p.into_inner());
                let walk = walks.entry(record_id).or_insert_with(|| {
                    let origin = registered.unwrap_or_else(|| {
                        GeoPoint::new(DEFAULT_ORIGIN.0, DEFAULT_ORIGIN.1, None)
                            .unwrap_or_else(|_| unreachable!("a valid constant"))
                    });
                    let seed = record_id.as_u64_pair().0;
                    SimulatedProvider::random_walk(
                        origin,
                        seed,
                        Utc::now(),
                        Duration::seconds(20),
                        8.0,
                    )
                });
                walk.current()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_wins_and_each_source_answers() {
        let p = Positions::new(&Settings::default(), None).unwrap();
        let id = Uuid::nil();
        assert_eq!(p.fix(id, None).unwrap_err(), LocationError::NoFix);
        p.platform
            .update_from_web(
                29.61,
                106.31,
                Some(5.0),
                Utc::now().timestamp_millis(),
                false,
            )
            .unwrap();
        assert_eq!(p.fix(id, None).unwrap().provider, "webview");

        p.set(LocationSetting::Simulated);
        let registered = GeoPoint::new(29.5, 106.2, None).ok();
        let a = p.fix(id, registered).unwrap();
        assert!(a.point.distance_m(&registered.unwrap()) < 50.0);
        assert!(a.reported_mock);

        let fixed = LocationSetting::Fixed {
            lat: 30.0,
            lon: 107.0,
            accuracy_m: None,
        };
        let o = Positions::new(&Settings::default(), Some(fixed)).unwrap();
        o.set(LocationSetting::Simulated);
        assert_eq!(o.fix(id, None).unwrap().point.lat, 30.0);
    }
}
