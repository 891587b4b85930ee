//! Setting up a deployment without the HTTP API: areas, stations and users. Used by the
//! command line, the demo and tests; every change is audited as done by `actor`.

use crate::auth;
use crate::db::{self, users::Role, Db};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde_json::json;

/// The default time zone of a new station.
pub const DEFAULT_TIMEZONE: &str = "Asia/Ho_Chi_Minh";

/// Add an area (under `parent`, or as a root).
pub fn add_area(
    db: &Db,
    actor: &str,
    code: &str,
    name: &str,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    db.call_blocking(|conn| {
        let tx = conn.transaction()?;
        db::areas::insert(&tx, code, name, parent, now)?;
        db::audit::record(
            &tx,
            now,
            actor,
            "area.create",
            code,
            &json!({"name": name, "parent": parent}),
            None,
        )?;
        tx.commit()?;
        Ok(())
    })
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
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    let tz = timezone.unwrap_or(DEFAULT_TIMEZONE);
    db.call_blocking(|conn| {
        let tx = conn.transaction()?;
        db::stations::insert(&tx, code, name, area, tz, &hash, now)?;
        db::audit::record(
            &tx,
            now,
            actor,
            "station.create",
            code,
            &json!({"name": name, "area": area, "timezone": tz}),
            None,
        )?;
        tx.commit()?;
        Ok(())
    })?;
    Ok(token)
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
    db.call_blocking(|conn| {
        let tx = conn.transaction()?;
        db::users::insert(&tx, username, &hash, role, area, now)?;
        db::audit::record(
            &tx,
            now,
            actor,
            "user.create",
            username,
            &json!({"role": role, "area": area}),
            None,
        )?;
        tx.commit()?;
        Ok(())
    })
}
