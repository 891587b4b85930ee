//! Leases on background jobs: a job runs on the node holding its lease; the holder renews
//! it each round, and when it stops (the node died) another takes it once it expires.
//! One conditional upsert decides, so two nodes asking at once cannot both win (the same
//! statement is PostgreSQL's `INSERT … ON CONFLICT … DO UPDATE … WHERE`).

use crate::db::sql::{params, Connection, OptionalExtension};
use crate::db::{parse_ts, ts};
use chrono::{DateTime, Duration, Utc};

/// Take or renew the lease on `job` for `holder` until `now + ttl`: answers whether
/// `holder` holds it now (it was free, expired, or already `holder`'s).
pub fn acquire(
    conn: &Connection,
    job: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> crate::db::sql::Result<bool> {
    let changed = conn.execute(
        "INSERT INTO leases (job, holder, expires_at, acquired_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (job) DO UPDATE SET
             holder = excluded.holder,
             expires_at = excluded.expires_at,
             acquired_at = CASE WHEN leases.holder = excluded.holder
                                THEN leases.acquired_at ELSE excluded.acquired_at END
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
        params![job, holder, ts(now + ttl), ts(now)],
    )?;
    Ok(changed == 1)
}

/// Give the lease up (a clean stop), so another node need not wait for it to expire.
pub fn release(conn: &Connection, job: &str, holder: &str) -> crate::db::sql::Result<()> {
    conn.execute(
        "DELETE FROM leases WHERE job = ?1 AND holder = ?2",
        params![job, holder],
    )?;
    Ok(())
}

/// Who holds `job`'s lease and until when (expired or not).
pub fn holder(
    conn: &Connection,
    job: &str,
) -> crate::db::sql::Result<Option<(String, DateTime<Utc>)>> {
    conn.query_row(
        "SELECT holder, expires_at FROM leases WHERE job = ?1",
        [job],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
    )
    .optional()
    .map(|o| o.and_then(|(h, e)| Some((h, parse_ts(&e)?))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::migrations;
    use chrono::TimeZone;

    #[test]
    fn one_holder_at_a_time_and_another_takes_over_after_expiry() {
        let mut raw = rusqlite::Connection::open_in_memory().unwrap();
        migrations().to_latest(&mut raw).unwrap();
        let conn = Connection::sqlite(raw);
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        let ttl = Duration::seconds(30);
        assert!(acquire(&conn, "reports", "a", t0, ttl).unwrap());
        assert!(!acquire(&conn, "reports", "b", t0 + Duration::seconds(1), ttl).unwrap());
        // Another job is a lease of its own.
        assert!(acquire(&conn, "cap-sources", "b", t0, ttl).unwrap());
        // a renews: b still waits past the first expiry.
        assert!(acquire(&conn, "reports", "a", t0 + Duration::seconds(20), ttl).unwrap());
        assert!(!acquire(&conn, "reports", "b", t0 + Duration::seconds(35), ttl).unwrap());
        // a stops renewing: at expiry b takes it, and a cannot take it back.
        assert!(acquire(&conn, "reports", "b", t0 + Duration::seconds(50), ttl).unwrap());
        assert!(!acquire(&conn, "reports", "a", t0 + Duration::seconds(51), ttl).unwrap());
        let (h, until) = holder(&conn, "reports").unwrap().unwrap();
        assert_eq!((h.as_str(), until), ("b", t0 + Duration::seconds(80)));
        // A clean stop frees it at once; only the holder can release.
        release(&conn, "reports", "a").unwrap();
        assert!(holder(&conn, "reports").unwrap().is_some());
        release(&conn, "reports", "b").unwrap();
        assert!(acquire(&conn, "reports", "a", t0 + Duration::seconds(52), ttl).unwrap());
    }
}
