//! Log retention: delete entries due more than N days ago and remember the instant
//! pruned before, so that reports reaching before it say they are incomplete.

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, Duration, Utc};

/// The instant before which entries may have been deleted, if any ever were.
pub fn pruned_before(conn: &Connection) -> crate::db::sql::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = conn
        .query_row(
            "SELECT pruned_before FROM log_retention WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(s.as_deref().and_then(parse_ts))
}

/// Delete the entries due before `now - keep` (and their reconciliation marks stay): the
/// recorded instant only ever moves forward. Answers how many entries were deleted.
pub fn prune(
    conn: &mut Connection,
    keep: Duration,
    now: DateTime<Utc>,
) -> crate::db::sql::Result<u64> {
    let cutoff = now - keep;
    let tx = conn.transaction()?;
    let n = tx.execute("DELETE FROM logs WHERE scheduled_at < ?1", [ts(cutoff)])?;
    tx.execute(
        "INSERT INTO log_retention (id, pruned_before, pruned_at) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET
            pruned_before = MAX(log_retention.pruned_before, excluded.pruned_before),
            pruned_at = excluded.pruned_at",
        params![ts(cutoff), ts(now)],
    )?;
    tx.commit()?;
    Ok(n as u64)
}
