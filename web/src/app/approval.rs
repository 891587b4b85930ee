//! Approval as the rulebook sees it: in an area that requires approval (set on it or
//! above it), what a caller who may not approve it makes or changes waits as a draft; the
//! requirement is judged on the *owner's* area, whoever makes the change.

use crate::app::audit::record as audit;
use crate::app::policy::{authorize, Action, Kind as Policy, Object};
use crate::auth::User;
use crate::db::approvals::{self, Kind, State as Approval};
use crate::db::sql::Connection;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use serde_json::json;

fn policy_kind(kind: Kind) -> Policy {
    match kind {
        Kind::Schedule => Policy::Schedule,
        Kind::Programme => Policy::Programme,
        Kind::Media => Policy::Media,
        Kind::Urgent => Policy::Urgent,
        Kind::Cap => Policy::Cap,
    }
}

/// May `user` approve what belongs to `area`?
pub fn may_approve(
    conn: &Connection,
    user: &User,
    kind: Kind,
    id: &str,
    area: &str,
) -> AppResult<bool> {
    let obj = Object::owned(policy_kind(kind), id, area);
    Ok(authorize(conn, user, Action::Approve, &obj).is_ok())
}

/// After `user` made or changed an item of `area`: where approval is required and the
/// user may not approve it, it becomes a draft (a submission, in its history and the
/// audit log). Answers the item's state.
pub fn submit_if_required(
    conn: &Connection,
    user: &User,
    kind: Kind,
    id: &str,
    area: &str,
    now: DateTime<Utc>,
) -> AppResult<Approval> {
    if !approvals::required(conn, area)? || may_approve(conn, user, kind, id, area)? {
        return Ok(approvals::state(conn, kind, id, area)?.unwrap_or(Approval::Approved));
    }
    approvals::set_state(
        conn,
        kind,
        id,
        area,
        Approval::Draft,
        "submitted",
        &user.username,
        "",
        now,
    )?;
    audit(
        conn,
        now,
        user,
        &format!("{kind}.submit"),
        id,
        json!({"area": area}),
    )?;
    Ok(Approval::Draft)
}

/// After an urgent notice went out from `area`: where approval is required it is marked
/// for review (it is never held).
pub fn mark_for_review(
    conn: &Connection,
    user: &User,
    id: &str,
    area: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if approvals::required(conn, area)? {
        approvals::set_state(
            conn,
            Kind::Urgent,
            id,
            area,
            Approval::Review,
            "review",
            &user.username,
            "",
            now,
        )?;
    }
    Ok(())
}
