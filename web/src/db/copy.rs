//! `loaxa-web copy-to-postgres --to URL`: the move from one node on SQLite to several nodes
//! on PostgreSQL (#26). Every table of the SQLite store, and every media file of the data
//! directory (into `media_blobs`, which every node serves from), is copied into an empty
//! PostgreSQL database in one transaction: the copy is whole or nothing is written.
//!
//! Both stores are migrated to the same schema version first, so their tables and columns
//! match; the tables go in the order PostgreSQL's schema creates them (a table after those
//! it refers to), rows in the order SQLite wrote them. Identity columns continue after the
//! largest copied value. Run it with the server stopped: rows written meanwhile would not
//! be copied.

use crate::db::sql::{Connection, Val};
use crate::error::{AppError, AppResult};
use std::fmt;
use std::path::Path;

/// The tables of PostgreSQL's schema in creation order (`CREATE TABLE name (`).
fn tables() -> Vec<&'static str> {
    include_str!("postgres/0014-schema.sql")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CREATE TABLE "))
        .filter_map(|rest| rest.split([' ', '(']).next())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Values bound in one `INSERT` at most (PostgreSQL takes 65,535).
const VALUES_PER_INSERT: usize = 30_000;

/// What was copied.
#[derive(Debug, Default)]
pub struct Copied {
    /// Rows per table, in the order copied.
    pub tables: Vec<(String, usize)>,
    /// Media files copied into `media_blobs`.
    pub files: usize,
    /// Their size in all.
    pub bytes: u64,
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.tables.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "copied {rows} rows in {} tables and {} media files ({:.1} MB):",
            self.tables.len(),
            self.files,
            self.bytes as f64 / 1e6
        )?;
        for (t, n) in self.tables.iter().filter(|(_, n)| *n > 0) {
            write!(f, " {t} {n},")?;
        }
        Ok(())
    }
}

/// Copy the SQLite store `src` (its media files where `file_of` says) into the empty
/// PostgreSQL store `dst`.
pub fn sqlite_to_postgres(
    src: &mut Connection,
    dst: &mut Connection,
    file_of: &dyn Fn(&schedules::Sha256) -> std::path::PathBuf,
) -> AppResult<Copied> {
    let held: i64 = dst
        .prepare_cached(
            "SELECT (SELECT COUNT(*) FROM areas) + (SELECT COUNT(*) FROM users) \
             + (SELECT COUNT(*) FROM stations) + (SELECT COUNT(*) FROM media)",
        )?
        .query_row([], |r| r.get(0))?;
    if held > 0 {
        return Err(AppError::conflict(format!(
            "the PostgreSQL database already holds data ({held} areas, users, stations and \
             media files): copy into a new, empty database"
        )));
    }
    let read = src.transaction()?;
    let tx = dst.transaction()?;
    let mut copied = Copied::default();
    for table in tables() {
        if table == "media_blobs" {
            continue;
        }
        let n = copy_table(&read, &tx, table)?;
        copied.tables.push((table.to_string(), n));
    }
    // The files, which on PostgreSQL live in the store.
    let shas: Vec<String> = read
        .prepare_cached("SELECT sha256 FROM media ORDER BY sha256")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for sha in shas {
        let path =
            file_of(&schedules::Sha256::parse(&sha).map_err(|e| {
                AppError::invalid(format!("media {sha:?}: {e}; nothing was copied"))
            })?);
        let bytes = std::fs::read(&path).map_err(|e| {
            AppError::invalid(format!(
                "media {sha}: cannot read {} ({e}); nothing was copied",
                path.display()
            ))
        })?;
        copied.bytes += bytes.len() as u64;
        crate::db::media::put_blob(&tx, &sha, &bytes)?;
        copied.files += 1;
    }
    tx.commit()?;
    drop(read);
    Ok(copied)
}

/// Copy one table's rows; answers how many.
fn copy_table(src: &Connection, dst: &Connection, table: &str) -> AppResult<usize> {
    // PostgreSQL's columns that SQLite has too, except those PostgreSQL always generates.
    let pg_columns: Vec<(String, bool)> = dst
        .prepare_cached(
            "SELECT column_name, COALESCE(identity_generation, '') = 'ALWAYS' \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 \
             ORDER BY ordinal_position",
        )?
        .query_map([table], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?
        .collect::<Result<_, _>>()?;
    let sqlite_columns: Vec<String> = src
        .prepare_cached("SELECT name FROM pragma_table_info(?1)")?
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if sqlite_columns.is_empty() {
        return Err(AppError::internal(format!(
            "table {table} is missing from the SQLite store"
        )));
    }
    let columns: Vec<&str> = pg_columns
        .iter()
        .filter(|(c, always)| !always && sqlite_columns.contains(c))
        .map(|(c, _)| c.as_str())
        .collect();
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let list = quoted.join(", ");
    let per = (VALUES_PER_INSERT / columns.len().max(1)).max(1);
    // A page at a time, by rowid; a table without one (`log_days`) by its columns' order.
    let by_rowid = src
        .prepare_cached(&format!("SELECT rowid FROM {table} LIMIT 0"))
        .is_ok();
    let page_sql = if by_rowid {
        format!("SELECT rowid, {list} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2")
    } else {
        let order: Vec<String> = (2..=columns.len() + 1).map(|i| i.to_string()).collect();
        format!(
            "SELECT 0, {list} FROM {table} ORDER BY {} LIMIT ?2 OFFSET ?1",
            order.join(", ")
        )
    };
    let (mut after, mut copied) = (0i64, 0usize);
    loop {
        let page: Vec<(i64, Vec<Val>)> = src
            .prepare_cached(&page_sql)?
            .query_map([after, per as i64], |r| {
                let values = (1..=columns.len())
                    .map(|i| r.get::<_, Val>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((r.get::<_, i64>(0)?, values))
            })?
            .collect::<Result<_, _>>()?;
        let Some(last) = page.last() else { break };
        after = if by_rowid {
            last.0
        } else {
            after + page.len() as i64
        };
        insert(dst, table, &list, columns.len(), &page)?;
        copied += page.len();
    }
    // Identity columns continue after the largest value copied.
    let identities: Vec<String> = dst
        .prepare_cached(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 \
               AND is_identity = 'YES'",
        )?
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for column in identities {
        dst.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 COALESCE((SELECT MAX(\"{column}\") FROM {table}), 0) + 1, false)"
            ),
            (),
        )?;
    }
    Ok(copied)
}

/// One `INSERT` of `rows` into `table`'s columns `list` (`width` of them).
fn insert(
    dst: &Connection,
    table: &str,
    list: &str,
    width: usize,
    rows: &[(i64, Vec<Val>)],
) -> AppResult<()> {
    let mut sql = format!("INSERT INTO {table} ({list}) VALUES ");
    let mut k = 0;
    for i in 0..rows.len() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..width {
            k += 1;
            sql.push_str(&format!("{}?{k}", if j == 0 { "" } else { ", " }));
        }
        sql.push(')');
    }
    let values: Vec<&dyn crate::db::sql::ToSql> = rows
        .iter()
        .flat_map(|(_, v)| v)
        .map(|v| v as &dyn crate::db::sql::ToSql)
        .collect();
    dst.execute(&sql, values.as_slice())
        .map_err(|e| AppError::internal(format!("copying {table}: {e}")))?;
    Ok(())
}

/// `loaxa-web copy-to-postgres`: open the SQLite store of `data` and the PostgreSQL store
/// at `to` (both migrated to this program's schema) and copy the one into the other.
pub fn run(data: &Path, sqlite: &Path, to: &str) -> AppResult<Copied> {
    let to = crate::db::Location::parse(Some(to), data).map_err(AppError::invalid)?;
    if !matches!(to, crate::db::Location::Postgres(_)) {
        return Err(AppError::invalid(format!(
            "--to: {to} is not a PostgreSQL database (postgres://…)"
        )));
    }
    if !sqlite.is_file() {
        return Err(AppError::invalid(format!(
            "no SQLite database at {}: is --data the server's data directory?",
            sqlite.display()
        )));
    }
    let open = |at: &crate::db::Location| {
        crate::db::Db::open_at(at).map_err(|e| AppError::invalid(e.to_string()))
    };
    let src = open(&crate::db::Location::Sqlite(sqlite.to_path_buf()))?;
    let dst = open(&to)?;
    let media = crate::library::MediaStore::open(data, u64::MAX)
        .map_err(|e| AppError::invalid(format!("the media directory: {e}")))?;
    src.call_blocking(|s| {
        dst.call_blocking(|d| sqlite_to_postgres(s, d, &|sha| media.path_of(sha)))
    })
}
