//! One small SQL interface over the two stores: SQLite (rusqlite, the embedded default) and
//! PostgreSQL (the `postgres` crate, for several nodes). Every statement in `db/` is written
//! once, in the SQL both understand, against these types; their names and shapes follow
//! rusqlite's (`Connection`, `Transaction`, `Row`, `params!`, `OptionalExtension`) so the
//! statements read as plain rusqlite code.
//!
//! On PostgreSQL a statement's text is adapted once, when it is prepared
//! ([`pg_dialect`]): `?N` placeholders become `$N`, and SQLite's two-argument scalar
//! `MAX`/`MIN` become `GREATEST`/`LEAST`. Values are converted both ways by column type, so
//! integers are `BIGINT`, flags are `BIGINT` 0/1 as in SQLite, instants are fixed-width
//! text, and `SUM`/`AVG`'s `NUMERIC` reads back as a number.
//!
//! Why the blocking `postgres` crate: the statement functions stay synchronous and run on
//! the store's own threads, as they always have with SQLite, so both backends share every
//! function and every transaction; `sqlx` would have made them all async and its checked
//! queries need a database at build time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

/// The result of a store call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store call failed.
#[derive(Debug)]
pub enum Error {
    /// SQLite refused.
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused, or the connection to it failed.
    Postgres(postgres::Error),
    /// A query that must return a row returned none.
    NoRows,
    /// A stored value is not what the program expects (column, why).
    Decode(usize, String),
    /// A value cannot be stored.
    Encode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sqlite(e) => write!(f, "{e}"),
            Error::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => write!(f, "{e}"),
            },
            Error::NoRows => f.write_str("query returned no rows"),
            Error::Decode(col, why) => write!(f, "column {col}: {why}"),
            Error::Encode(why) => write!(f, "cannot store a value: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            other => Error::Sqlite(other),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

impl Error {
    /// A value that cannot be encoded for storage.
    pub fn encode(e: impl fmt::Display) -> Self {
        Error::Encode(e.to_string())
    }

    /// A stored value in column `col` that cannot be decoded.
    pub fn decode(col: usize, e: impl fmt::Display) -> Self {
        Error::Decode(col, e.to_string())
    }

    /// Did a UNIQUE or PRIMARY KEY constraint refuse the statement?
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Error::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// `.optional()` on a single-row result, as in rusqlite.
pub trait OptionalExtension<T> {
    /// No row is `Ok(None)`.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Which store a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, one file.
    Sqlite,
    /// PostgreSQL, shared by several nodes.
    Postgres,
}

/// A connection to either store.
pub struct Connection {
    inner: Inner,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connection({:?})", self.backend())
    }
}

/// Prepared statements kept per PostgreSQL connection; the code has a bounded number of
/// statement texts, but a few are built with a varying number of placeholders.
const PG_CACHE: usize = 512;

/// The advisory lock every PostgreSQL transaction takes first: writing transactions are
/// serialised across every node, the guarantee SQLite's single writer gives, so each
/// read-then-write keeps its meaning on several nodes.
pub const PG_WRITE_LOCK: i64 = 0x4c6f_6158_6101;

struct Pg {
    client: RefCell<postgres::Client>,
    cache: RefCell<HashMap<String, postgres::Statement>>,
    in_tx: Cell<bool>,
}

impl Pg {
    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.cache.borrow().get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.prepare(&pg_dialect(sql))?;
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= PG_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// Prepare `sql`. A parameter PostgreSQL cannot type from its context (`?1 IS NULL OR
    /// …`) is declared, in turn, text, integer, float or bytes, until the statement
    /// prepares: SQLite's parameters have no type.
    fn prepare(&self, sql: &str) -> Result<postgres::Statement> {
        use postgres::error::SqlState;
        use postgres::types::{Kind, Type};
        const GUESSES: [Type; 4] = [Type::TEXT, Type::INT8, Type::FLOAT8, Type::BYTEA];
        let unspecified = Type::new("unspecified".into(), 0, Kind::Pseudo, String::new());
        let mut types: Vec<Type> = Vec::new();
        // The parameter being guessed, and which guess it is on.
        let mut guessing: Option<(usize, usize)> = None;
        loop {
            let e = match self.client.borrow_mut().prepare_typed(sql, &types) {
                Ok(s) => return Ok(s),
                Err(e) => e,
            };
            let Some(db) = e.as_db_error() else {
                return Err(e.into());
            };
            let untyped = (db.code() == &SqlState::INDETERMINATE_DATATYPE
                || db.code() == &SqlState::AMBIGUOUS_PARAMETER)
                .then(|| db.message().rsplit('$').next()?.parse::<usize>().ok())
                .flatten()
                .filter(|n| (1..=999).contains(n));
            let next = match (untyped, guessing) {
                // A new parameter without a type: its first guess.
                (Some(n), g) if g.map(|g| g.0) != Some(n) => Some((n, 0)),
                // The guess does not fit its use: the next one.
                (None, Some((n, k)))
                    if db.code() == &SqlState::UNDEFINED_FUNCTION
                        || db.code() == &SqlState::DATATYPE_MISMATCH =>
                {
                    Some((n, k + 1))
                }
                _ => None,
            };
            match next {
                Some((n, k)) if k < GUESSES.len() => {
                    if types.len() < n {
                        types.resize(n, unspecified.clone());
                    }
                    types[n - 1] = GUESSES[k].clone();
                    guessing = Some((n, k));
                }
                _ => return Err(e.into()),
            }
        }
    }

    fn args<'p>(&self, stmt: &postgres::Statement, p: &'p [&'p dyn ToSql]) -> Result<Vec<Arg<'p>>> {
        if stmt.params().len() != p.len() {
            return Err(Error::Encode(format!(
                "the statement takes {} values, {} given",
                stmt.params().len(),
                p.len()
            )));
        }
        Ok(p.iter().map(|v| v.to_pg()).collect())
    }

    fn query(&self, stmt: &postgres::Statement, p: &[&dyn ToSql]) -> Result<Vec<postgres::Row>> {
        let args = self.args(stmt, p)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        Ok(self.client.borrow_mut().query(stmt, &refs)?)
    }

    fn execute(&self, stmt: &postgres::Statement, p: &[&dyn ToSql]) -> Result<usize> {
        let args = self.args(stmt, p)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = args
            .iter()
            .map(|a| a as &(dyn postgres::types::ToSql + Sync))
            .collect();
        Ok(self.client.borrow_mut().execute(stmt, &refs)? as usize)
    }
}

impl Connection {
    /// A connection over an open SQLite database.
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        Connection {
            inner: Inner::Sqlite(conn),
        }
    }

    /// A connection over an open PostgreSQL client.
    pub fn postgres(client: postgres::Client) -> Self {
        Connection {
            inner: Inner::Postgres(Box::new(Pg {
                client: RefCell::new(client),
                cache: RefCell::new(HashMap::new()),
                in_tx: Cell::new(false),
            })),
        }
    }

    /// Which store this is.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Has the PostgreSQL connection broken (server gone, connection killed)?
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(_) => false,
            Inner::Postgres(pg) => pg.client.borrow().is_closed(),
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, the backup API).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    /// Run one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, p: P) -> Result<usize> {
        p.with(|p| match &self.inner {
            Inner::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(sqlite_params(p))?),
            Inner::Postgres(pg) => pg.execute(&pg.statement(sql)?, p),
        })
    }

    /// Run several statements with no values (schema changes, tests).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(pg) => Ok(pg.client.borrow_mut().batch_execute(sql)?),
        }
    }

    /// The first row of a query, mapped by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P: Params, F>(&self, sql: &str, p: P, f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(p, f)
    }

    /// A statement, prepared once per connection and kept.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            inner: match &self.inner {
                Inner::Sqlite(c) => StatementInner::Sqlite(c.prepare_cached(sql)?),
                Inner::Postgres(pg) => StatementInner::Postgres(pg, pg.statement(sql)?),
            },
        })
    }

    /// A statement (kept too: the cache is bounded).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// Begin a transaction; it rolls back unless committed. On PostgreSQL it first takes
    /// [`PG_WRITE_LOCK`].
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        match &self.inner {
            Inner::Sqlite(c) => c.execute_batch("BEGIN DEFERRED")?,
            Inner::Postgres(pg) => {
                if pg.in_tx.get() {
                    return Err(Error::Encode("a transaction is already open".into()));
                }
                let begun = pg.client.borrow_mut().batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})"
                ));
                if let Err(e) = begun {
                    // Leave no half-open transaction behind for the next call.
                    let _ = pg.client.borrow_mut().batch_execute("ROLLBACK");
                    return Err(e.into());
                }
                pg.in_tx.set(true);
            }
        }
        Ok(Transaction {
            conn: self,
            done: false,
        })
    }

    fn end(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(pg) => {
                pg.in_tx.set(false);
                Ok(pg.client.borrow_mut().batch_execute(sql)?)
            }
        }
    }
}

/// An open transaction: reads and writes like its connection, rolls back when dropped
/// uncommitted.
pub struct Transaction<'c> {
    conn: &'c Connection,
    done: bool,
}

impl Transaction<'_> {
    /// Make its changes permanent.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        self.conn.end("COMMIT")
    }

    /// Drop its changes.
    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.conn.end("ROLLBACK")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.conn.end("ROLLBACK") {
                tracing::warn!(error = %e, "rolling back a transaction failed");
            }
        }
    }
}

/// A prepared statement.
pub struct Statement<'c> {
    inner: StatementInner<'c>,
}

enum StatementInner<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    Postgres(&'c Pg, postgres::Statement),
}

impl Statement<'_> {
    /// Run it; the number of rows changed.
    pub fn execute<P: Params>(&mut self, p: P) -> Result<usize> {
        p.with(|p| match &mut self.inner {
            StatementInner::Sqlite(s) => Ok(s.execute(sqlite_params(p))?),
            StatementInner::Postgres(pg, s) => pg.execute(s, p),
        })
    }

    /// Every row, each mapped by `f`.
    pub fn query_map<T, P: Params, F>(
        &mut self,
        p: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        p.with(|p| {
            let mut out = Vec::new();
            match &mut self.inner {
                StatementInner::Sqlite(s) => {
                    let mut rows = s.query(sqlite_params(p))?;
                    while let Some(r) = rows.next()? {
                        out.push(f(&Row(RowInner::Sqlite(r))));
                    }
                }
                StatementInner::Postgres(pg, s) => {
                    for r in pg.query(s, p)? {
                        out.push(f(&Row(RowInner::Postgres(&r))));
                    }
                }
            }
            Ok(out.into_iter())
        })
    }

    /// The first row mapped by `f`; [`Error::NoRows`] when there is none.
    pub fn query_row<T, P: Params, F>(&mut self, p: P, f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        p.with(|p| match &mut self.inner {
            StatementInner::Sqlite(s) => {
                let mut rows = s.query(sqlite_params(p))?;
                match rows.next()? {
                    Some(r) => f(&Row(RowInner::Sqlite(r))),
                    None => Err(Error::NoRows),
                }
            }
            StatementInner::Postgres(pg, s) => match pg.query(s, p)?.first() {
                Some(r) => f(&Row(RowInner::Postgres(r))),
                None => Err(Error::NoRows),
            },
        })
    }

    /// Does the query return a row?
    pub fn exists<P: Params>(&mut self, p: P) -> Result<bool> {
        self.query_row(p, |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }

    /// Every row, to read one by one with [`Rows::next`] (SQLite streams them; PostgreSQL
    /// has read them all).
    pub fn query<P: Params>(&mut self, p: P) -> Result<Rows<'_>> {
        p.with(|p| {
            Ok(Rows(match &mut self.inner {
                StatementInner::Sqlite(s) => RowsInner::Sqlite(s.query(sqlite_params(p))?),
                StatementInner::Postgres(pg, s) => {
                    RowsInner::Postgres(pg.query(s, p)?.into_iter(), None)
                }
            }))
        })
    }
}

/// Rows read by [`Statement::query`].
pub struct Rows<'s>(RowsInner<'s>);

enum RowsInner<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres(std::vec::IntoIter<postgres::Row>, Option<postgres::Row>),
}

impl Rows<'_> {
    /// The next row, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match &mut self.0 {
            RowsInner::Sqlite(rows) => Ok(rows.next()?.map(|r| Row(RowInner::Sqlite(r)))),
            RowsInner::Postgres(rows, current) => {
                *current = rows.next();
                Ok(current.as_ref().map(|r| Row(RowInner::Postgres(r))))
            }
        }
    }
}

/// One row of a result.
pub struct Row<'a>(RowInner<'a>);

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, i: I) -> Result<T> {
        let i = i.index();
        match &self.0 {
            RowInner::Sqlite(r) => T::from_sqlite(r, i),
            RowInner::Postgres(r) => T::from_val(Val::from_pg(r, i)?, i),
        }
    }
}

impl Row<'_> {
    /// Column `i` as text, borrowed from the row when the store allows (SQLite): for the
    /// hot loops that only look a value up.
    pub fn text(&self, i: usize) -> Result<std::borrow::Cow<'_, str>> {
        match &self.0 {
            RowInner::Sqlite(r) => match r.get_ref(i)? {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                    .map(std::borrow::Cow::Borrowed)
                    .map_err(|e| Error::decode(i, e)),
                other => Err(Error::decode(i, format!("expected text, found {other:?}"))),
            },
            RowInner::Postgres(_) => self.get::<_, String>(i).map(std::borrow::Cow::Owned),
        }
    }
}

/// A column's position (from 0).
pub trait RowIndex {
    /// As a number.
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A value read from either store, in SQLite's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL.
    Null,
    /// An integer (PostgreSQL's integers and booleans).
    Int(i64),
    /// A float (and a `NUMERIC` with a fraction).
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Val {
    fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Val {
        use rusqlite::types::ValueRef as V;
        match v {
            V::Null => Val::Null,
            V::Integer(i) => Val::Int(i),
            V::Real(f) => Val::Real(f),
            V::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
            V::Blob(b) => Val::Blob(b.to_vec()),
        }
    }

    fn from_pg(r: &postgres::Row, i: usize) -> Result<Val> {
        use postgres::types::Type;
        let Some(col) = r.columns().get(i) else {
            return Err(Error::decode(i, "no such column"));
        };
        let raw: Raw<'_> = r.try_get(i)?;
        let Some(b) = raw.0 else {
            return Ok(Val::Null);
        };
        let bad = || Error::decode(i, format!("bad {} value", col.type_()));
        let fixed = |n: usize| -> Result<&[u8]> {
            if b.len() == n {
                Ok(b)
            } else {
                Err(bad())
            }
        };
        let ty = col.type_();
        Ok(if *ty == Type::INT8 {
            Val::Int(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        } else if *ty == Type::INT4 || *ty == Type::OID {
            Val::Int(i32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?) as i64)
        } else if *ty == Type::INT2 {
            Val::Int(i16::from_be_bytes(fixed(2)?.try_into().map_err(|_| bad())?) as i64)
        } else if *ty == Type::BOOL {
            Val::Int(i64::from(fixed(1)?[0] != 0))
        } else if *ty == Type::FLOAT8 {
            Val::Real(f64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        } else if *ty == Type::FLOAT4 {
            Val::Real(f32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?) as f64)
        } else if *ty == Type::NUMERIC {
            numeric(b).ok_or_else(bad)?
        } else if *ty == Type::BYTEA {
            Val::Blob(b.to_vec())
        } else if *ty == Type::JSONB {
            // Binary JSONB: a version byte, then the text.
            Val::Text(
                String::from_utf8(b.get(1..).unwrap_or_default().to_vec()).map_err(|_| bad())?,
            )
        } else {
            // TEXT, VARCHAR, NAME, JSON, UNKNOWN…: the text itself.
            Val::Text(String::from_utf8(b.to_vec()).map_err(|_| bad())?)
        })
    }
}

/// A PostgreSQL `NUMERIC` in its binary form: an integer when it has no fraction.
fn numeric(b: &[u8]) -> Option<Val> {
    let word = |k: usize| -> Option<i32> {
        Some(i16::from_be_bytes(b.get(k..k + 2)?.try_into().ok()?) as i32)
    };
    let (ndigits, weight) = (word(0)?, word(2)?);
    let sign = u16::from_be_bytes(b.get(4..6)?.try_into().ok()?);
    if sign == 0xC000 {
        return Some(Val::Real(f64::NAN));
    }
    let mut int: i128 = 0;
    let mut frac = 0f64;
    let mut integral = true;
    for d in 0..ndigits {
        let digit = word(8 + 2 * d as usize)? as i128;
        let power = weight - d;
        if power >= 0 {
            int = int.checked_add(digit.checked_mul(10_000i128.checked_pow(power as u32)?)?)?;
        } else if digit != 0 {
            integral = false;
            frac += digit as f64 * 10_000f64.powi(power);
        }
    }
    let neg = sign == 0x4000;
    if integral {
        let v = i64::try_from(if neg { -int } else { int }).ok()?;
        Some(Val::Int(v))
    } else {
        let v = int as f64 + frac;
        Some(Val::Real(if neg { -v } else { v }))
    }
}

/// Any PostgreSQL value, raw.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> postgres::types::FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }
    fn from_sql_null(
        _: &postgres::types::Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// A type read from a column: straight through rusqlite on SQLite, through [`Val`] on
/// PostgreSQL, with SQLite's meaning (a flag is an integer, an instant is text).
pub trait FromSql: Sized {
    /// From a SQLite row.
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self>;
    /// From a value.
    fn from_val(v: Val, i: usize) -> Result<Self>;
}

fn wrong(i: usize, want: &str, v: &Val) -> Error {
    Error::decode(i, format!("expected {want}, found {v:?}"))
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
                Ok(r.get(i)?)
            }
            fn from_val(v: Val, i: usize) -> Result<Self> {
                match v {
                    Val::Int(n) => <$t>::try_from(n).map_err(|e| Error::decode(i, e)),
                    other => Err(wrong(i, "an integer", &other)),
                }
            }
        }
    )*};
}
from_int!(i64, i32, u32, u16, u8, usize, u64);

impl FromSql for bool {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(r.get(i)?)
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        match v {
            Val::Int(n) => Ok(n != 0),
            other => Err(wrong(i, "a flag", &other)),
        }
    }
}

impl FromSql for f64 {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(r.get(i)?)
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        match v {
            Val::Real(f) => Ok(f),
            Val::Int(n) => Ok(n as f64),
            other => Err(wrong(i, "a number", &other)),
        }
    }
}

impl FromSql for f32 {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(r.get(i)?)
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        f64::from_val(v, i).map(|f| f as f32)
    }
}

impl FromSql for String {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(r.get(i)?)
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        match v {
            Val::Text(s) => Ok(s),
            other => Err(wrong(i, "text", &other)),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(r.get(i)?)
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        match v {
            Val::Blob(b) => Ok(b),
            Val::Text(s) => Ok(s.into_bytes()),
            other => Err(wrong(i, "bytes", &other)),
        }
    }
}

impl FromSql for Val {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        Ok(Val::from_sqlite(r.get_ref(i)?))
    }
    fn from_val(v: Val, _: usize) -> Result<Self> {
        Ok(v)
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sqlite(r: &rusqlite::Row<'_>, i: usize) -> Result<Self> {
        if r.get_ref(i)? == rusqlite::types::ValueRef::Null {
            Ok(None)
        } else {
            T::from_sqlite(r, i).map(Some)
        }
    }
    fn from_val(v: Val, i: usize) -> Result<Self> {
        match v {
            Val::Null => Ok(None),
            other => T::from_val(other, i).map(Some),
        }
    }
}

/// A value given to a statement: as rusqlite takes it on SQLite, as an [`Arg`] on
/// PostgreSQL.
pub trait ToSql: Sync {
    /// For SQLite.
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_>;
    /// For PostgreSQL.
    fn to_pg(&self) -> Arg<'_>;
}

/// A value for PostgreSQL, converted to the parameter's type when it is sent.
#[derive(Debug)]
pub enum Arg<'a> {
    /// NULL of any type.
    Null,
    /// An integer (also for flags).
    Int(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Owned text.
    Owned(String),
    /// Bytes.
    Blob(&'a [u8]),
}

impl postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use bytes::BufMut;
        use postgres::types::{IsNull, Type};
        let text_type = |t: &Type| {
            *t == Type::TEXT
                || *t == Type::VARCHAR
                || *t == Type::BPCHAR
                || *t == Type::NAME
                || *t == Type::UNKNOWN
                || *t == Type::JSON
        };
        match self {
            Arg::Null => return Ok(IsNull::Yes),
            Arg::Int(n) => {
                if *ty == Type::INT8 {
                    out.put_i64(*n)
                } else if *ty == Type::INT4 {
                    out.put_i32(i32::try_from(*n)?)
                } else if *ty == Type::INT2 {
                    out.put_i16(i16::try_from(*n)?)
                } else if *ty == Type::BOOL {
                    out.put_u8(u8::from(*n != 0))
                } else if *ty == Type::FLOAT8 {
                    out.put_f64(*n as f64)
                } else if *ty == Type::FLOAT4 {
                    out.put_f32(*n as f32)
                } else if text_type(ty) {
                    out.put_slice(n.to_string().as_bytes())
                } else {
                    return Err(format!("an integer for a {ty} parameter").into());
                }
            }
            Arg::Real(f) => {
                if *ty == Type::FLOAT8 {
                    out.put_f64(*f)
                } else if *ty == Type::FLOAT4 {
                    out.put_f32(*f as f32)
                } else if text_type(ty) {
                    out.put_slice(f.to_string().as_bytes())
                } else {
                    return Err(format!("a number for a {ty} parameter").into());
                }
            }
            Arg::Text(s) => text(s, ty, out, text_type(ty))?,
            Arg::Owned(s) => text(s, ty, out, text_type(ty))?,
            Arg::Blob(b) => {
                if *ty == Type::BYTEA {
                    out.put_slice(b)
                } else {
                    return Err(format!("bytes for a {ty} parameter").into());
                }
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn text(
    s: &str,
    ty: &postgres::types::Type,
    out: &mut bytes::BytesMut,
    is_text: bool,
) -> std::result::Result<(), Box<dyn std::error::Error + Sync + Send>> {
    use bytes::BufMut;
    use postgres::types::Type;
    if is_text {
        out.put_slice(s.as_bytes());
    } else if *ty == Type::JSONB {
        out.put_u8(1);
        out.put_slice(s.as_bytes());
    } else if *ty == Type::BYTEA {
        out.put_slice(s.as_bytes());
    } else {
        return Err(format!("text for a {ty} parameter").into());
    }
    Ok(())
}

macro_rules! to_int {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
                rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Integer(*self as i64))
            }
            fn to_pg(&self) -> Arg<'_> {
                Arg::Int(*self as i64)
            }
        }
    )*};
}
to_int!(i64, i32, u32, u16, u8, i8, i16);

macro_rules! to_wide_int {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
                // Values above i64::MAX are stored as the largest (none occur: sizes,
                // milliseconds and counts).
                let n = i64::try_from(*self).unwrap_or(i64::MAX);
                rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Integer(n))
            }
            fn to_pg(&self) -> Arg<'_> {
                Arg::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
to_wide_int!(u64, usize);

impl ToSql for bool {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*self)))
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Int(i64::from(*self))
    }
}

impl ToSql for f64 {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Real(*self))
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Real(*self)
    }
}

impl ToSql for f32 {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        rusqlite::types::ToSqlOutput::Owned(rusqlite::types::Value::Real(*self as f64))
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Real(*self as f64)
    }
}

impl ToSql for str {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(self.as_bytes()))
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToSql for String {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        self.as_str().to_sqlite()
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl ToSql for [u8] {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Blob(self))
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToSql for Vec<u8> {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        self.as_slice().to_sqlite()
    }
    fn to_pg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl ToSql for Val {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(n) => ValueRef::Integer(*n),
            Val::Real(f) => ValueRef::Real(*f),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
        })
    }
    fn to_pg(&self) -> Arg<'_> {
        match self {
            Val::Null => Arg::Null,
            Val::Int(n) => Arg::Int(*n),
            Val::Real(f) => Arg::Real(*f),
            Val::Text(s) => Arg::Text(s),
            Val::Blob(b) => Arg::Blob(b),
        }
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        (**self).to_sqlite()
    }
    fn to_pg(&self) -> Arg<'_> {
        (**self).to_pg()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sqlite(&self) -> rusqlite::types::ToSqlOutput<'_> {
        match self {
            Some(v) => v.to_sqlite(),
            None => rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Null),
        }
    }
    fn to_pg(&self) -> Arg<'_> {
        match self {
            Some(v) => v.to_pg(),
            None => Arg::Null,
        }
    }
}

/// rusqlite's view of one of our values.
struct AsSqlite<'a>(&'a dyn ToSql);

impl rusqlite::ToSql for AsSqlite<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.to_sqlite())
    }
}

fn sqlite_params<'a>(
    p: &'a [&'a dyn ToSql],
) -> rusqlite::ParamsFromIter<impl Iterator<Item = AsSqlite<'a>>> {
    rusqlite::params_from_iter(p.iter().map(|v| AsSqlite(*v)))
}

/// The values of a statement: `params![a, b]`, `[a, b]`, `[]` or `()`.
pub trait Params {
    /// Call `f` with the values as a slice.
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;
}

impl Params for () {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

impl Params for &[&dyn ToSql] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

impl<const N: usize> Params for &[&dyn ToSql; N] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

impl Params for [&dyn ToSql; 0] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: [&dyn ToSql; $n] = std::array::from_fn(|i| &self[i] as &dyn ToSql);
                f(&refs)
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// The values of a statement, as rusqlite's `params!`.
#[macro_export]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::db::sql::ToSql] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::db::sql::ToSql),+] as &[&dyn $crate::db::sql::ToSql] };
}
pub use crate::sql_params as params;

/// A statement's text as PostgreSQL takes it: `?N` → `$N` (a bare `?` is numbered in
/// order), and the two-or-more-argument scalar `MAX(`/`MIN(` of SQLite → `GREATEST(`/`LEAST(`.
/// Quoted strings and identifiers are left alone.
pub fn pg_dialect(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0u32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                while i < b.len() {
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&sql[start..i]);
            }
            b'?' => {
                i += 1;
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                if start == i {
                    next += 1;
                    out.push_str(&format!("${next}"));
                } else {
                    let n: u32 = sql[start..i].parse().unwrap_or(0);
                    next = next.max(n);
                    out.push('$');
                    out.push_str(&sql[start..i]);
                }
            }
            b'M' | b'm' if word_at(b, i, "MAX(") || word_at(b, i, "MIN(") => {
                let is_max = b[i + 1].eq_ignore_ascii_case(&b'A');
                if top_level_commas(&b[i + 4..]) {
                    out.push_str(if is_max { "GREATEST(" } else { "LEAST(" });
                } else {
                    out.push_str(&sql[i..i + 4]);
                }
                i += 4;
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// Does `word` (ASCII, any case) start at `i`, not inside a longer name?
fn word_at(b: &[u8], i: usize, word: &str) -> bool {
    let w = word.as_bytes();
    b.len() >= i + w.len()
        && b[i..i + w.len()].eq_ignore_ascii_case(w)
        && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.'))
}

/// Up to the parenthesis that closes the call starting at `b`, is there a comma outside any
/// nested parenthesis or quote?
fn top_level_commas(b: &[u8]) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    for &c in b {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'(') => depth += 1,
            (None, b')') if depth == 0 => return false,
            (None, b')') => depth -= 1,
            (None, b',') if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_adapted_for_postgres() {
        assert_eq!(
            pg_dialect("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1"
        );
        assert_eq!(pg_dialect("VALUES (?, ?, ?)"), "VALUES ($1, $2, $3)");
        assert_eq!(
            pg_dialect("SELECT '?1', \"a?\" FROM t"),
            "SELECT '?1', \"a?\" FROM t"
        );
        assert_eq!(
            pg_dialect("SET n = MAX(excluded.n, t.n), m = (SELECT MAX(at) FROM s), k = min(?3, f(a, b))"),
            "SET n = GREATEST(excluded.n, t.n), m = (SELECT MAX(at) FROM s), k = LEAST($3, f(a, b))"
        );
        assert_eq!(
            pg_dialect("SELECT total_max(a, b), 'é' || ?1"),
            "SELECT total_max(a, b), 'é' || $1"
        );
    }

    #[test]
    fn numerics_decode_to_integers_or_floats() {
        // 12345678 = [1234, 5678], weight 1.
        let n = [0u8, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xd2, 0x16, 0x2e];
        assert_eq!(numeric(&n), Some(Val::Int(12_345_678)));
        // -1.5 = [1, 5000], weight 0, negative.
        let n = [0u8, 2, 0, 0, 0x40, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(numeric(&n), Some(Val::Real(-1.5)));
        // 0: no digits.
        assert_eq!(numeric(&[0, 0, 0, 0, 0, 0, 0, 0]), Some(Val::Int(0)));
    }

    #[test]
    fn sqlite_round_trip_through_the_common_types() {
        let c = Connection::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        c.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB, e INTEGER)")
            .unwrap();
        c.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)",
            params![7i64, "x", 1.5f64, vec![1u8, 2], true],
        )
        .unwrap();
        let none: Option<String> = None;
        c.execute("INSERT INTO t (a, b) VALUES (?1, ?2)", params![8u32, none])
            .unwrap();
        type Five = (
            i64,
            Option<String>,
            Option<f64>,
            Option<Vec<u8>>,
            Option<bool>,
        );
        let rows: Vec<Five> = c
            .prepare_cached("SELECT a, b, c, d, e FROM t ORDER BY a")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            rows[0],
            (7, Some("x".into()), Some(1.5), Some(vec![1, 2]), Some(true))
        );
        assert_eq!(rows[1], (8, None, None, None, None));
        let missing = c.query_row("SELECT a FROM t WHERE a = ?1", [9i64], |r| {
            r.get::<_, i64>(0)
        });
        assert!(matches!(missing, Err(Error::NoRows)));
        assert_eq!(
            c.query_row("SELECT a FROM t WHERE a = ?1", [9i64], |r| r
                .get::<_, i64>(0))
                .optional()
                .unwrap(),
            None
        );
    }
}
