//! Each kind of object as the policy sees it — its owner and its targets — and the one way
//! to fetch one for an action: `schedule(conn, user, Action::Change, id)` answers the row
//! only if [`authorize`] allows it.

use crate::app::error::{Error, Result};
use crate::app::policy::{authorize, Action, Kind, Object};
use crate::auth::User;
use crate::db::sql::Connection;
use crate::db::{
    self, channels::Channel, programmes::ProgrammeRow, schedules::ScheduleRow, urgent::UrgentRow,
};

fn missing(kind: Kind, id: &str) -> Error {
    Error::NotFound(format!("no {kind} {id:?}"))
}

/// A schedule, for `action`.
pub fn schedule(conn: &Connection, user: &User, action: Action, id: &str) -> Result<ScheduleRow> {
    let s = db::schedules::get(conn, id)?.ok_or_else(|| missing(Kind::Schedule, id))?;
    let reaches = db::schedules::target_stations(conn, id)?;
    let obj = Object::aimed(
        conn,
        Kind::Schedule,
        id,
        &s.owner_area,
        &s.spec.stations,
        &s.spec.areas,
        &reaches,
    )?;
    authorize(conn, user, action, &obj)?;
    Ok(s)
}

/// A programme, for `action` (programmes made above an area are read and used below it).
pub fn programme(conn: &Connection, user: &User, action: Action, id: &str) -> Result<ProgrammeRow> {
    let p = db::programmes::get(conn, id)?.ok_or_else(|| missing(Kind::Programme, id))?;
    authorize(
        conn,
        user,
        action,
        &Object::owned(Kind::Programme, id, &p.owner_area),
    )?;
    Ok(p)
}

/// An urgent notice, for `action`: its targets are the stations it was delivered to.
pub fn urgent(conn: &Connection, user: &User, action: Action, id: &str) -> Result<UrgentRow> {
    let u = db::urgent::get(conn, id)?.ok_or_else(|| missing(Kind::Urgent, id))?;
    let stations: Vec<String> = db::urgent::deliveries(conn, id)?
        .into_iter()
        .map(|d| d.code)
        .collect();
    let obj = Object::aimed(
        conn,
        Kind::Urgent,
        id,
        &u.owner_area,
        &stations,
        &[],
        &stations,
    )?;
    authorize(conn, user, action, &obj)?;
    Ok(u)
}

/// A live session, for `action`: its targets are the stations it was opened for.
pub fn live(conn: &Connection, user: &User, action: Action, id: &str) -> Result<db::live::LiveRow> {
    let l = db::live::get(conn, id)?.ok_or_else(|| missing(Kind::Live, id))?;
    let stations: Vec<String> = db::live::stations(conn, id)?
        .into_iter()
        .map(|s| s.code)
        .collect();
    let obj = Object::aimed(
        conn,
        Kind::Live,
        id,
        &l.owner_area,
        &stations,
        &[],
        &stations,
    )?;
    authorize(conn, user, action, &obj)?;
    Ok(l)
}

/// A relayed channel, for `action`.
pub fn channel(conn: &Connection, user: &User, action: Action, id: &str) -> Result<Channel> {
    let c = db::channels::get(conn, id)?.ok_or_else(|| missing(Kind::Channel, id))?;
    authorize(
        conn,
        user,
        action,
        &Object::owned(Kind::Channel, id, &c.owner_area),
    )?;
    Ok(c)
}

/// A library file, for `action`: it belongs to every area it was uploaded in. Answers
/// those of its areas inside the caller's subtree (what a delete takes away).
pub fn media(conn: &Connection, user: &User, action: Action, sha256: &str) -> Result<Vec<String>> {
    if db::media::get(conn, sha256)?.is_none() {
        return Err(missing(Kind::Media, sha256));
    }
    let owners = db::media::areas_of(conn, sha256)?;
    let obj = Object {
        kind: Kind::Media,
        id: sha256,
        owners: owners.clone(),
        targets: Vec::new(),
        reaches: Vec::new(),
    };
    authorize(conn, user, action, &obj)?;
    let mut mine = Vec::new();
    for a in owners {
        if crate::app::policy::in_reach(conn, user, &a)? {
            mine.push(a);
        }
    }
    Ok(mine)
}

/// An area, for `action`: 404 when there is none, 403 when it lies outside the caller's
/// subtree (the tree itself is no secret: codes appear on every station), and changing it
/// needs an admin.
pub fn area(conn: &Connection, user: &User, action: Action, code: &str) -> Result<db::areas::Area> {
    let a = db::areas::get(conn, code)?.ok_or_else(|| missing(Kind::Area, code))?;
    if !crate::app::policy::in_reach(conn, user, code)? {
        return Err(Error::Forbidden(format!(
            "area {code} is outside your area {}",
            user.area
        )));
    }
    if action != Action::Read {
        crate::app::policy::require_role(user, Kind::Area.change_role())?;
    }
    Ok(a)
}

/// A user account, for `action`: people outside the caller's subtree are not disclosed
/// (404); managing accounts needs an admin.
pub fn user(
    conn: &Connection,
    caller: &User,
    action: Action,
    username: &str,
) -> Result<db::users::UserRow> {
    let u = db::users::by_username(conn, username)?.ok_or_else(|| missing(Kind::User, username))?;
    authorize(
        conn,
        caller,
        action,
        &Object::owned(Kind::User, username, &u.area),
    )?;
    Ok(u)
}
