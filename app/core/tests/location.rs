//! Location providers and fix assessment.

use std::sync::Arc;

use choucha_app_core::location::{
    ExternalProvider, Fix, FixedProvider, LocationError, LocationProvider, SimulatedProvider,
    Thresholds, assess, assess_with,
};
use choucha_shared::value::GeoPoint;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 18, 2, 30, 0).unwrap()
}

/// A real-looking fix in 西永街道, Chongqing.
fn fix(lat: f64, lon: f64, accuracy: Option<f64>, at: DateTime<Utc>) -> Fix {
    Fix {
        point: GeoPoint::new(lat, lon, accuracy).unwrap(),
        fix_time: at,
        provider: "gps".to_owned(),
        reported_mock: false,
    }
}

fn good() -> Fix {
    fix(
        29.5601734,
        106.3307291,
        Some(8.5),
        now() - Duration::seconds(5),
    )
}

#[test]
fn fresh_accurate_fix_is_trustworthy() {
    let a = assess(&good(), now(), None);
    assert!(a.is_trustworthy(), "{a:?}");
    assert!(a.reasons.is_empty());
}

#[test]
fn stale_after_two_minutes() {
    let mut f = good();
    f.fix_time = now() - Duration::seconds(120);
    assert!(
        !assess(&f, now(), None).stale,
        "exactly 2 min is still fresh"
    );
    f.fix_time = now() - Duration::seconds(185);
    let a = assess(&f, now(), None);
    assert!(a.stale && !a.suspected_mock && !a.poor_accuracy);
    assert_eq!(a.reasons.len(), 1);
    assert!(a.reasons[0].starts_with("定位已过时"), "{:?}", a.reasons);
    assert!(a.reasons[0].contains("3 分 5 秒"), "{:?}", a.reasons);

    // The limit is configurable.
    let strict = Thresholds {
        stale_after: Duration::seconds(30),
        ..Thresholds::default()
    };
    f.fix_time = now() - Duration::seconds(45);
    assert!(assess_with(&f, now(), None, &strict).stale);
    assert!(!assess(&f, now(), None).stale);
}

#[test]
fn fix_ahead_of_the_device_clock_flags_the_clock() {
    let mut f = good();
    f.fix_time = now() + Duration::minutes(10);
    let a = assess(&f, now(), None);
    assert!(a.clock_skew && !a.stale, "{a:?}");
    assert!(a.reasons[0].contains("设备时钟可能不准"), "{:?}", a.reasons);
    // A few seconds ahead is normal jitter.
    f.fix_time = now() + Duration::seconds(3);
    assert!(assess(&f, now(), None).is_trustworthy());
}

#[test]
fn reported_mock_is_suspected() {
    let mut f = good();
    f.reported_mock = true;
    let a = assess(&f, now(), None);
    assert!(a.suspected_mock && !a.stale && !a.poor_accuracy);
    assert!(
        a.reasons[0].starts_with("系统报告为模拟定位"),
        "{:?}",
        a.reasons
    );
}

#[test]
fn zero_accuracy_is_suspected() {
    let f = fix(29.5601734, 106.3307291, Some(0.0), now());
    let a = assess(&f, now(), None);
    assert!(a.suspected_mock && !a.poor_accuracy);
    assert!(a.reasons.iter().any(|r| r.contains("恰为 0 米")));
}

#[test]
fn round_coordinates_are_suspected() {
    for (lat, lon) in [
        (29.0, 106.0),
        (29.56, 106.33),
        (29.561, 106.331),
        (0.0, 0.0),
    ] {
        let a = assess(&fix(lat, lon, Some(10.0), now()), now(), None);
        assert!(a.suspected_mock, "({lat}, {lon}) should look typed in");
        assert!(
            a.reasons.iter().any(|r| r.contains("小数位")),
            "{:?}",
            a.reasons
        );
    }
    // One round coordinate alone is chance, and four decimals is measured.
    for (lat, lon) in [
        (29.5, 106.3307291),
        (29.5602, 106.3307),
        (-33.8688197, 151.2092955),
    ] {
        let a = assess(&fix(lat, lon, Some(10.0), now()), now(), None);
        assert!(!a.suspected_mock, "({lat}, {lon}): {:?}", a.reasons);
    }
}

#[test]
fn implausible_jump_from_previous_fix() {
    // ~10 km in 60 s: 600 km/h.
    let prev = fix(
        29.4701734,
        106.3307291,
        Some(10.0),
        now() - Duration::seconds(65),
    );
    let a = assess(&good(), now(), Some(&prev));
    assert!(a.suspected_mock && !a.stale, "{a:?}");
    assert!(
        a.reasons.iter().any(|r| r.contains("公里/小时")),
        "{:?}",
        a.reasons
    );

    // The same distance in an hour is a drive across town.
    let slow = fix(
        29.4701734,
        106.3307291,
        Some(10.0),
        now() - Duration::minutes(61),
    );
    assert!(assess(&good(), now(), Some(&slow)).is_trustworthy());

    // Jitter within the accuracy circles in the same second is not a jump.
    let jitter = fix(29.5603534, 106.3307291, Some(15.0), good().fix_time);
    assert!(assess(&good(), now(), Some(&jitter)).is_trustworthy());
    // But 1 km in the same second is.
    let teleport = fix(29.5691734, 106.3307291, Some(15.0), good().fix_time);
    assert!(assess(&good(), now(), Some(&teleport)).suspected_mock);

    // Order does not matter: a previous fix stamped later is compared the same way.
    let later = fix(
        29.4701734,
        106.3307291,
        Some(10.0),
        now() + Duration::seconds(50),
    );
    assert!(assess(&good(), now(), Some(&later)).suspected_mock);
}

#[test]
fn poor_or_missing_accuracy() {
    let a = assess(
        &fix(29.5601734, 106.3307291, Some(150.0), now()),
        now(),
        None,
    );
    assert!(a.poor_accuracy && !a.suspected_mock && !a.stale);
    assert!(a.reasons[0].starts_with("定位精度较差"), "{:?}", a.reasons);
    assert!(
        !assess(
            &fix(29.5601734, 106.3307291, Some(100.0), now()),
            now(),
            None
        )
        .poor_accuracy
    );
    let none = assess(&fix(29.5601734, 106.3307291, None, now()), now(), None);
    assert!(none.poor_accuracy);
    assert!(none.reasons[0].starts_with("未报告定位精度"));
}

#[test]
fn several_problems_give_several_reasons() {
    let f = Fix {
        point: GeoPoint::new(29.0, 106.0, Some(0.0)).unwrap(),
        fix_time: now() - Duration::hours(2),
        provider: "mock".to_owned(),
        reported_mock: true,
    };
    let a = assess(&f, now(), None);
    assert!(a.stale && a.suspected_mock && !a.poor_accuracy);
    assert_eq!(a.reasons.len(), 4, "{:?}", a.reasons);
    assert!(a.reasons[0].contains("2 小时"), "{:?}", a.reasons);
}

#[test]
fn simulated_provider_replays_in_order_then_ends() {
    let fixes = vec![
        good(),
        fix(29.5602734, 106.3308291, Some(6.0), now()),
        fix(
            29.5603734,
            106.3309291,
            Some(4.0),
            now() + Duration::seconds(5),
        ),
    ];
    let p = SimulatedProvider::replay(fixes.clone());
    for want in &fixes {
        assert_eq!(&p.current().unwrap(), want);
    }
    assert_eq!(p.current().unwrap_err(), LocationError::Exhausted);
    assert_eq!(p.current().unwrap_err(), LocationError::Exhausted);
}

#[test]
fn simulated_random_walk_is_seeded_and_bounded() {
    let origin = GeoPoint::new(29.5601734, 106.3307291, Some(5.0)).unwrap();
    let walk = |seed| {
        let p = SimulatedProvider::random_walk(origin, seed, now(), Duration::seconds(10), 20.0);
        (0..50).map(|_| p.current().unwrap()).collect::<Vec<_>>()
    };
    let a = walk(7);
    assert_eq!(a, walk(7));
    assert_ne!(a, walk(8));
    assert_eq!(a[0].point.lat, origin.lat);
    assert_eq!(a[0].fix_time, now());
    for (i, pair) in a.windows(2).enumerate() {
        let (prev, next) = (&pair[0], &pair[1]);
        assert_eq!(next.fix_time - prev.fix_time, Duration::seconds(10));
        let d = prev.point.distance_m(&next.point);
        assert!(d <= 20.5, "step {i} moved {d} m");
        let acc = next.point.accuracy_m.unwrap();
        assert!((3.0..=15.0).contains(&acc));
        assert!(next.reported_mock);
        assert_eq!(next.provider, SimulatedProvider::NAME);
        // A walking pace never looks like a jump; only the mock flag shows.
        let verdict = assess(next, next.fix_time, Some(prev));
        assert!(verdict.suspected_mock && !verdict.stale && !verdict.poor_accuracy);
        assert_eq!(verdict.reasons.len(), 1, "{:?}", verdict.reasons);
    }
    assert!(a.iter().any(|f| f.point.lat != origin.lat));
}

#[test]
fn fixed_provider_reports_its_point_as_not_measured() {
    let p = FixedProvider::new(29.5601734, 106.3307291, Some(30.0))
        .unwrap()
        .with_fix_time(now());
    let f = p.current().unwrap();
    assert_eq!(
        (f.point.lat, f.point.lon, f.point.accuracy_m),
        (29.5601734, 106.3307291, Some(30.0))
    );
    assert_eq!(f.fix_time, now());
    assert_eq!(f.provider, FixedProvider::NAME);
    assert!(f.reported_mock);
    assert!(matches!(
        FixedProvider::new(95.0, 106.0, None).unwrap_err(),
        LocationError::Invalid(_)
    ));
    // Without a pinned time it reports the clock's time.
    let live = FixedProvider::new(29.5601734, 106.3307291, None)
        .unwrap()
        .current()
        .unwrap();
    assert!((Utc::now() - live.fix_time).num_seconds().abs() < 5);
}

#[test]
fn external_provider_holds_the_last_pushed_fix() {
    let p = Arc::new(ExternalProvider::new("webview"));
    assert_eq!(p.current().unwrap_err(), LocationError::NoFix);
    assert!(
        p.current()
            .unwrap_err()
            .to_string()
            .starts_with("尚未获得定位")
    );
    p.fail(LocationError::PermissionDenied);
    assert_eq!(p.current().unwrap_err(), LocationError::PermissionDenied);

    // Pushed from another thread, as the shell does.
    let shell = Arc::clone(&p);
    let pushed = std::thread::spawn(move || {
        shell
            .update_from_web(
                29.5601734,
                106.3307291,
                Some(12.0),
                now().timestamp_millis(),
                false,
            )
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(pushed.provider, "webview");
    assert_eq!(pushed.fix_time, now());
    assert_eq!(p.current().unwrap(), pushed);

    // A later error keeps the fix (it will turn stale); a new fix replaces it.
    p.fail(LocationError::Unavailable("timeout".to_owned()));
    assert_eq!(p.current().unwrap(), pushed);
    p.update(good());
    assert_eq!(p.current().unwrap(), good());

    assert!(matches!(
        p.update_from_web(f64::NAN, 106.0, None, 0, false)
            .unwrap_err(),
        LocationError::Invalid(_)
    ));
    assert_eq!(
        p.current().unwrap(),
        good(),
        "a bad position changes nothing"
    );
    p.clear();
    assert_eq!(p.current().unwrap_err(), LocationError::NoFix);

    // Usable as a trait object shared between threads.
    let providers: Vec<Box<dyn LocationProvider>> = vec![
        Box::new(FixedProvider::from_point(good().point)),
        Box::new(SimulatedProvider::replay(vec![good()])),
    ];
    assert!(providers.iter().all(|p| p.current().is_ok()));
}

#[test]
fn fix_serialises_round_trip() {
    let f = good();
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(serde_json::from_str::<Fix>(&json).unwrap(), f);
    let a = assess(&f, now() + Duration::minutes(5), None);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"stale\":true"), "{json}");
}
