//! Setting up a deployment: areas, stations and users. Used by the command line, the demo,
//! the admin API and tests; every change is audited as done by `actor`.
//!
//! The `insert_*` functions work inside a caller's connection (the API, with the caller's
//! address); the `add_*` ones take the whole [`Db`] and block (command line, tests).

use crate::app::Error;
use crate::auth;
use crate::db::sql::Connection;
use crate::db::{self, users::Role, Db};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use schedules::geo::GeoPoint;
use schedules::StationCode;
use serde_json::json;

/// The default time zone of a new station.
pub const DEFAULT_TIMEZONE: &str = "Asia/Ho_Chi_Minh";

/// Who made a change and from where.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// A username, `cli`, `demo`…
    pub name: &'a str,
    /// Client address, if any.
    pub remote: Option<&'a str>,
}

/// Add an area inside a transaction of `conn`.
pub fn insert_area(
    conn: &mut Connection,
    actor: Actor<'_>,
    code: &str,
    name: &str,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let (code, name) = (new_code(code)?, new_name(name)?);
    if let Some(p) = parent {
        if db::areas::get(conn, p)?.is_none() {
            return Err(Error::Invalid(format!("parent: unknown area {p:?}")).into());
        }
    }
    if db::areas::get(conn, code.as_str())?.is_some() {
        return Err(Error::Conflict(format!("area {code} already exists")).into());
    }
    let (code, name) = (code.as_str(), name.as_str());
    let tx = conn.transaction()?;
    db::areas::insert(&tx, code, name, parent, now)?;
    db::audit::record(
        &tx,
        &db::audit::Change {
            at: now,
            user: actor.name,
            area: parent.unwrap_or(code),
            action: "area.create",
            target: code,
            detail: &json!({"name": name, "parent": parent}),
            remote: actor.remote,
        },
    )?;
    tx.commit()?;
    Ok(())
}

/// Add a station inside a transaction of `conn`; answers its device token (shown once:
/// only its hash is stored).
pub fn insert_station(
    conn: &mut Connection,
    actor: Actor<'_>,
    code: &str,
    name: &str,
    area: &str,
    timezone: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let tz = timezone.unwrap_or(DEFAULT_TIMEZONE);
    let (code, name) = (new_code(code)?, new_name(name)?);
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(Error::Invalid(format!("timezone: unknown IANA time zone {tz:?}")).into());
    }
    known_area(conn, area)?;
    if db::stations::get(conn, code.as_str())?.is_some() {
        return Err(Error::Conflict(format!("station {code} already exists")).into());
    }
    let (code, name) = (code.as_str(), name.as_str());
    let tx = conn.transaction()?;
    db::stations::insert(&tx, code, name, area, tz, &hash, now)?;
    db::audit::record(
        &tx,
        &db::audit::Change {
            at: now,
            user: actor.name,
            area,
            action: "station.create",
            target: code,
            detail: &json!({"name": name, "area": area, "timezone": tz}),
            remote: actor.remote,
        },
    )?;
    tx.commit()?;
    Ok(token)
}

/// Add a user whose password is already hashed, inside a transaction of `conn`.
pub fn insert_user(
    conn: &mut Connection,
    actor: Actor<'_>,
    username: &str,
    password_hash: &str,
    role: Role,
    area: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if !ok {
        return Err(Error::Invalid(format!(
            "username: {username:?} must be 1 to 64 letters, digits, '-', '_', '.' or '@'"
        ))
        .into());
    }
    known_area(conn, area)?;
    if db::users::by_username(conn, username)?.is_some() {
        return Err(Error::Conflict(format!("user {username} already exists")).into());
    }
    let tx = conn.transaction()?;
    db::users::insert(&tx, username, password_hash, role, area, now)?;
    db::audit::record(
        &tx,
        &db::audit::Change {
            at: now,
            user: actor.name,
            area,
            action: "user.create",
            target: username,
            detail: &json!({"role": role, "area": area}),
            remote: actor.remote,
        },
    )?;
    tx.commit()?;
    Ok(())
}

/// Set (or clear, with `None`) a station's location, audited; the caller checked that the
/// station is theirs to change.
pub fn set_station_location(
    conn: &mut Connection,
    actor: Actor<'_>,
    code: &str,
    location: Option<GeoPoint>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let station = db::stations::get(conn, code)?
        .ok_or_else(|| Error::NotFound(format!("no station {code:?}")))?;
    let tx = conn.transaction()?;
    db::stations::set_location(&tx, code, location)?;
    db::audit::record(
        &tx,
        &db::audit::Change {
            at: now,
            user: actor.name,
            area: &station.area,
            action: "station.update",
            target: code,
            detail: &json!({"location": location}),
            remote: actor.remote,
        },
    )?;
    tx.commit()?;
    Ok(())
}

/// An official administrative code: 1 to 32 letters, digits, '-', '.' or '_' (Vietnam's
/// unit codes are digits: `01` Hà Nội, `10006` a commune).
pub fn official_code(code: &str) -> Result<String, Error> {
    let code = code.trim();
    let ok = !code.is_empty()
        && code.len() <= 32
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !ok {
        return Err(Error::Invalid(format!(
            "official_code: {code:?} must be 1 to 32 letters, digits, '-', '.' or '_'"
        )));
    }
    Ok(code.to_string())
}

/// Set (or clear, with `None`) an area's official code, audited; a code already naming
/// another area is a conflict. The caller checked that the area is theirs to change.
pub fn set_area_official_code(
    conn: &mut Connection,
    actor: Actor<'_>,
    code: &str,
    official: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let official = official.map(official_code).transpose()?;
    if db::areas::get(conn, code)?.is_none() {
        return Err(Error::NotFound(format!("no area {code:?}")).into());
    }
    if let Some(o) = &official {
        if let Some(other) = db::areas::by_official_code(conn, o)? {
            if other.code != code {
                return Err(Error::Conflict(format!(
                    "official_code: {o} already names area {}",
                    other.code
                ))
                .into());
            }
        }
    }
    let tx = conn.transaction()?;
    db::areas::set_official_code(&tx, code, official.as_deref())?;
    db::audit::record(
        &tx,
        &db::audit::Change {
            at: now,
            user: actor.name,
            area: code,
            action: "area.update",
            target: code,
            detail: &json!({"official_code": official}),
            remote: actor.remote,
        },
    )?;
    tx.commit()?;
    Ok(())
}

/// A new area's or station's code, parsed.
fn new_code(code: &str) -> Result<StationCode, Error> {
    StationCode::parse(code).map_err(|e| Error::Invalid(format!("code: {e}")))
}

/// A new name: trimmed, not empty.
fn new_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("name: must not be empty".into()));
    }
    Ok(name.to_string())
}

fn known_area(conn: &Connection, area: &str) -> Result<(), Error> {
    if db::areas::get(conn, area)?.is_none() {
        return Err(Error::Invalid(format!("area: unknown area {area:?}")));
    }
    Ok(())
}

fn local(actor: &str) -> Actor<'_> {
    Actor {
        name: actor,
        remote: None,
    }
}

/// Add an area (under `parent`, or as a root).
pub fn add_area(
    db: &Db,
    actor: &str,
    code: &str,
    name: &str,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    db.call_blocking(|conn| insert_area(conn, local(actor), code, name, parent, now))
}

/// Add a station; answers its device token (shown once: only its hash is stored).
pub fn add_station(
    db: &Db,
    actor: &str,
    code: &str,
    name: &str,
    area: &str,
    timezone: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    db.call_blocking(|conn| insert_station(conn, local(actor), code, name, area, timezone, now))
}

/// Add a user with a password (hashed here with Argon2id).
pub fn add_user(
    db: &Db,
    actor: &str,
    username: &str,
    password: &str,
    role: Role,
    area: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    auth::check_password_rules(password)?;
    let hash = auth::hash_password(password)?;
    db.call_blocking(|conn| insert_user(conn, local(actor), username, &hash, role, area, now))
}

/// Set a station's location (command line).
pub fn locate_station(
    db: &Db,
    actor: &str,
    code: &str,
    location: GeoPoint,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    db.call_blocking(|conn| set_station_location(conn, local(actor), code, Some(location), now))
}

/// Set an area's official code (command line).
pub fn code_area(
    db: &Db,
    actor: &str,
    code: &str,
    official: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    db.call_blocking(|conn| set_area_official_code(conn, local(actor), code, Some(official), now))
}
