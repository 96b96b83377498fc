//! Start-up options and settings.
//!
//! Options come from the command line or the environment (the command line
//! wins), so a demo script or a test can hand the app everything it needs:
//!
//! | option | env | meaning |
//! |---|---|---|
//! | `--home DIR` | `CHOUCHA_APP_HOME` | data in `DIR/data`, the PIN-wrapped data key in `DIR/keystore` (default: the platform's app data directory) |
//! | `--enrol PAYLOAD` | `CHOUCHA_ENROL` | enrol on start when not enrolled; `PAYLOAD` is the QR payload `choucha://enrol?server=…&code=…` |
//! | `--location L` | `CHOUCHA_LOCATION` | `LAT,LON[,ACCURACY_M]` (a fixed point), `simulated`, or `platform`; overrides the setting |
//! | `--sync-interval S` | `CHOUCHA_SYNC_INTERVAL_S` | seconds between background syncs |
//! | — | `CHOUCHA_TIMINGS_FILE` | append front-end timings here (benchmarks) |
//! | — | `CHOUCHA_APP_ALLOW_HTTP` | `1`: allow plain `http://` to a server on another machine (development only; HTTPS is required otherwise, loopback excepted) |
//! | — | `CHOUCHA_APP_IDLE_LOCK_S` | seconds without use before the app asks for the PIN again (default 300) |
//! | — | `CHOUCHA_APP_MAX_PIN_FAILURES` | wrong PINs in a row before the local data are wiped (default 10, at least 3) |
//! | — | `CHOUCHA_APP_WIPE_AT_ONCE` | `1`: wipe the local data as soon as the server says the device is revoked, without waiting for the officer to read the notice |
//!
//! Settings the user changes (language, position source, authority name)
//! are kept as JSON in `settings.json` beside the data directory; they hold
//! nothing secret, the inspection data stays in the encrypted store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use choucha_app_api::{EnrolTarget, LocationSetting, Settings, parse_qr};

use crate::error::StartError;

#[derive(Debug, Clone)]
pub struct Config {
    pub home: PathBuf,
    pub data_dir: PathBuf,
    /// The vault (the PIN-wrapped data key) and the device secret's file
    /// fallback; outside the data directory.
    pub keystore_dir: PathBuf,
    /// How PINs are checked (idle lock, wrong PINs before the wipe).
    pub pin_policy: choucha_app_core::vault::PinPolicy,
    pub enrol: Option<EnrolTarget>,
    pub location_override: Option<LocationSetting>,
    pub sync_interval: Option<Duration>,
    pub timings_file: Option<PathBuf>,
    /// Wipe on revocation at once instead of after the notice is read.
    pub wipe_at_once: bool,
    /// Plain HTTP to another machine allowed (development only).
    pub allow_plain_http: bool,
}

impl Config {
    /// From the command line and environment, with the platform's app data
    /// directory as the default home.
    pub fn resolve(handle: &tauri::AppHandle) -> Result<Self, StartError> {
        use tauri::Manager;
        let args: Vec<String> = std::env::args().skip(1).collect();
        let opt = |flag: &str, env: &str| -> Option<String> {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
                .or_else(|| std::env::var(env).ok())
                .filter(|v| !v.trim().is_empty())
        };
        let home = match opt("--home", "CHOUCHA_APP_HOME") {
            Some(h) => PathBuf::from(h),
            None => handle
                .path()
                .app_local_data_dir()
                .map_err(|e| StartError::NoDataDir(e.to_string()))?,
        };
        let mut config = Self::from_parts(
            home,
            opt("--enrol", "CHOUCHA_ENROL").as_deref(),
            opt("--location", "CHOUCHA_LOCATION").as_deref(),
            opt("--sync-interval", "CHOUCHA_SYNC_INTERVAL_S").as_deref(),
            std::env::var_os("CHOUCHA_TIMINGS_FILE").map(PathBuf::from),
        )?;
        let on = |name: &str| {
            std::env::var(name).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
        };
        config.wipe_at_once = on("CHOUCHA_APP_WIPE_AT_ONCE");
        config.pin_policy = crate::pin::policy(
            crate::pin::idle_lock_from(std::env::var("CHOUCHA_APP_IDLE_LOCK_S").ok().as_deref()),
            std::env::var("CHOUCHA_APP_MAX_PIN_FAILURES")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        );
        config.allow_plain_http = on("CHOUCHA_APP_ALLOW_HTTP");
        Ok(config)
    }

    pub fn from_parts(
        home: PathBuf,
        enrol: Option<&str>,
        location: Option<&str>,
        sync_interval: Option<&str>,
        timings_file: Option<PathBuf>,
    ) -> Result<Self, StartError> {
        let enrol = enrol
            .map(|p| {
                parse_qr(p).map_err(|e| StartError::Option {
                    name: "--enrol / CHOUCHA_ENROL",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let location_override = location.map(parse_location).transpose()?;
        let sync_interval = sync_interval
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| StartError::Option {
                        name: "--sync-interval / CHOUCHA_SYNC_INTERVAL_S",
                        reason: format!("「{s}」不是正整数秒数 (not a positive number of seconds)"),
                    })
            })
            .transpose()?;
        Ok(Self {
            data_dir: home.join("data"),
            keystore_dir: home.join("keystore"),
            pin_policy: Default::default(),
            home,
            enrol,
            location_override,
            sync_interval,
            timings_file,
            wipe_at_once: false,
            allow_plain_http: false,
        })
    }

    pub fn settings_file(&self) -> PathBuf {
        self.home.join("settings.json")
    }
}

/// `LAT,LON[,ACCURACY_M]`, `simulated` or `platform`.
pub fn parse_location(s: &str) -> Result<LocationSetting, StartError> {
    let bad = |reason: String| StartError::Option {
        name: "--location / CHOUCHA_LOCATION",
        reason,
    };
    match s.trim() {
        "simulated" => return Ok(LocationSetting::Simulated),
        "platform" => return Ok(LocationSetting::Platform),
        _ => {}
    }
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad(format!(
            "「{s}」应为 纬度,经度[,精度米]、simulated 或 platform (expected LAT,LON[,ACCURACY_M])"
        )));
    }
    let num = |i: usize, what: &str| -> Result<f64, StartError> {
        parts[i].parse::<f64>().map_err(|_| {
            bad(format!(
                "{what}「{}」不是数字 ({what} is not a number)",
                parts[i]
            ))
        })
    };
    let lat = num(0, "纬度")?;
    let lon = num(1, "经度")?;
    let accuracy_m = if parts.len() == 3 {
        Some(num(2, "精度")?)
    } else {
        None
    };
    choucha_shared::GeoPoint::new(lat, lon, accuracy_m).map_err(|e| bad(e.to_string()))?;
    Ok(LocationSetting::Fixed {
        lat,
        lon,
        accuracy_m,
    })
}

pub fn load_settings(config: &Config) -> Result<Settings, StartError> {
    let path = config.settings_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| StartError::Settings {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(StartError::Settings {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Written to a temp file and renamed: a crash keeps the old settings.
pub fn save_settings(config: &Config, settings: &Settings) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.home)?;
    let path = config.settings_file();
    let tmp = tmp_path(&path);
    std::fs::write(&tmp, serde_json::to_vec_pretty(settings)?)?;
    std::fs::rename(tmp, path)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".tmp");
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_why_not() {
        assert_eq!(
            parse_location("29.6005, 106.3062, 8").unwrap(),
            LocationSetting::Fixed {
                lat: 29.6005,
                lon: 106.3062,
                accuracy_m: Some(8.0)
            }
        );
        assert_eq!(
            parse_location("simulated").unwrap(),
            LocationSetting::Simulated
        );
        assert!(
            parse_location("29.6")
                .unwrap_err()
                .to_string()
                .contains("LAT,LON")
        );
        assert!(
            parse_location("north,106")
                .unwrap_err()
                .to_string()
                .contains("纬度")
        );
        assert!(parse_location("95,106").is_err());
    }

    #[test]
    fn options_are_checked() {
        let home = PathBuf::from("/tmp/x");
        let c = Config::from_parts(
            home.clone(),
            Some("choucha://enrol?server=http://127.0.0.1:8080&code=AB12"),
            None,
            Some("5"),
            None,
        )
        .unwrap();
        assert_eq!(c.enrol.unwrap().code, "AB12");
        assert_eq!(c.sync_interval, Some(Duration::from_secs(5)));
        assert!(!c.keystore_dir.starts_with(&c.data_dir));
        let e = Config::from_parts(home.clone(), Some("AB12"), None, None, None).unwrap_err();
        assert!(e.to_string().contains("CHOUCHA_ENROL"), "{e}");
        let e = Config::from_parts(home, None, None, Some("0"), None).unwrap_err();
        assert!(e.to_string().contains("正整数"), "{e}");
    }

    #[test]
    fn settings_round_trip_and_default_when_absent() {
        let dir =
            std::env::temp_dir().join(format!("choucha-shell-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Config::from_parts(dir.clone(), None, None, None, None).unwrap();
        assert_eq!(load_settings(&c).unwrap(), Settings::default());
        let s = Settings {
            lang: choucha_app_api::Lang::En,
            ..Settings::default()
        };
        save_settings(&c, &s).unwrap();
        assert_eq!(load_settings(&c).unwrap(), s);
        std::fs::write(c.settings_file(), "{oops").unwrap();
        assert!(
            load_settings(&c)
                .unwrap_err()
                .to_string()
                .contains("settings.json")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
