//! SQL on either backend, written once: SQLite through rusqlite, or PostgreSQL through
//! `tokio-postgres` with a `deadpool-postgres` pool ([`postgres`]). A statement is written
//! with `?N` placeholders (`?1`, `?2`, …), which PostgreSQL reads as `$N`; parameters are
//! [`Param`]s (made by [`params!`](crate::db_params)) and columns are read by [`Row::get`]
//! into the few types the store keeps (integers, booleans, text, bytes, reals, each
//! optional).
//!
//! What the two dialects share is what the store writes: `INSERT … RETURNING`,
//! `ON CONFLICT … DO UPDATE`, `IS [NOT] DISTINCT FROM`, `TRUE`/`FALSE`, `CAST(… AS BIGINT)`.
//! Flags are `BOOLEAN` in PostgreSQL and integers in SQLite; a [`Param::Bool`] and
//! [`Row::get`]`::<bool>` work with both.
//!
//! Everything here is synchronous, like rusqlite: callers in async code go through
//! [`super::blocking`]. The PostgreSQL side runs its futures on a runtime of its own
//! ([`postgres::Pool`]), so it works the same from a command's main thread and from the
//! daemon's blocking threads.

pub mod postgres;

use std::fmt;

/// A parameter of a statement, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// A value that can be a statement's parameter.
pub trait ToParam {
    fn param(&self) -> Param<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn param(&self) -> Param<'_> {
                Param::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i64, i32, u32, u16, u8, usize, u64);

impl ToParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Bool(*self)
    }
}

impl ToParam for f64 {
    fn param(&self) -> Param<'_> {
        Param::Real(*self)
    }
}

impl ToParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(self)
    }
}

impl ToParam for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl ToParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Blob(self)
    }
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn param(&self) -> Param<'_> {
        match self {
            Some(value) => value.param(),
            None => Param::Null,
        }
    }
}

/// The parameters of a statement: `db_params![a, b, c]` is `[Param; 3]`.
#[macro_export]
macro_rules! db_params {
    ($($value:expr),* $(,)?) => {
        [$($crate::store::db::ToParam::param(&$value)),*]
    };
}

/// Which SQL a connection speaks, for the few statements the two write differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Why a statement failed.
#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(tokio_postgres::Error),
    /// No connection could be had from the pool.
    Pool(String),
    /// A column's value is not of the type asked for.
    Column {
        index: usize,
        cause: String,
    },
    /// A statement did not do what it always does (an insert that inserted nothing).
    Unexpected(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(cause) => write!(f, "{cause}"),
            // tokio-postgres's own Display leaves out the server's message ("db error").
            DbError::Postgres(cause) => match cause.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.severity(), db.message()),
                None => {
                    write!(f, "{cause}")?;
                    let mut source = std::error::Error::source(cause);
                    while let Some(inner) = source {
                        write!(f, ": {inner}")?;
                        source = inner.source();
                    }
                    Ok(())
                }
            },
            DbError::Pool(cause) | DbError::Unexpected(cause) => write!(f, "{cause}"),
            DbError::Column { index, cause } => write!(f, "column {index}: {cause}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(cause: rusqlite::Error) -> Self {
        DbError::Sqlite(cause)
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(cause: tokio_postgres::Error) -> Self {
        DbError::Postgres(cause)
    }
}

impl DbError {
    /// Whether the statement broke a unique key (another node wrote the same row first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(error, _)) => {
                error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            DbError::Postgres(error) => {
                error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// Where statements run: an SQLite connection (in a transaction or not), or a PostgreSQL
/// connection taken from the pool.
pub enum Sql<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(postgres::Session<'a>),
}

impl Sql<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Sql::Sqlite(_) => Dialect::Sqlite,
            Sql::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        match self {
            Sql::Sqlite(conn) => {
                let changed = conn
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params))?;
                Ok(changed as u64)
            }
            Sql::Postgres(session) => session.execute(sql, params),
        }
    }

    /// Inserts one row (`sql` is an `INSERT` into a table keyed by `id`, without
    /// `RETURNING`) and gives its id; `None` when it inserted nothing (`ON CONFLICT DO
    /// NOTHING`). SQLite reads the id from the connection: a `RETURNING` there makes every
    /// insert keep a statement journal, which it allocates and frees each time.
    pub fn insert(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, DbError> {
        match self {
            Sql::Sqlite(conn) => {
                let inserted = conn
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params))?;
                Ok((inserted > 0).then(|| conn.last_insert_rowid()))
            }
            Sql::Postgres(session) => Ok(session
                .query_opt(&format!("{sql} RETURNING id"), params)?
                .map(|row| Row::Postgres(&row).get(0))
                .transpose()?),
        }
    }

    /// The first row of a query, read by `read`; `None` when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        read: impl FnOnce(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        match self {
            Sql::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                match rows.next()? {
                    Some(row) => read(&Row::Sqlite(row)).map(Some),
                    None => Ok(None),
                }
            }
            Sql::Postgres(session) => match session.query_opt(sql, params)? {
                Some(row) => read(&Row::Postgres(&row)).map(Some),
                None => Ok(None),
            },
        }
    }

    /// Every row of a query, each read by `read`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        mut read: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Sql::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(read(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Sql::Postgres(session) => session
                .query(sql, params)?
                .iter()
                .map(|row| read(&Row::Postgres(row)))
                .collect(),
        }
    }

    /// A query's single value (`SELECT COUNT(*) …`); an error when it gives no row.
    pub fn value<T: Column>(&self, sql: &str, params: &[Param<'_>]) -> Result<T, DbError> {
        self.query_row(sql, params, |row| row.get(0))?
            .ok_or_else(|| DbError::Column {
                index: 0,
                cause: "the query gave no row".into(),
            })
    }
}

/// One row of a query's result.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`.
    pub fn get<T: Column>(&self, index: usize) -> Result<T, DbError> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, index).map_err(DbError::Sqlite),
            Row::Postgres(row) => T::from_postgres(row, index),
        }
    }
}

/// A type a column can be read as.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
    fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError>;
}

/// The SQLite side of a column type is rusqlite's own reading; the PostgreSQL side is
/// `postgres::read`, which also widens smaller integers and reads flags from integers.
macro_rules! column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                row.get(index)
            }
            fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
                postgres::read(row, index)
            }
        }
    )*};
}
column!(
    i64,
    Option<i64>,
    bool,
    Option<bool>,
    f64,
    Option<f64>,
    String,
    Option<String>,
    Vec<u8>,
    Option<Vec<u8>>
);

/// Narrower integers: read as `i64`, an error when the value does not fit.
macro_rules! narrow_column {
    ($($t:ty),*) => {$(
        impl Column for $t {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                let wide: i64 = row.get(index)?;
                <$t>::try_from(wide).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, wide))
            }
            fn from_postgres(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
                let wide: i64 = postgres::read(row, index)?;
                <$t>::try_from(wide).map_err(|_| DbError::Column {
                    index,
                    cause: format!("{wide} does not fit {}", stringify!($t)),
                })
            }
        }
    )*};
}
narrow_column!(u32, usize, i32);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(value) => ValueRef::Integer(value),
            Param::Bool(value) => ValueRef::Integer(i64::from(value)),
            Param::Real(value) => ValueRef::Real(value),
            Param::Text(text) => ValueRef::Text(text.as_bytes()),
            Param::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

#[cfg(test)]
mod tests;
