//! What a CAP source's alerts do when they arrive: air at once, wait for a person, or be
//! recorded only. Pure: the instant is a parameter.
//!
//! | the alert | becomes |
//! | --- | --- |
//! | `Ack` or `Error` message, `System` status | recorded |
//! | `Exercise`, `Test` or `Draft` status not listed in `statuses` | recorded (never airs) |
//! | expired (its latest `expires` is not after now) | recorded (never airs) |
//! | a `Cancel` | acted on at once |
//! | severity in `air_severities` **and** urgency in `air_urgencies` (its preferred `info`) | airs at once |
//! | anything else | `others`: waits for an approver until it expires (`hold`), or `record` |

use crate::cap::{CapAlert, CapMsgType, CapStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A source's policy. Every field has a default, so `{}` is the default policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CapPolicy))]
#[serde(deny_unknown_fields, default)]
pub struct SourcePolicy {
    /// Severities that air at once. Default `Extreme`, `Severe`.
    pub air_severities: Vec<String>,
    /// Urgencies that air at once. Default `Immediate`, `Expected`.
    pub air_urgencies: Vec<String>,
    /// Statuses that may air besides `Actual`: any of `Exercise`, `Test`, `Draft`.
    /// Default none.
    pub statuses: Vec<String>,
    /// What the alerts that do not air at once do.
    pub others: Others,
}

/// What an alert that does not air at once does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Others {
    /// Wait in the approval queue until someone airs it, or it expires.
    #[default]
    Hold,
    /// Recorded only.
    Record,
}

impl Default for SourcePolicy {
    fn default() -> Self {
        SourcePolicy {
            air_severities: vec!["Extreme".into(), "Severe".into()],
            air_urgencies: vec!["Immediate".into(), "Expected".into()],
            statuses: Vec::new(),
            others: Others::Hold,
        }
    }
}

/// What to do with one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Air it (or, for a `Cancel`, cancel) now.
    Now,
    /// Wait for an approver, until `deadline` (its expiry) when it has one.
    Hold {
        /// When it may no longer air.
        deadline: Option<DateTime<Utc>>,
    },
    /// Record it only, for this reason.
    Record(String),
}

const SEVERITIES: &[&str] = &["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const URGENCIES: &[&str] = &["Immediate", "Expected", "Future", "Past", "Unknown"];
const STATUSES: &[&str] = &["Exercise", "Test", "Draft"];

impl SourcePolicy {
    /// The policy with its values in their CAP spelling; an error naming the first value
    /// that is not one of its enumeration.
    pub fn checked(mut self) -> Result<SourcePolicy, String> {
        fn fix(field: &str, values: &mut [String], allowed: &[&str]) -> Result<(), String> {
            for v in values.iter_mut() {
                let found = allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(v.trim()))
                    .ok_or_else(|| {
                        format!("policy.{field}: {v:?} is not one of {}", allowed.join(", "))
                    })?;
                *v = found.to_string();
            }
            Ok(())
        }
        fix("air_severities", &mut self.air_severities, SEVERITIES)?;
        fix("air_urgencies", &mut self.air_urgencies, URGENCIES)?;
        fix("statuses", &mut self.statuses, STATUSES)?;
        Ok(self)
    }

    /// What to do with `alert` at `now`.
    pub fn decide(&self, alert: &CapAlert, now: DateTime<Utc>) -> Decision {
        match alert.msg_type {
            CapMsgType::Ack | CapMsgType::Error => {
                return Decision::Record(format!("{} messages are not aired", alert.msg_type))
            }
            CapMsgType::Alert | CapMsgType::Update | CapMsgType::Cancel => {}
        }
        match alert.status {
            CapStatus::Actual => {}
            CapStatus::System => return Decision::Record("System messages are not aired".into()),
            s if self.statuses.iter().any(|x| x == s.as_str()) => {}
            s => {
                return Decision::Record(format!(
                    "{s} messages do not air unless the source's policy lists them"
                ))
            }
        }
        if alert.msg_type == CapMsgType::Cancel {
            return Decision::Now;
        }
        let expires = alert.expires();
        if let Some(e) = expires.filter(|e| *e <= now) {
            return Decision::Record(format!("expired at {}", e.to_rfc3339()));
        }
        let Some(info) = alert.preferred_info() else {
            return Decision::Record("no info block".into());
        };
        let severe = self.air_severities.contains(&info.severity);
        let urgent = self.air_urgencies.contains(&info.urgency);
        if severe && urgent {
            return Decision::Now;
        }
        match self.others {
            Others::Hold => Decision::Hold { deadline: expires },
            Others::Record => Decision::Record(format!(
                "{} / {} does not air at once under the source's policy",
                info.severity, info.urgency
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::parse_cap;
    use chrono::TimeZone;

    fn alert(
        status: &str,
        msg_type: &str,
        severity: &str,
        urgency: &str,
        expires: &str,
    ) -> CapAlert {
        parse_cap(&format!(
            r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>X</identifier><sender>s</sender><sent>2026-11-30T00:00:00+07:00</sent>
  <status>{status}</status><msgType>{msg_type}</msgType><scope>Public</scope>
  <references>s,W,2026-11-29T00:00:00+07:00</references>
  <info><category>Met</category><event>Bão</event><urgency>{urgency}</urgency>
  <severity>{severity}</severity><certainty>Observed</certainty><expires>{expires}</expires></info>
</alert>"#
        ))
        .unwrap()
    }

    #[test]
    fn the_default_policy_airs_severe_and_urgent_alerts_and_holds_the_rest() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 18, 0, 0).unwrap();
        let exp = "2026-11-30T06:00:00+07:00";
        let deadline = Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap();
        let held = Decision::Hold {
            deadline: Some(deadline),
        };
        let p = SourcePolicy::default();
        let cases = [
            (
                "Actual",
                "Alert",
                "Extreme",
                "Immediate",
                exp,
                Decision::Now,
            ),
            ("Actual", "Update", "Severe", "Expected", exp, Decision::Now),
            ("Actual", "Alert", "Severe", "Future", exp, held.clone()),
            (
                "Actual",
                "Alert",
                "Moderate",
                "Immediate",
                exp,
                held.clone(),
            ),
            ("Actual", "Cancel", "Minor", "Past", exp, Decision::Now),
        ];
        for (status, mt, sev, urg, e, expected) in cases {
            assert_eq!(
                p.decide(&alert(status, mt, sev, urg, e), now),
                expected,
                "{status} {mt} {sev} {urg}"
            );
        }
        for (status, mt) in [
            ("Test", "Alert"),
            ("Exercise", "Alert"),
            ("Draft", "Cancel"),
            ("System", "Alert"),
            ("Actual", "Ack"),
        ] {
            let d = p.decide(&alert(status, mt, "Extreme", "Immediate", exp), now);
            assert!(matches!(d, Decision::Record(_)), "{status} {mt}: {d:?}");
        }
        // Expired: never airs, whatever its severity.
        let d = p.decide(
            &alert(
                "Actual",
                "Alert",
                "Extreme",
                "Immediate",
                "2026-11-29T18:00:00-00:00",
            ),
            now,
        );
        assert!(
            matches!(d, Decision::Record(ref r) if r.starts_with("expired")),
            "{d:?}"
        );
    }

    #[test]
    fn a_source_may_air_exercises_and_record_instead_of_holding() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 18, 0, 0).unwrap();
        let exp = "2026-11-30T06:00:00+07:00";
        let p: SourcePolicy = serde_json::from_str(
            r#"{"statuses": ["exercise"], "others": "record", "air_urgencies": ["immediate"]}"#,
        )
        .unwrap();
        let p = p.checked().unwrap();
        assert_eq!(p.statuses, ["Exercise"]);
        assert_eq!(
            p.decide(&alert("Exercise", "Alert", "Severe", "Immediate", exp), now),
            Decision::Now
        );
        assert!(matches!(
            p.decide(&alert("Actual", "Alert", "Severe", "Expected", exp), now),
            Decision::Record(_)
        ));
        let bad: SourcePolicy = serde_json::from_str(r#"{"air_severities": ["Huge"]}"#).unwrap();
        assert_eq!(
            bad.checked().unwrap_err(),
            "policy.air_severities: \"Huge\" is not one of Extreme, Severe, Moderate, Minor, Unknown"
        );
        assert!(serde_json::from_str::<SourcePolicy>(r#"{"colour": 1}"#).is_err());
    }
}
