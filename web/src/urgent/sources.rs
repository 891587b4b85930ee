//! CAP sources: feeds an admin registered, polled by the server.
//!
//! Each source is polled every `poll_seconds` (10 s at least): its address (an Atom or RSS
//! index, or a single CAP document) is fetched, and every entry not fetched before is
//! fetched once, from the source's own origin only (scheme, host and port of the address
//! the admin registered; no redirects), oldest `sent` first so that Updates and Cancels
//! follow what they reference. A poll that fails is tried again after a backoff that
//! doubles up to an hour ([`backoff`]); an entry that could not be fetched is tried again
//! at the next poll.
//!
//! A message acts as the source's own account, `cap:NAME`, an operator of the source's
//! area: through the same rulebook as `POST /cap` (its alerts reach only stations of that
//! area; its Updates and Cancels touch only its own notices). When the source has a signing
//! key its XML signature must verify ([`super::signature`]); its `sender` must be one the
//! source may speak for. Then the source's [`SourcePolicy`] decides: air now, hold for an
//! approver (an approval item of kind `cap`, until it expires), or record only. Every
//! message, what it matched and what became of it is kept (`GET /cap/messages`, the "Cảnh
//! báo CAP" page) and audited.

use crate::app::audit::Audited;
use crate::auth::User;
use crate::db::cap_sources::{Message, Source};
use crate::db::{self, approvals, users::Role};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::urgent::cap::{self as urgent_cap, Outcome};
use chrono::{DateTime, Duration, Utc};
use schedules::cap::{decode_xml, parse_cap_bytes, CapAlert, MAX_CAP_BYTES};
use schedules::cap_feed::{read_index, Index, MAX_INDEX_BYTES};
use schedules::cap_policy::Decision;
use serde::Serialize;
use serde_json::json;

/// The shortest poll interval, seconds.
pub const MIN_POLL_SECONDS: u32 = 10;

/// The longest wait after failed polls.
pub const MAX_BACKOFF: Duration = Duration::hours(1);

/// How long after `failures` failed polls in a row the next poll comes: the interval,
/// doubled for each failure, at most [`MAX_BACKOFF`] (never less than the interval).
pub fn backoff(poll_seconds: u32, failures: u32) -> Duration {
    let base = Duration::seconds(i64::from(poll_seconds));
    let factor = 1i64 << failures.min(16);
    (base * factor as i32).min(MAX_BACKOFF.max(base))
}

/// The account a source's messages act as.
pub fn source_user(src: &Source) -> User {
    User {
        id: 0,
        username: format!("cap:{}", src.name),
        role: Role::Operator,
        area: src.area.clone(),
        token_hash: String::new(),
        remote: None,
    }
}

/// What one poll did.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PollReport {
    /// The source.
    pub source: String,
    /// Why the poll failed, if it did.
    pub error: Option<String>,
    /// Each new entry and what became of it.
    #[schema(value_type = Vec<Vec<String>>)]
    pub messages: Vec<(String, String)>,
    /// When the next poll is.
    pub next_poll_at: DateTime<Utc>,
}

/// Poll source `id` now.
pub async fn poll(state: &AppState, id: &str) -> AppResult<PollReport> {
    let i = id.to_string();
    let src = state
        .db
        .call(move |conn| Ok(db::cap_sources::get(conn, &i)?))
        .await?
        .ok_or_else(|| AppError::not_found(format!("no CAP source {id:?}")))?;
    let now = state.clock.now();
    let result = poll_source(state, &src, now).await;
    let (error, messages) = match result {
        Ok(m) => (None, m),
        Err(e) => (Some(e), Vec::new()),
    };
    let failures = if error.is_some() { src.failures + 1 } else { 0 };
    let next = now + backoff(src.poll_seconds, failures);
    let (sid, err) = (src.id.clone(), error.clone());
    state
        .db
        .call(move |conn| {
            Ok(db::cap_sources::polled(
                conn,
                &sid,
                now,
                err.as_deref(),
                next,
            )?)
        })
        .await?;
    if let Some(e) = &error {
        tracing::warn!(source = %src.name, failures, "CAP source poll failed: {e}");
    }
    Ok(PollReport {
        source: src.id,
        error,
        messages,
        next_poll_at: next,
    })
}

/// Take held messages whose expiry has passed out of the approval queue: they never air.
pub async fn expire_held(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    state
        .db
        .call(move |conn| {
            let overdue = db::cap_sources::overdue(conn, now)?;
            for (id, area) in &overdue {
                let tx = conn.transaction()?;
                approvals::set_state(
                    &tx,
                    approvals::Kind::Cap,
                    id,
                    area,
                    approvals::State::Rejected,
                    "expired",
                    "cap",
                    "expired before anyone approved it",
                    now,
                )?;
                let (m, _) = db::cap_sources::message(&tx, id)?
                    .ok_or_else(|| AppError::not_found(format!("no CAP message {id:?}")))?;
                let mut detail = m.detail;
                detail["reason"] = "expired before anyone approved it".into();
                db::cap_sources::settle(&tx, id, "expired", None, &detail)?;
                db::audit::record(
                    &tx,
                    &db::audit::Change {
                        at: now,
                        user: &m.created_by,
                        area,
                        action: "cap.source.expired",
                        target: id,
                        detail: &json!({"cap": m.cap_key, "deadline": m.deadline}),
                        remote: None,
                    },
                )?;
                tx.commit()?;
            }
            Ok(overdue.len())
        })
        .await
}

/// Expire overdue held messages, then poll every due source, one after the other, each
/// within the fetch timeout per request.
pub async fn round(state: &AppState) {
    let now = state.clock.now();
    if let Err(e) = expire_held(state, now).await {
        tracing::error!(error = %e.message, "expiring held CAP messages failed");
    }
    let due = match state
        .db
        .call(move |conn| Ok(db::cap_sources::due(conn, now)?))
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e.message, "listing CAP sources failed");
            return;
        }
    };
    for src in due {
        if let Err(e) = poll(state, &src.id).await {
            tracing::error!(source = %src.name, error = %e.message, "CAP source poll failed");
        }
    }
}

/// Poll due sources until the runtime stops, on the node holding the `cap-sources` lease
/// (see [`crate::jobs`]): after each round, sleep until the next
/// source is due, but at most a second (new sources, a changed clock) and at least 50 ms.
/// A message appearing in a feed is fetched at most one poll interval later, plus the time
/// the fetch takes.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    const MAX: std::time::Duration = std::time::Duration::from_secs(1);
    const MIN: std::time::Duration = std::time::Duration::from_millis(50);
    tokio::spawn(async move {
        let mut leading = crate::jobs::Leading::default();
        loop {
            let lead = crate::jobs::lead(&state, "cap-sources", crate::jobs::POLLER_LEASE).await;
            leading.note("cap-sources", &state.node, lead);
            if !lead {
                // Another node polls; ask again in a while.
                tokio::time::sleep(MAX).await;
                continue;
            }
            round(&state).await;
            let next = state
                .db
                .call(|conn| Ok(db::cap_sources::next_due(conn)?))
                .await
                .ok()
                .flatten();
            let wait = match next {
                // Already due (negative): as soon as the floor allows.
                Some(due) => (due - state.clock.now()).to_std().unwrap_or(MIN),
                None => MAX,
            }
            .clamp(MIN, MAX);
            tokio::time::sleep(wait).await;
        }
    })
}

/// GET `url` with no redirect, within the fetch timeout, at most `max` bytes; the error
/// says why in a line.
async fn get(state: &AppState, url: &reqwest::Url, max: usize) -> Result<Vec<u8>, String> {
    let timeout = state.config.cap_fetch_timeout;
    let fetch = async {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let mut res = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("{url}: answered {}", res.status()));
        }
        let mut out = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if out.len() + chunk.len() > max {
                return Err(format!("{url}: larger than {max} bytes"));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("{url}: no answer within {timeout:?}"))?
}

/// One poll: fetch the index, then every new entry. An error is the poll's failure.
async fn poll_source(
    state: &AppState,
    src: &Source,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, String> {
    let base = reqwest::Url::parse(&src.url).map_err(|e| e.to_string())?;
    let bytes = get(state, &base, MAX_INDEX_BYTES).await?;
    let index = read_index(&bytes).map_err(|e| format!("{}: {e}", src.url))?;
    // (entry, link, bytes) of every new message.
    let mut fetched = Vec::new();
    match index {
        Index::Document => {
            // A single document: the message's own key tells a new one from the last.
            let entry = parse_cap_bytes(&bytes)
                .map(|a| a.key())
                .unwrap_or_else(|_| format!("sha256:{}", hex_sha256(&bytes)));
            if !seen(state, src, &entry).await? {
                fetched.push((entry, src.url.clone(), bytes));
            }
        }
        Index::Entries(entries) => {
            let origin = format!("{}://{}/", base.scheme(), base.authority());
            for e in entries {
                if seen(state, src, &e.id).await? {
                    continue;
                }
                let link = base.join(&e.link).map_err(|x| format!("{}: {x}", e.link))?;
                if !urgent_cap::fetch_allowed(std::slice::from_ref(&origin), &link) {
                    // Never fetched: recorded once as refused.
                    fetched.push((e.id, link.to_string(), Vec::new()));
                    continue;
                }
                match get(state, &link, MAX_CAP_BYTES).await {
                    Ok(b) => fetched.push((e.id, link.to_string(), b)),
                    // Tried again at the next poll.
                    Err(err) => tracing::warn!(source = %src.name, "CAP entry not fetched: {err}"),
                }
            }
        }
    }
    // Oldest first, so that an Update follows the alert it updates.
    let mut parsed: Vec<_> = fetched
        .into_iter()
        .map(|(entry, link, bytes)| {
            let alert = if bytes.is_empty() {
                Err(format!(
                    "{link}: not fetched: outside the source's address {origin}",
                    origin = base.origin().ascii_serialization()
                ))
            } else {
                parse_cap_bytes(&bytes).map_err(|e| e.to_string())
            };
            (entry, link, bytes, alert)
        })
        .collect();
    parsed.sort_by_key(|(_, _, _, a)| a.as_ref().ok().map(|a| a.sent));
    let mut out = Vec::new();
    for (entry, link, bytes, alert) in parsed {
        let outcome = take(state, src, now, &entry, &link, &bytes, alert)
            .await
            .map_err(|e| e.message)?;
        out.push((entry, outcome));
    }
    Ok(out)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn seen(state: &AppState, src: &Source, entry: &str) -> Result<bool, String> {
    let (s, e) = (src.id.clone(), entry.to_string());
    state
        .db
        .call(move |conn| Ok(db::cap_sources::seen(conn, &s, &e)?))
        .await
        .map_err(|e| e.message)
}

/// Handle one fetched message and record it; answers its outcome.
async fn take(
    state: &AppState,
    src: &Source,
    now: DateTime<Utc>,
    entry: &str,
    link: &str,
    bytes: &[u8],
    alert: Result<CapAlert, String>,
) -> AppResult<String> {
    let user = source_user(src);
    let mut m = Message {
        id: uuid::Uuid::new_v4().to_string(),
        source_id: src.id.clone(),
        entry: entry.to_string(),
        link: link.to_string(),
        fetched_at: now,
        cap_key: None,
        title: link.to_string(),
        owner_area: src.area.clone(),
        created_by: user.username.clone(),
        outcome: "refused".into(),
        detail: json!({}),
        deadline: None,
        approval: None,
        urgent_id: None,
    };
    let alert = match alert {
        Ok(a) => a,
        Err(reason) => {
            m.detail = json!({"reason": reason});
            store(state, &user, now, m.clone(), None).await?;
            return Ok(m.outcome);
        }
    };
    let xml = decode_xml(bytes)
        .map(|x| x.into_owned())
        .unwrap_or_default();
    m.cap_key = Some(alert.key());
    m.title = alert
        .preferred_info()
        .map(|i| i.headline.clone().unwrap_or_else(|| i.event.clone()))
        .unwrap_or_else(|| alert.identifier.clone())
        .chars()
        .take(200)
        .collect();
    let info = alert.preferred_info();
    let mut detail = json!({
        "sender": alert.sender, "identifier": alert.identifier, "version": alert.version,
        "msgType": alert.msg_type.as_str(), "status": alert.status.as_str(),
        "severity": info.map(|i| i.severity.clone()), "urgency": info.map(|i| i.urgency.clone()),
        "event": info.map(|i| i.event.clone()), "references": alert.references.iter().map(|r| r.key()).collect::<Vec<_>>(),
    });
    if let Some(key) = &src.signing_key {
        let timeout = state.config.cap_fetch_timeout;
        if let Err(why) = super::signature::verify(bytes, key, timeout).await {
            detail["reason"] = format!("signature: {why}; it never airs").into();
            m.detail = detail;
            store(state, &user, now, m.clone(), Some(xml)).await?;
            return Ok(m.outcome);
        }
        detail["signature"] = "verified".into();
    }
    if !src.senders.contains(&alert.sender) {
        detail["reason"] = format!(
            "sender {} is not one the source {} may speak for ({})",
            alert.sender,
            src.name,
            src.senders.join(", ")
        )
        .into();
        m.detail = detail;
        store(state, &user, now, m.clone(), Some(xml)).await?;
        return Ok(m.outcome);
    }
    // What it matches, for the record (a Cancel names no place).
    if alert.msg_type != schedules::cap::CapMsgType::Cancel {
        match urgent_cap::reach(state, &user, &alert).await {
            Ok(r) => {
                let stations = stations_of(state, &r).await?;
                detail["stations"] = json!(stations);
                detail["unmatched_geocodes"] = json!(r.unmatched);
            }
            Err(e) => detail["match_error"] = e.message.into(),
        }
    }
    match src.policy.decide(&alert, now) {
        Decision::Now => {
            let (outcome, urgent_id, more) =
                match urgent_cap::ingest_as(state, &user, now, alert, xml.clone(), true).await {
                    Ok(o) => describe(o),
                    Err(e) => ("refused", None, json!({"reason": e.message})),
                };
            merge(&mut detail, more);
            m.outcome = outcome.into();
            m.urgent_id = urgent_id;
        }
        Decision::Hold { deadline } => {
            m.outcome = "held".into();
            m.deadline = deadline;
            m.approval = Some("draft".into());
            detail["reason"] = "waits for an approver (the source's policy)".into();
        }
        Decision::Record(reason) => {
            m.outcome = "recorded".into();
            detail["reason"] = reason.into();
        }
    }
    m.detail = detail;
    store(state, &user, now, m.clone(), Some(xml)).await?;
    Ok(m.outcome)
}

fn merge(into: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), more) {
        a.extend(b);
    }
}

/// An ingestion's outcome as recorded: (outcome, notice, detail).
fn describe(o: Outcome) -> (&'static str, Option<String>, serde_json::Value) {
    match o {
        Outcome::Aired { id, replaced } => ("aired", Some(id), json!({"replaced": replaced})),
        Outcome::Cancelled(ids) => ("cancelled", None, json!({"cancelled": ids})),
        Outcome::Recorded => ("recorded", None, json!({})),
        Outcome::Unreached { unmatched } => (
            "unreached",
            None,
            json!({"reason": "reaches no station", "unmatched_geocodes": unmatched}),
        ),
        Outcome::Duplicate(id) => ("duplicate", id, json!({})),
    }
}

async fn stations_of(state: &AppState, r: &urgent_cap::Reach) -> AppResult<Vec<String>> {
    let t = crate::app::targets::Targets {
        stations: r.stations.clone(),
        areas: r.areas.clone(),
    };
    state
        .db
        .call(move |conn| Ok(crate::app::targets::expand(conn, &t)?))
        .await
}

/// Record a message (and, held, its approval step), audited as `cap.source.message`.
async fn store(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
    m: Message,
    xml: Option<String>,
) -> AppResult<()> {
    let user = user.clone();
    state
        .db
        .call(move |conn| {
            let tx = Audited::begin(conn, &user, now)?;
            if db::cap_sources::record(&tx, &m, xml.as_deref())? && m.approval.is_some() {
                approvals::set_state(
                    &tx,
                    approvals::Kind::Cap,
                    &m.id,
                    &m.owner_area,
                    approvals::State::Draft,
                    "submitted",
                    &user.username,
                    "",
                    now,
                )?;
            }
            let detail = json!({"source": m.source_id, "entry": m.entry, "link": m.link,
                "cap": m.cap_key, "outcome": m.outcome, "urgent_id": m.urgent_id,
                "detail": m.detail});
            tx.commit("cap.source.message", &m.id, detail)?;
            Ok(())
        })
        .await
}

/// After an approver decided on held message `id` (the approval step is recorded): an
/// approved one airs now, as its source's account; answers its new outcome.
pub async fn decided(
    state: &AppState,
    now: DateTime<Utc>,
    id: &str,
    approve: bool,
) -> AppResult<String> {
    let i = id.to_string();
    let (m, xml, src) = state
        .db
        .call(move |conn| {
            let (m, xml) = db::cap_sources::message(conn, &i)?
                .ok_or_else(|| AppError::not_found(format!("no CAP message {i:?}")))?;
            let src = db::cap_sources::get(conn, &m.source_id)?
                .ok_or_else(|| AppError::not_found("the message's source is gone"))?;
            Ok((m, xml, src))
        })
        .await?;
    let mut detail = m.detail.clone();
    let (outcome, urgent_id) = if !approve {
        ("rejected", None)
    } else {
        let xml = xml.unwrap_or_default();
        let aired = match parse_cap_bytes(xml.as_bytes()) {
            Ok(alert) => {
                urgent_cap::ingest_as(state, &source_user(&src), now, alert, xml, true).await
            }
            Err(e) => Err(urgent_cap::parse_error(e)),
        };
        match aired {
            Ok(o) => {
                let (outcome, urgent_id, more) = describe(o);
                merge(&mut detail, more);
                (outcome, urgent_id)
            }
            Err(e) => {
                detail["reason"] = e.message.into();
                ("refused", None)
            }
        }
    };
    let i = id.to_string();
    state
        .db
        .call(move |conn| {
            Ok(db::cap_sources::settle(
                conn,
                &i,
                outcome,
                urgent_id.as_deref(),
                &detail,
            )?)
        })
        .await?;
    Ok(outcome.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_failure_up_to_an_hour() {
        let s = |n| backoff(10, n).num_seconds();
        assert_eq!([s(0), s(1), s(2), s(3)], [10, 20, 40, 80]);
        assert_eq!(s(9), 3600);
        assert_eq!(s(40), 3600);
        assert_eq!(
            backoff(7200, 3).num_seconds(),
            7200,
            "never less than the interval"
        );
    }
}
