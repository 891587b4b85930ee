//! Areas: a tree (province → district → commune…); depth is data, not schema.

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::ts;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The recursive query giving `?1` and every area below it, as `sub(code)`.
pub const SUBTREE_CTE: &str = "WITH RECURSIVE sub(code) AS (
    SELECT code FROM areas WHERE code = ?1
    UNION SELECT a.code FROM areas a JOIN sub ON a.parent = sub.code)";

/// One area.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Area {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The area it belongs to.
    pub parent: Option<String>,
    /// Its official administrative code (Vietnam's unit codes), if set.
    pub official_code: Option<String>,
}

fn area_row(r: &crate::db::sql::Row<'_>) -> crate::db::sql::Result<Area> {
    Ok(Area {
        code: r.get(0)?,
        name: r.get(1)?,
        parent: r.get(2)?,
        official_code: r.get(3)?,
    })
}

/// Add an area under `parent` (or as a root); the caller checked the values.
pub fn insert(
    conn: &Connection,
    code: &str,
    name: &str,
    parent: Option<&str>,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "INSERT INTO areas (code, name, parent, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![code, name, parent, ts(now)],
    )?;
    Ok(())
}

/// Rename `code` and/or give it another parent (the caller has checked that the parent
/// exists and lies outside `code`'s subtree).
pub fn update(
    conn: &Connection,
    code: &str,
    name: Option<&str>,
    parent: Option<&str>,
) -> crate::db::sql::Result<()> {
    if let Some(n) = name {
        conn.execute(
            "UPDATE areas SET name = ?2 WHERE code = ?1",
            params![code, n],
        )?;
    }
    if let Some(p) = parent {
        conn.execute(
            "UPDATE areas SET parent = ?2 WHERE code = ?1",
            params![code, p],
        )?;
    }
    Ok(())
}

/// One area by code.
pub fn get(conn: &Connection, code: &str) -> crate::db::sql::Result<Option<Area>> {
    conn.query_row(
        "SELECT code, name, parent, official_code FROM areas WHERE code = ?1",
        [code],
        area_row,
    )
    .optional()
}

/// The area whose official code is `official`.
pub fn by_official_code(conn: &Connection, official: &str) -> crate::db::sql::Result<Option<Area>> {
    conn.query_row(
        "SELECT code, name, parent, official_code FROM areas WHERE official_code = ?1",
        [official],
        area_row,
    )
    .optional()
}

/// Set (or clear, with `None`) an area's official code; the caller checked it is free.
pub fn set_official_code(
    conn: &Connection,
    code: &str,
    official: Option<&str>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE areas SET official_code = ?2 WHERE code = ?1",
        params![code, official],
    )?;
    Ok(())
}

/// `root` and every area below it.
pub fn subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached(&format!("{SUBTREE_CTE} SELECT code FROM sub ORDER BY code"))?;
    let rows = st.query_map([root], |r| r.get(0))?;
    rows.collect()
}

/// Is `code` inside the subtree of `root` (or `root` itself)?
pub fn in_subtree(conn: &Connection, root: &str, code: &str) -> crate::db::sql::Result<bool> {
    conn.query_row(
        &format!("{SUBTREE_CTE} SELECT EXISTS (SELECT 1 FROM sub WHERE code = ?2)"),
        params![root, code],
        |r| r.get(0),
    )
}

/// `code` and every area above it, nearest first.
pub fn ancestors(conn: &Connection, code: &str) -> crate::db::sql::Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "WITH RECURSIVE up(code, parent, depth) AS (
            SELECT code, parent, 0 FROM areas WHERE code = ?1
            UNION SELECT a.code, a.parent, up.depth + 1 FROM areas a JOIN up ON a.code = up.parent)
         SELECT code FROM up ORDER BY depth",
    )?;
    let rows = st.query_map([code], |r| r.get(0))?;
    rows.collect()
}

/// The areas of `root`'s subtree.
pub fn list_subtree(conn: &Connection, root: &str) -> crate::db::sql::Result<Vec<Area>> {
    let mut st = conn.prepare_cached(&format!(
        "{SUBTREE_CTE} SELECT a.code, a.name, a.parent, a.official_code
         FROM areas a JOIN sub ON sub.code = a.code ORDER BY a.code"
    ))?;
    let rows = st.query_map([root], area_row)?;
    rows.collect()
}

/// The longest programme (minutes) the slots of `code` take: its own setting, else the
/// nearest area above it that has one; `None` when no area on the way sets a limit.
pub fn slot_limit_minutes(conn: &Connection, code: &str) -> crate::db::sql::Result<Option<u32>> {
    conn.query_row(
        "WITH RECURSIVE up(code, parent, depth) AS (
            SELECT code, parent, 0 FROM areas WHERE code = ?1
            UNION SELECT a.code, a.parent, up.depth + 1 FROM areas a JOIN up ON a.code = up.parent)
         SELECT a.slot_limit_minutes FROM up JOIN areas a ON a.code = up.code
         WHERE a.slot_limit_minutes IS NOT NULL ORDER BY up.depth LIMIT 1",
        [code],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|v| v.map(|m| m.clamp(0, u32::MAX as i64) as u32))
}

/// Set (or clear, with `None`) an area's own slot limit.
pub fn set_slot_limit_minutes(
    conn: &Connection,
    code: &str,
    minutes: Option<u32>,
) -> crate::db::sql::Result<()> {
    conn.execute(
        "UPDATE areas SET slot_limit_minutes = ?2 WHERE code = ?1",
        params![code, minutes],
    )?;
    Ok(())
}

/// How many areas there are.
pub fn count(conn: &Connection) -> crate::db::sql::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM areas", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::migrations;
    use chrono::TimeZone;

    fn db() -> Connection {
        let mut raw = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut raw).unwrap();
        Connection::sqlite(raw)
    }

    #[test]
    fn rights_follow_the_tree_downwards_only() {
        let c = db();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        insert(&c, "HN", "Hà Nội", None, now).unwrap();
        insert(&c, "TT", "Thạch Thất", Some("HN"), now).unwrap();
        insert(&c, "LQ", "Liên Quan", Some("TT"), now).unwrap();
        insert(&c, "BP", "Bình Phú", Some("TT"), now).unwrap();
        assert!(in_subtree(&c, "HN", "LQ").unwrap());
        assert!(in_subtree(&c, "LQ", "LQ").unwrap());
        assert!(!in_subtree(&c, "LQ", "TT").unwrap());
        assert!(!in_subtree(&c, "LQ", "BP").unwrap());
        assert_eq!(subtree(&c, "TT").unwrap(), vec!["BP", "LQ", "TT"]);
        assert_eq!(ancestors(&c, "LQ").unwrap(), vec!["LQ", "TT", "HN"]);
        assert!(insert(&c, "X", "x", Some("NOPE"), now).is_err());
        assert!(insert(&c, "LQ", "again", None, now).is_err());
    }
}
