//! Working days (工作日) and the publication deadline of 一公开.
//!
//! Information a regulator produces is made public within **20 working
//! days** (企业信息公示暂行条例 Art. 6). A working day is Monday to Friday,
//! except the public holidays the State Council announces each year, plus the
//! weekend days it declares working days in exchange (调休). Those lists
//! change every year and are published late in the year before, so they are
//! *data*: a [`WorkCalendar`] is built from a small TOML document, the
//! embedded default ([`WorkCalendar::china_default`]) lists the years known
//! when this was written, and a deployment adds later years from its own file
//! without a new build. [`WorkCalendar::covers`] tells whether a year has
//! been entered, so the console can warn instead of silently treating a
//! holiday as a working day.
//!
//! Counting rule: the deadline is the 20th working day *after* the
//! inspection date; the inspection day itself is not counted, whether or not
//! it is a working day.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Deserialize;

use crate::value::CivilDate;

/// Working days within which a result must be public.
pub const PUBLICATION_WORKING_DAYS: u32 = 20;

/// Problems with a calendar file, naming the entry that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("节假日文件不是有效的 TOML：{0} (calendar file is not valid TOML)")]
    Syntax(String),
    #[error("{year} 年：“{value}”不是日期，应为 YYYY-MM-DD (not a date)")]
    BadDate { year: i32, value: String },
    #[error("{year} 年：{date} 不在该年内 (in another year)")]
    WrongYear { year: i32, date: NaiveDate },
    #[error("{year} 年：放假日期 {date} 是周末，只需列出放假的工作日 (holiday on a weekend day)")]
    HolidayOnWeekend { year: i32, date: NaiveDate },
    #[error("{year} 年：调休上班日期 {date} 不是周六或周日 (working day not a weekend day)")]
    WorkdayNotWeekend { year: i32, date: NaiveDate },
    #[error("{year} 年的节假日安排已录入 (year already entered)")]
    DuplicateYear { year: i32 },
}

/// The file format: one table per year.
///
/// ```toml
/// [[year]]
/// year = 2024
/// holidays = ["2024-01-01", "2024-02-12"]   # weekdays off
/// working_weekends = ["2024-02-04"]          # 调休: weekend days worked
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    year: Vec<YearEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearEntry {
    year: i32,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    working_weekends: Vec<String>,
}

/// Which days are working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    holidays: BTreeSet<NaiveDate>,
    working_weekends: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
}

/// The State Council's arrangements for 2023–2025 (国务院办公厅关于部分节假日
/// 安排的通知). Later years go in the deployment's own calendar file.
const CHINA_DEFAULT: &str = include_str!("calendar_cn.toml");

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl WorkCalendar {
    /// Weekends only: no holidays at all (useful where none apply, and in
    /// tests of the counting itself).
    pub fn weekends_only() -> Self {
        Self::default()
    }

    /// The embedded calendar of the years known at build time.
    pub fn china_default() -> Self {
        // The embedded file is checked by a test; should it ever be broken
        // the server must still start, counting weekends only.
        Self::from_toml(CHINA_DEFAULT).unwrap_or_default()
    }

    /// Parses a calendar file; see [`File`] for the format. Every date is
    /// checked: a holiday must be a weekday and an adjusted working day a
    /// weekend day, which catches the usual typo (a wrong day or month).
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError::Syntax(e.to_string()))?;
        let mut cal = Self::default();
        cal.add_years(file)?;
        Ok(cal)
    }

    /// Adds the years of another calendar file (a deployment's additions to
    /// the embedded default). A year already present is an error, so one
    /// file cannot silently override another.
    pub fn extend_from_toml(&mut self, text: &str) -> Result<(), CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError::Syntax(e.to_string()))?;
        self.add_years(file)
    }

    fn add_years(&mut self, file: File) -> Result<(), CalendarError> {
        for y in file.year {
            self.add_year(y.year, &y.holidays, &y.working_weekends)?;
        }
        Ok(())
    }

    /// Adds one year's arrangement (weekdays off, weekend days worked),
    /// every date checked; on any error nothing of it is added.
    pub fn add_year(
        &mut self,
        year: i32,
        holidays: &[String],
        working_weekends: &[String],
    ) -> Result<(), CalendarError> {
        if self.years.contains(&year) {
            return Err(CalendarError::DuplicateYear { year });
        }
        let parse = |s: &String| -> Result<NaiveDate, CalendarError> {
            let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                CalendarError::BadDate {
                    year,
                    value: s.clone(),
                }
            })?;
            if d.year() != year {
                return Err(CalendarError::WrongYear { year, date: d });
            }
            Ok(d)
        };
        let mut off = Vec::with_capacity(holidays.len());
        for s in holidays {
            let d = parse(s)?;
            if is_weekend(d) {
                return Err(CalendarError::HolidayOnWeekend { year, date: d });
            }
            off.push(d);
        }
        let mut worked = Vec::with_capacity(working_weekends.len());
        for s in working_weekends {
            let d = parse(s)?;
            if !is_weekend(d) {
                return Err(CalendarError::WorkdayNotWeekend { year, date: d });
            }
            worked.push(d);
        }
        self.years.insert(year);
        self.holidays.extend(off);
        self.working_weekends.extend(worked);
        Ok(())
    }

    /// The years whose arrangement is entered.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Whether the holidays of `year` have been entered. A year that is not
    /// covered counts weekends only, which may put a deadline too early
    /// (never too late) — a safe error, but one worth showing.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// Whether a deadline running from `from` to `to` crosses a year whose
    /// holidays are not entered: it is then provisional (暂定), counted
    /// with weekends only for that year.
    pub fn provisional(&self, from: NaiveDate, to: NaiveDate) -> bool {
        (from.year()..=to.year()).any(|y| !self.covers(y))
    }

    /// The year the console should warn about on `today`: from 1 November,
    /// next year if its holidays are not entered yet (the State Council
    /// announces them in the autumn).
    pub fn missing_next_year(&self, today: NaiveDate) -> Option<i32> {
        let next = today.year() + 1;
        (today.month() >= 11 && !self.covers(next)).then_some(next)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if is_weekend(d) {
            self.working_weekends.contains(&d)
        } else {
            !self.holidays.contains(&d)
        }
    }

    /// The `n`-th working day after `from` (`from` itself not counted).
    /// `n = 0` gives `from`.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d += Duration::days(1);
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days in `(from, to]`: how many working days have passed since
    /// `from` on `to`. Negative when `to` is before `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let (lo, hi, sign) = if to >= from {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        let mut n = 0i64;
        let mut d = lo;
        while d < hi {
            d += Duration::days(1);
            if self.is_working_day(d) {
                n += 1;
            }
        }
        sign * n
    }

    /// The last day on which a result of an inspection on `inspected` may
    /// still be published: the 20th working day after it.
    pub fn publication_deadline(&self, inspected: CivilDate) -> NaiveDate {
        self.add_working_days(inspected.date(), PUBLICATION_WORKING_DAYS)
    }

    /// Where a result stands against its deadline on `today`.
    pub fn publication_status(
        &self,
        inspected: CivilDate,
        published_on: Option<NaiveDate>,
        today: NaiveDate,
    ) -> PublicationStatus {
        let deadline = self.publication_deadline(inspected);
        match published_on {
            Some(p) if p <= deadline => PublicationStatus::PublishedOnTime { deadline },
            Some(_) => PublicationStatus::PublishedLate { deadline },
            None if today > deadline => PublicationStatus::Overdue {
                deadline,
                working_days_late: self.working_days_between(deadline, today),
            },
            None => PublicationStatus::Due {
                deadline,
                working_days_left: self.working_days_between(today, deadline),
            },
        }
    }
}

/// A result's publication against the 20-working-day rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PublicationStatus {
    /// Not yet public; `working_days_left` (0 = today is the last day).
    Due {
        deadline: NaiveDate,
        working_days_left: i64,
    },
    /// Not yet public and past the deadline.
    Overdue {
        deadline: NaiveDate,
        working_days_late: i64,
    },
    PublishedOnTime {
        deadline: NaiveDate,
    },
    PublishedLate {
        deadline: NaiveDate,
    },
}

impl PublicationStatus {
    pub fn label_zh(&self) -> &'static str {
        match self {
            Self::Due { .. } => "待公示",
            Self::Overdue { .. } => "逾期未公示",
            Self::PublishedOnTime { .. } => "已按期公示",
            Self::PublishedLate { .. } => "逾期公示",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn cd(s: &str) -> CivilDate {
        CivilDate::parse(s).unwrap()
    }

    #[test]
    fn weekends_only_counts_mondays_to_fridays() {
        let cal = WorkCalendar::weekends_only();
        // Monday 2024-03-04 + 20 working days = four full weeks later.
        assert_eq!(cal.publication_deadline(cd("2024-03-04")), d("2024-04-01"));
        // Inspection on a Saturday: counting starts Monday.
        assert_eq!(cal.add_working_days(d("2024-03-09"), 1), d("2024-03-11"));
        assert_eq!(cal.add_working_days(d("2024-03-08"), 1), d("2024-03-11"));
        assert_eq!(cal.add_working_days(d("2024-03-08"), 0), d("2024-03-08"));
    }

    #[test]
    fn spring_festival_2024_with_adjusted_sundays() {
        let cal = WorkCalendar::china_default();
        assert!(cal.covers(2024));
        // 2024-02-04 (Sunday) and 2024-02-18 (Sunday) were working days;
        // 2024-02-10..=02-17 off.
        assert!(cal.is_working_day(d("2024-02-04")));
        assert!(cal.is_working_day(d("2024-02-18")));
        for day in 10..=17 {
            assert!(!cal.is_working_day(d(&format!("2024-02-{day}"))), "{day}");
        }
        // Inspected Thursday 2024-02-01. Working days after it:
        // Feb 2 (1), Feb 4 Sun (2), Feb 5-9 (3..7), Feb 18 Sun (8),
        // Feb 19-23 (9..13), Feb 26-Mar 1 (14..18), Mar 4 (19), Mar 5 (20).
        assert_eq!(cal.publication_deadline(cd("2024-02-01")), d("2024-03-05"));
        // Without the holidays the same count ends three weeks earlier-ish.
        assert_eq!(
            WorkCalendar::weekends_only().publication_deadline(cd("2024-02-01")),
            d("2024-02-29")
        );
    }

    #[test]
    fn national_day_2023_golden_week() {
        let cal = WorkCalendar::china_default();
        // 2023-09-29..=10-06 off; 10-07 (Sat) and 10-08 (Sun) worked.
        assert!(!cal.is_working_day(d("2023-09-29")));
        assert!(!cal.is_working_day(d("2023-10-02")));
        assert!(cal.is_working_day(d("2023-10-07")));
        assert!(cal.is_working_day(d("2023-10-08")));
        // Inspected Wed 2023-09-27: Sep 28 (1), Oct 7 (2), Oct 8 (3),
        // Oct 9-13 (4..8), 16-20 (9..13), 23-27 (14..18), 30 (19), 31 (20).
        assert_eq!(cal.publication_deadline(cd("2023-09-27")), d("2023-10-31"));
    }

    #[test]
    fn counting_between_matches_adding() {
        let cal = WorkCalendar::china_default();
        let start = d("2023-01-01");
        for offset in 0..800 {
            let from = start + Duration::days(offset);
            for n in [0u32, 1, 5, 20] {
                let to = cal.add_working_days(from, n);
                assert_eq!(
                    cal.working_days_between(from, to),
                    i64::from(n),
                    "{from} +{n}"
                );
                assert_eq!(cal.working_days_between(to, from), -i64::from(n));
                if n > 0 {
                    assert!(cal.is_working_day(to), "{from} +{n} = {to}");
                }
            }
        }
    }

    #[test]
    fn status_due_overdue_and_published() {
        let cal = WorkCalendar::weekends_only();
        let inspected = cd("2024-03-04");
        let deadline = d("2024-04-01");
        assert_eq!(
            cal.publication_status(inspected, None, d("2024-04-01")),
            PublicationStatus::Due {
                deadline,
                working_days_left: 0
            }
        );
        assert_eq!(
            cal.publication_status(inspected, None, d("2024-03-29")),
            PublicationStatus::Due {
                deadline,
                working_days_left: 1
            }
        );
        assert_eq!(
            cal.publication_status(inspected, None, d("2024-04-03")),
            PublicationStatus::Overdue {
                deadline,
                working_days_late: 2
            }
        );
        assert_eq!(
            cal.publication_status(inspected, Some(deadline), d("2024-05-01")),
            PublicationStatus::PublishedOnTime { deadline }
        );
        assert_eq!(
            cal.publication_status(inspected, Some(d("2024-04-02")), d("2024-05-01")),
            PublicationStatus::PublishedLate { deadline }
        );
    }

    #[test]
    fn bad_files_name_the_entry() {
        let e = WorkCalendar::from_toml("[[year]]\nyear = 2024\nholidays = [\"2024-02-30\"]")
            .unwrap_err();
        assert_eq!(
            e,
            CalendarError::BadDate {
                year: 2024,
                value: "2024-02-30".into()
            }
        );
        let e = WorkCalendar::from_toml("[[year]]\nyear = 2024\nholidays = [\"2024-02-10\"]")
            .unwrap_err();
        assert!(matches!(e, CalendarError::HolidayOnWeekend { .. }), "{e}");
        let e =
            WorkCalendar::from_toml("[[year]]\nyear = 2024\nworking_weekends = [\"2024-02-05\"]")
                .unwrap_err();
        assert!(matches!(e, CalendarError::WorkdayNotWeekend { .. }), "{e}");
        let e = WorkCalendar::from_toml("[[year]]\nyear = 2024\nholidays = [\"2025-01-01\"]")
            .unwrap_err();
        assert!(matches!(e, CalendarError::WrongYear { .. }), "{e}");
        let e = WorkCalendar::from_toml("[[year]]\nyear = 2024\nholiday = []").unwrap_err();
        assert!(matches!(e, CalendarError::Syntax(_)), "{e}");
        let mut cal = WorkCalendar::china_default();
        let e = cal
            .extend_from_toml("[[year]]\nyear = 2024\nholidays = []")
            .unwrap_err();
        assert_eq!(e, CalendarError::DuplicateYear { year: 2024 });
    }

    #[test]
    fn a_deployment_adds_a_year() {
        let mut cal = WorkCalendar::china_default();
        assert!(!cal.covers(2031));
        cal.extend_from_toml(
            "[[year]]\nyear = 2031\nholidays = [\"2031-01-01\"]\nworking_weekends = [\"2031-01-04\"]",
        )
        .unwrap();
        assert!(cal.covers(2031));
        assert!(!cal.is_working_day(d("2031-01-01")));
        assert!(cal.is_working_day(d("2031-01-04")));
    }

    #[test]
    fn embedded_calendar_parses_and_covers_its_years() {
        let cal = WorkCalendar::from_toml(CHINA_DEFAULT).unwrap();
        for y in 2023..=2026 {
            assert!(cal.covers(y), "{y}");
        }
        // 2025: eight days for National Day and Mid-Autumn, 09-28 worked.
        assert!(!cal.is_working_day(d("2025-10-08")));
        assert!(cal.is_working_day(d("2025-09-28")));
        assert!(cal.is_working_day(d("2025-10-11")));
    }

    /// 2026, as the State Council arranged it: an inspection on Friday
    /// 2026-09-18 must be published by the 20th working day after it,
    /// counted by hand: Sun 09-20 is worked (1); 09-21…24 (2–5); 09-25 is
    /// 中秋; 09-28…30 (6–8); 10-01…07 国庆 (10-03/04 a weekend); 10-08, 09
    /// (9, 10); Sat 10-10 is worked (11); 10-12…16 (12–16); 10-19…22
    /// (17–20). Weekends only would have said 10-16.
    #[test]
    fn the_2026_deadline_crosses_national_day_and_the_worked_weekends() {
        let cal = WorkCalendar::china_default();
        let inspected = CivilDate::parse("2026-09-18").unwrap();
        assert_eq!(cal.publication_deadline(inspected), d("2026-10-22"));
        assert_eq!(
            WorkCalendar::weekends_only().publication_deadline(inspected),
            d("2026-10-16")
        );
        assert!(!cal.provisional(d("2026-09-18"), d("2026-10-22")));
        // Spring Festival: 02-14 and 02-28 (Saturdays) worked, 02-16…20, 02-23 off.
        assert!(cal.is_working_day(d("2026-02-14")));
        assert!(cal.is_working_day(d("2026-02-28")));
        for off in [
            "2026-02-16",
            "2026-02-20",
            "2026-02-23",
            "2026-01-02",
            "2026-05-05",
        ] {
            assert!(!cal.is_working_day(d(off)), "{off}");
        }
        for worked in ["2026-01-04", "2026-05-09", "2026-09-20", "2026-10-10"] {
            assert!(cal.is_working_day(d(worked)), "{worked}");
        }
        // A deadline running into 2027, not yet announced, is provisional,
        // and from 1 November the console is told 2027 is missing.
        let late = CivilDate::parse("2026-12-20").unwrap();
        assert!(cal.provisional(d("2026-12-20"), cal.publication_deadline(late)));
        assert_eq!(cal.missing_next_year(d("2026-10-31")), None);
        assert_eq!(cal.missing_next_year(d("2026-11-01")), Some(2027));
    }
}
