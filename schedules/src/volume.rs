//! A station's volume schedule: local times of day at which its volume changes (e.g. 40 %
//! before 06:00, 100 % from 06:00, 60 % from 21:00), and the volume in force at an instant.
//!
//! The schedule is read in the station's time zone. Steps are sorted by `from`; the first
//! step also applies from 00:00 until it begins when no step starts at 00:00 (so `[{"from":
//! "06:00","volume":100},{"from":"21:00","volume":40}]` means 100 % from 00:00 to 21:00).
//! An empty schedule means 100 %.

use crate::types::ParseError;
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The most steps a schedule may have.
pub const MAX_STEPS: usize = 48;

/// From local time `from` on, the station plays at `volume` percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeStep {
    /// Local time of day, `HH:MM`.
    #[serde(with = "hhmm")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-2][0-9]:[0-5][0-9]$")
    )]
    pub from: NaiveTime,
    /// Percent of full level, 0 ..= 100.
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub volume: u8,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_hhmm(&s).map_err(serde::de::Error::custom)
    }
}

/// Parse `HH:MM` (00:00 ..= 23:59).
pub fn parse_hhmm(s: &str) -> Result<NaiveTime, ParseError> {
    let bad = || ParseError(format!("{s:?} is not a time of day HH:MM"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)
}

/// Check a schedule: at most [`MAX_STEPS`] steps, volumes 0 ..= 100, `from` strictly
/// increasing. The error names the offending step.
pub fn check(steps: &[VolumeStep]) -> Result<(), ParseError> {
    if steps.len() > MAX_STEPS {
        return Err(ParseError(format!(
            "{} steps; at most {MAX_STEPS}",
            steps.len()
        )));
    }
    for (i, s) in steps.iter().enumerate() {
        if s.volume > 100 {
            return Err(ParseError(format!(
                "[{i}].volume: {} is above 100",
                s.volume
            )));
        }
        if i > 0 && steps[i - 1].from >= s.from {
            return Err(ParseError(format!(
                "[{i}].from: {} does not come after {}; sort the steps by time",
                s.from.format("%H:%M"),
                steps[i - 1].from.format("%H:%M")
            )));
        }
    }
    Ok(())
}

/// The volume (percent) in force at `now` for a station in `tz`.
pub fn volume_at(steps: &[VolumeStep], tz: Tz, now: DateTime<Utc>) -> u8 {
    let local = now.with_timezone(&tz).time();
    let local =
        NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second()).unwrap_or(local);
    steps
        .iter()
        .rev()
        .find(|s| s.from <= local)
        .or_else(|| steps.first())
        .map_or(100, |s| s.volume.min(100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn step(from: &str, volume: u8) -> VolumeStep {
        VolumeStep {
            from: parse_hhmm(from).unwrap(),
            volume,
        }
    }

    /// 2026-11-29 at a local time in Hà Nội (UTC+7).
    fn hanoi(h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Ho_Chi_Minh
            .with_ymd_and_hms(2026, 11, 29, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_step_in_force_is_the_last_one_started_in_local_time() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let s = [step("00:00", 40), step("06:00", 100), step("21:30", 60)];
        let cases = [
            ((0, 0), 40),
            ((5, 59), 40),
            ((6, 0), 100),
            ((12, 0), 100),
            ((21, 29), 100),
            ((21, 30), 60),
            ((23, 59), 60),
        ];
        for ((h, m), want) in cases {
            assert_eq!(volume_at(&s, tz, hanoi(h, m)), want, "at {h:02}:{m:02}");
        }
    }

    #[test]
    fn the_first_step_applies_from_midnight_when_none_starts_there() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let s = [step("06:00", 80), step("21:00", 30)];
        assert_eq!(volume_at(&s, tz, hanoi(3, 0)), 80);
        assert_eq!(volume_at(&s, tz, hanoi(22, 0)), 30);
    }

    #[test]
    fn an_empty_schedule_is_full_volume() {
        assert_eq!(volume_at(&[], chrono_tz::UTC, hanoi(3, 0)), 100);
    }

    #[test]
    fn the_schedule_is_read_in_the_station_time_zone() {
        let s = [step("00:00", 10), step("06:00", 90)];
        // 23:00 UTC on 28 Nov is 06:00 on 29 Nov in Hà Nội.
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 23, 0, 0).unwrap();
        assert_eq!(volume_at(&s, chrono_tz::Asia::Ho_Chi_Minh, t), 90);
        assert_eq!(volume_at(&s, chrono_tz::UTC, t), 90);
        assert_eq!(volume_at(&s, chrono_tz::Europe::London, t), 90);
        assert_eq!(volume_at(&s, chrono_tz::America::New_York, t), 90);
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 22, 0, 0).unwrap();
        assert_eq!(volume_at(&s, chrono_tz::Asia::Ho_Chi_Minh, t), 10);
    }

    #[test]
    fn bad_schedules_are_refused_with_the_step_named() {
        assert!(check(&[step("06:00", 101)])
            .unwrap_err()
            .0
            .contains("[0].volume"));
        let e = check(&[step("06:00", 50), step("05:00", 60)]).unwrap_err();
        assert!(e.0.contains("[1].from"), "{e}");
        assert!(check(&[step("06:00", 50), step("06:00", 60)]).is_err());
        assert!(check(&[step("00:00", 0), step("23:59", 100)]).is_ok());
        for bad in ["24:00", "6:00", "06:60", "ab:cd", "0600", ""] {
            assert!(parse_hhmm(bad).is_err(), "{bad}");
        }
        let parsed: Vec<VolumeStep> =
            serde_json::from_str(r#"[{"from":"05:30","volume":40}]"#).unwrap();
        assert_eq!(parsed, vec![step("05:30", 40)]);
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"[{"from":"05:30","volume":40}]"#
        );
        assert!(
            serde_json::from_str::<Vec<VolumeStep>>(r#"[{"from":"25:00","volume":4}]"#).is_err()
        );
    }
}
