//! Which stations a schedule, urgent notice or live session is for, checked against the
//! caller's rights: station codes, area codes (their whole subtree) and `"*"` (the caller's
//! own area).

use crate::app::error::{Error, Result};
use crate::app::policy;
use crate::auth::User;
use crate::db;
use crate::db::sql::Connection;

/// Validated targets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Targets {
    /// Station codes.
    pub stations: Vec<String>,
    /// Area codes.
    pub areas: Vec<String>,
}

/// Check requested targets: each must exist (else 422 naming it) and lie in the user's
/// subtree (else 403).
pub fn check(
    conn: &Connection,
    user: &User,
    stations: &[String],
    areas: &[String],
) -> Result<Targets> {
    let mut out = Targets::default();
    for code in stations {
        if code == "*" {
            out.areas.push(user.area.clone());
            continue;
        }
        let Some(st) = db::stations::get(conn, code)? else {
            return Err(Error::Invalid(format!(
                "stations: unknown station {code:?}"
            )));
        };
        if !policy::in_reach(conn, user, &st.area)? {
            return Err(Error::Forbidden(format!(
                "station {code} is outside your area {}",
                user.area
            )));
        }
        out.stations.push(st.code);
    }
    for code in areas {
        if db::areas::get(conn, code)?.is_none() {
            return Err(Error::Invalid(format!("areas: unknown area {code:?}")));
        }
        if !policy::in_reach(conn, user, code)? {
            return Err(Error::Forbidden(format!(
                "area {code} is outside your area {}",
                user.area
            )));
        }
        out.areas.push(code.clone());
    }
    if out.stations.is_empty() && out.areas.is_empty() {
        return Err(Error::Invalid(
            "stations: name at least one station or area (or \"*\" for all of yours)".into(),
        ));
    }
    out.stations.sort();
    out.stations.dedup();
    out.areas.sort();
    out.areas.dedup();
    Ok(out)
}

/// Every station the targets cover now, by code.
pub fn expand(conn: &Connection, t: &Targets) -> Result<Vec<String>> {
    let mut codes = t.stations.clone();
    for a in &t.areas {
        codes.extend(
            db::stations::list_in_subtree(conn, a)?
                .into_iter()
                .map(|s| s.code),
        );
    }
    codes.sort();
    codes.dedup();
    Ok(codes)
}

/// May `user` see station `code`? 404 when it does not exist, 403 when outside their area.
pub fn station_in_reach(
    conn: &Connection,
    user: &User,
    code: &str,
) -> Result<db::stations::Station> {
    let st = db::stations::get(conn, code)?
        .ok_or_else(|| Error::NotFound(format!("no station {code:?}")))?;
    if !policy::in_reach(conn, user, &st.area)? {
        return Err(Error::Forbidden(format!(
            "station {code} is outside your area {}",
            user.area
        )));
    }
    Ok(st)
}
