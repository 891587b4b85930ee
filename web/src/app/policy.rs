//! Who may do what to which object: the one policy every entry point asks.
//!
//! Everything in Loa Xã belongs to an area (its *owner*: the area of whoever made it) and,
//! when it airs, has *targets* (stations and areas). A person acts inside the subtree of
//! their own area, with a role. The rules, for every kind of object alike:
//!
//! | action | allowed when |
//! | --- | --- |
//! | [`Action::Read`] | the owner lies in the caller's subtree, or one of the stations it reaches does, or (for things shared down the tree: programmes, channels, media) the caller lies below the owner |
//! | [`Action::Change`] | the caller may read it, has the kind's role ([`Kind::change_role`]), the owner lies in the caller's subtree **and** every target does |
//! | air something new | the caller has the kind's role and every target lies in their subtree: [`crate::app::targets::check`] |
//! | [`Action::Approve`] | the caller is an approver (or admin) and the owner lies in their subtree |
//!
//! An object the caller may not read does not exist for them (404); one they can read but
//! not change answers 403 with the reason. Nothing else in the server decides this: routes,
//! pages, CAP ingestion and the command line call [`authorize`] (or a helper built on it)
//! with the object's owner and targets.

use crate::app::error::Error;
use crate::auth::User;
use crate::db::sql::Connection;
use crate::db::{self, users::Role};
use std::fmt;

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See it.
    Read,
    /// Edit, pause, resume, delete or cancel it.
    Change,
    /// Approve or reject it.
    Approve,
}

/// The kinds of object the policy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A recurring or one-off schedule.
    Schedule,
    /// A programme (a sequence of parts).
    Programme,
    /// A library file.
    Media,
    /// An urgent notice.
    Urgent,
    /// A CAP message.
    Cap,
    /// A live channel relayed by schedules.
    Channel,
    /// A station (its settings, token, plan).
    Station,
    /// A user account.
    User,
    /// An area (its settings: approval, slot limit).
    Area,
    /// A live broadcast from someone's microphone.
    Live,
}

impl Kind {
    /// The least role that may change or air an object of this kind.
    pub fn change_role(self) -> Role {
        match self {
            Kind::Schedule
            | Kind::Programme
            | Kind::Media
            | Kind::Urgent
            | Kind::Cap
            | Kind::Live => Role::Operator,
            Kind::Channel | Kind::Station | Kind::User | Kind::Area => Role::Admin,
        }
    }

    /// Things made above an area that its users may read (and use), although they cannot
    /// change them.
    fn shared_down(self) -> bool {
        matches!(self, Kind::Programme | Kind::Channel | Kind::Media)
    }

    /// How the kind is named in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Schedule => "schedule",
            Kind::Programme => "programme",
            Kind::Media => "media",
            Kind::Urgent => "urgent notice",
            Kind::Cap => "CAP message",
            Kind::Channel => "channel",
            Kind::Station => "station",
            Kind::User => "user",
            Kind::Area => "area",
            Kind::Live => "live session",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An object as the policy sees it.
#[derive(Debug, Clone)]
pub struct Object<'a> {
    /// Its kind.
    pub kind: Kind,
    /// Its id, for messages.
    pub id: &'a str,
    /// The areas that own it (usually one; a media file uploaded in several areas has
    /// one per upload).
    pub owners: Vec<String>,
    /// The areas of the stations it names and the areas it names: all must be in reach to
    /// change it.
    pub targets: Vec<String>,
    /// The areas of every station it reaches now (targets expanded): one in reach makes
    /// it readable.
    pub reaches: Vec<String>,
}

impl<'a> Object<'a> {
    /// An object owned by `owner` with no targets.
    pub fn owned(kind: Kind, id: &'a str, owner: &str) -> Self {
        Object {
            kind,
            id,
            owners: vec![owner.to_string()],
            targets: Vec::new(),
            reaches: Vec::new(),
        }
    }

    /// An object owned by `owner` aimed at `stations` and `areas` (as stored, unexpanded);
    /// `reaches` are the codes of the stations those expand to now.
    pub fn aimed(
        conn: &Connection,
        kind: Kind,
        id: &'a str,
        owner: &str,
        stations: &[String],
        areas: &[String],
        reaches: &[String],
    ) -> Result<Self, Error> {
        let mut targets = station_areas(conn, stations)?;
        targets.extend(areas.iter().cloned());
        Ok(Object {
            kind,
            id,
            owners: vec![owner.to_string()],
            targets,
            reaches: station_areas(conn, reaches)?,
        })
    }
}

/// The areas of these stations (unknown codes are skipped: they reach nothing).
fn station_areas(conn: &Connection, codes: &[String]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for c in codes {
        if let Some(st) = db::stations::get(conn, c)? {
            out.push(st.area);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Is `area` inside `user`'s subtree?
pub fn in_reach(conn: &Connection, user: &User, area: &str) -> Result<bool, Error> {
    in_area(conn, &user.area, area)
}

/// Is `area` inside the subtree of `root` (a caller's own area)?
pub fn in_area(conn: &Connection, root: &str, area: &str) -> Result<bool, Error> {
    Ok(db::areas::in_subtree(conn, root, area)?)
}

/// Refuse unless the user has at least `role`.
pub fn require_role(user: &User, role: Role) -> Result<(), Error> {
    if user.role >= role {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "this needs the {role} role; {} is {}",
            user.username, user.role
        )))
    }
}

/// May the caller read it? (The check every other action starts with.)
fn readable(conn: &Connection, user: &User, obj: &Object<'_>) -> Result<bool, Error> {
    for owner in &obj.owners {
        if in_reach(conn, user, owner)?
            || (obj.kind.shared_down() && db::areas::in_subtree(conn, owner, &user.area)?)
        {
            return Ok(true);
        }
    }
    for area in &obj.reaches {
        if in_reach(conn, user, area)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Decide whether `user` may do `action` to `obj`: `Ok(())`, or the error the caller
/// answers (404 for what they may not see, 403 with the reason for the rest).
pub fn authorize(
    conn: &Connection,
    user: &User,
    action: Action,
    obj: &Object<'_>,
) -> Result<(), Error> {
    let (kind, id) = (obj.kind, obj.id);
    if !readable(conn, user, obj)? {
        return Err(Error::NotFound(format!("no {kind} {id:?}")));
    }
    match action {
        Action::Read => Ok(()),
        Action::Approve => {
            require_role(user, Role::Approver)?;
            owners_in_reach(conn, user, obj)
        }
        Action::Change => {
            require_role(user, kind.change_role())?;
            owners_in_reach(conn, user, obj)?;
            targets_in_reach(conn, user, obj)
        }
    }
}

fn owners_in_reach(conn: &Connection, user: &User, obj: &Object<'_>) -> Result<(), Error> {
    for owner in &obj.owners {
        if in_reach(conn, user, owner)? {
            return Ok(());
        }
    }
    Err(Error::Forbidden(format!(
        "{} {} belongs to {}, outside your area {}",
        obj.kind,
        obj.id,
        obj.owners.join(", "),
        user.area
    )))
}

fn targets_in_reach(conn: &Connection, user: &User, obj: &Object<'_>) -> Result<(), Error> {
    for area in &obj.targets {
        if !in_reach(conn, user, area)? {
            return Err(Error::Forbidden(format!(
                "{} {} also plays in {area}, outside your area {}",
                obj.kind, obj.id, user.area
            )));
        }
    }
    Ok(())
}
