//! `bandwidth_schedule`: rclone's `--bwlimit` timetable, as plain logic. Entries are
//! `HH:MM,RATE` (every day) or `Ddd-HH:MM,RATE` (one day of the week), separated by spaces;
//! each rate holds until the next entry, wrapping around the week. `RATE` is a
//! [`Bandwidth`] or `off` (unlimited). Times are the device's local time.
//!
//! `"Mon-08:00,1MiB/s Fri-18:00,off"`: 1 MiB/s from Monday 08:00 to Friday 18:00, full speed
//! over the weekend. `"08:00,512KiB/s 23:00,off"`: throttled by day, full speed at night.

use chrono::{Datelike, NaiveDateTime, Timelike};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Bandwidth;

const DAY: u32 = 24 * 60;
const WEEK: u32 = 7 * DAY;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Rates by minute of the week (Monday 00:00 = 0), sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    entries: Vec<(u32, Bandwidth)>,
    /// As written, for `check-config` and `config`.
    text: String,
}

/// Parsed once, when the config is read: a bad schedule is an error naming its key.
impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Schedule::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl Schedule {
    pub fn parse(s: &str) -> Result<Schedule, String> {
        let mut entries = Vec::new();
        for item in s.split_whitespace() {
            let (when, rate) = item
                .split_once(',')
                .ok_or_else(|| format!("`{item}`: expected `[Ddd-]HH:MM,RATE`"))?;
            let rate = match rate.to_ascii_lowercase().as_str() {
                "off" => Bandwidth::UNLIMITED,
                _ => rate
                    .parse::<Bandwidth>()
                    .map_err(|e| format!("`{item}`: {e}"))?,
            };
            let (day, clock) = match when.split_once('-') {
                Some((d, c)) => {
                    let i = DAYS
                        .iter()
                        .position(|x| x.eq_ignore_ascii_case(d))
                        .ok_or_else(|| format!("`{item}`: unknown day `{d}` (Mon … Sun)"))?;
                    (Some(i as u32), c)
                }
                None => (None, when),
            };
            let minute = clock
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                .filter(|(h, m)| *h < 24 && *m < 60 && clock.len() == 5)
                .map(|(h, m)| h * 60 + m)
                .ok_or_else(|| format!("`{item}`: the time must be HH:MM"))?;
            match day {
                Some(d) => entries.push((d * DAY + minute, rate)),
                None => entries.extend((0..7).map(|d| (d * DAY + minute, rate))),
            }
        }
        if entries.is_empty() {
            return Err("an empty schedule".into());
        }
        entries.sort_by_key(|e| e.0);
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err("two entries start at the same moment".into());
        }
        Ok(Schedule {
            entries,
            text: s.to_string(),
        })
    }

    /// The rate in force at a local time: that of the latest entry at or before it (the
    /// last of the week before the first).
    pub fn rate_at(&self, local: NaiveDateTime) -> Bandwidth {
        let minute =
            local.weekday().num_days_from_monday() * DAY + local.hour() * 60 + local.minute();
        debug_assert!(minute < WEEK);
        self.entries
            .iter()
            .rev()
            .find(|(m, _)| *m <= minute)
            .or(self.entries.last())
            .map(|(_, r)| *r)
            .unwrap_or(Bandwidth::UNLIMITED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        // 2026-01-19 is a Monday.
        NaiveDate::from_ymd_opt(2026, 1, 19 + day)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn daily_throttle_with_full_speed_at_night() {
        let s = Schedule::parse("08:00,512KiB/s 23:00,off").unwrap();
        assert_eq!(
            s.rate_at(at(0, 7, 59)),
            Bandwidth::UNLIMITED,
            "Monday night"
        );
        assert_eq!(s.rate_at(at(0, 8, 0)), Bandwidth(512 * 1024));
        assert_eq!(s.rate_at(at(3, 22, 59)), Bandwidth(512 * 1024));
        assert_eq!(s.rate_at(at(3, 23, 0)), Bandwidth::UNLIMITED);
        assert_eq!(s.rate_at(at(6, 12, 0)), Bandwidth(512 * 1024), "Sunday too");
    }

    #[test]
    fn weekly_entries_wrap_around_the_week() {
        let s = Schedule::parse("Mon-08:00,1MiB/s Fri-18:00,off Sat-10:00,4M").unwrap();
        assert_eq!(
            s.rate_at(at(0, 7, 0)),
            Bandwidth(4 * MIB),
            "Monday early: Saturday's"
        );
        assert_eq!(s.rate_at(at(2, 12, 0)), Bandwidth(MIB));
        assert_eq!(s.rate_at(at(4, 18, 0)), Bandwidth::UNLIMITED);
        assert_eq!(s.rate_at(at(5, 9, 59)), Bandwidth::UNLIMITED);
        assert_eq!(s.rate_at(at(6, 23, 59)), Bandwidth(4 * MIB));
    }

    #[test]
    fn bad_schedules_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("08:00", "HH:MM,RATE"),
            ("8:00,1M", "HH:MM"),
            ("24:00,1M", "HH:MM"),
            ("Xyz-08:00,1M", "unknown day"),
            ("08:00,fast", "rate"),
            ("Mon-08:00,1M 08:00,2M", "same moment"),
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
