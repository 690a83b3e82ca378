//! PostgreSQL for the store: the only user of `tokio-postgres`, `postgres-types` and
//! `deadpool-postgres`. A [`Pool`] owns a small runtime of its own, on which its connections
//! run, so that the store's synchronous calls can wait for a query from any thread that is
//! not itself running async code (a command's main thread, the daemon's blocking threads).

use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};
use postgres_types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::NoTls;

use super::{DbError, Param, Sql};

/// How long a caller waits for a connection from the pool before the statement fails.
const WAIT_FOR_CONNECTION: Duration = Duration::from_secs(30);
/// The most connections one process holds.
const MAX_CONNECTIONS: usize = 8;

/// A pool of connections to one PostgreSQL database.
pub struct Pool {
    pool: deadpool_postgres::Pool,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// The URL without its password, for messages.
    shown: String,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("url", &self.shown).finish()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which async code may not do; a store
        // can be dropped there (the daemon's shutdown).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether `database` (the config's `database` value) names a PostgreSQL database rather
/// than an SQLite file.
pub fn is_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// `url` without its password, for messages and logs.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Pool {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`, with
    /// the query parameters libpq knows, such as `options=-csearch_path%3Dname`); fails
    /// unless one connection can be made now.
    pub fn connect(url: &str) -> Result<Pool, DbError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|error: tokio_postgres::Error| DbError::Pool(format!("bad url: {error}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("watchword-postgres")
            .enable_all()
            .build()
            .map_err(|error| DbError::Pool(format!("cannot start a runtime: {error}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(MAX_CONNECTIONS)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(WAIT_FOR_CONNECTION))
            .create_timeout(Some(WAIT_FOR_CONNECTION))
            .build()
            .map_err(|error| DbError::Pool(error.to_string()))?;
        let pool = Pool {
            pool,
            runtime: Some(runtime),
            shown: shown_url(url),
        };
        pool.with(|_| Ok(()))?;
        Ok(pool)
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    fn client(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.runtime()
            .block_on(self.pool.get())
            .map_err(|error| match error {
                deadpool_postgres::PoolError::Backend(error) => DbError::Postgres(error),
                other => DbError::Pool(format!("no connection to {}: {other}", self.shown)),
            })
    }

    /// Runs `work` on one connection, each statement committed as it runs.
    pub fn with<T>(&self, work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>) -> Result<T, DbError> {
        let client = self.client()?;
        work(&Sql::Postgres(Session {
            client: &client,
            runtime: self.runtime(),
        }))
    }

    /// Runs `work` in one transaction on one connection: committed if it returns `Ok`,
    /// rolled back if it returns an error (or panics: the connection is then dropped
    /// mid-transaction, which the server rolls back).
    pub fn transaction<T>(
        &self,
        work: impl FnOnce(&Sql<'_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut guard = Unfinished(Some(self.client()?));
        let client = guard.0.as_ref().expect("just taken");
        let session = Session {
            client,
            runtime: self.runtime(),
        };
        session.batch("BEGIN")?;
        let sql = Sql::Postgres(session);
        let outcome = work(&sql);
        let Sql::Postgres(session) = sql else {
            unreachable!("built above")
        };
        let ended = match &outcome {
            Ok(_) => session.batch("COMMIT"),
            Err(_) => session.batch("ROLLBACK"),
        };
        match (outcome, ended) {
            (Ok(value), Ok(())) => {
                guard.finished();
                Ok(value)
            }
            (Ok(_), Err(error)) => Err(error),
            (Err(error), ended) => {
                if ended.is_ok() {
                    guard.finished();
                }
                Err(error)
            }
        }
    }
}

/// A pooled connection in a transaction: unless [`Unfinished::finished`] says it committed or
/// rolled back, dropping it (an error on the way, or a panic in the caller's work) closes the
/// connection instead of giving it back to the pool, and the server rolls the transaction
/// back. A connection given back mid-transaction would keep its locks (the story lock) and
/// commit its half with the next caller's work.
struct Unfinished(Option<deadpool_postgres::Object>);

impl Unfinished {
    fn finished(&mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// One connection from the pool, for the statements of one call.
pub struct Session<'a> {
    client: &'a deadpool_postgres::Client,
    runtime: &'a tokio::runtime::Runtime,
}

impl Session<'_> {
    fn params<'p>(params: &'p [Param<'p>]) -> Vec<&'p (dyn ToSql + Sync)> {
        params
            .iter()
            .map(|param| param as &(dyn ToSql + Sync))
            .collect()
    }

    /// Statements without parameters, one after the other (migrations, `BEGIN`).
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        self.runtime.block_on(self.client.batch_execute(sql))?;
        Ok(())
    }

    pub(super) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, DbError> {
        let sql = placeholders(sql);
        self.runtime.block_on(async {
            let statement = self.client.prepare_cached(&sql).await?;
            Ok(self
                .client
                .execute(&statement, &Self::params(params))
                .await?)
        })
    }

    pub(super) fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<tokio_postgres::Row>, DbError> {
        let sql = placeholders(sql);
        self.runtime.block_on(async {
            let statement = self.client.prepare_cached(&sql).await?;
            Ok(self.client.query(&statement, &Self::params(params)).await?)
        })
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Option<tokio_postgres::Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

impl Sql<'_> {
    /// Statements without parameters, one after the other: `execute_batch` for SQLite.
    pub fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Sql::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Sql::Postgres(session) => session.batch(sql),
        }
    }
}

/// `sql` with its `?N` placeholders written `$N`, outside quoted text and comments.
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '?' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(value) => match *ty {
                Type::INT2 => i16::try_from(value)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(value)?.to_sql(ty, out),
                Type::BOOL => (value != 0).to_sql(ty, out),
                Type::FLOAT8 => (value as f64).to_sql(ty, out),
                _ if <i64 as ToSql>::accepts(ty) => value.to_sql(ty, out),
                _ => Err(format!("an integer given for a parameter of type {ty}").into()),
            },
            Param::Bool(value) => match *ty {
                Type::BOOL => value.to_sql(ty, out),
                Type::INT8 => i64::from(value).to_sql(ty, out),
                Type::INT4 => i32::from(value).to_sql(ty, out),
                _ => Err(format!("a flag given for a parameter of type {ty}").into()),
            },
            Param::Real(value) if <f64 as ToSql>::accepts(ty) => value.to_sql(ty, out),
            Param::Text(text) if <&str as ToSql>::accepts(ty) => text.to_sql(ty, out),
            Param::Blob(bytes) if <&[u8] as ToSql>::accepts(ty) => bytes.to_sql(ty, out),
            other => Err(format!("{other:?} given for a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column value read from a PostgreSQL row.
pub trait PgColumn: Sized {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError>;
}

/// Column `index` of `row` as a `T`.
pub(super) fn read<T: PgColumn>(row: &tokio_postgres::Row, index: usize) -> Result<T, DbError> {
    T::read(row, index)
}

fn column_type(row: &tokio_postgres::Row, index: usize) -> Result<Type, DbError> {
    row.columns()
        .get(index)
        .map(|column| column.type_().clone())
        .ok_or_else(|| DbError::Column {
            index,
            cause: format!("the row has {} columns", row.len()),
        })
}

fn mismatch(index: usize, wanted: &str, ty: &Type) -> DbError {
    DbError::Column {
        index,
        cause: format!("{ty} read as {wanted}"),
    }
}

fn not_null<T>(value: Option<T>, index: usize) -> Result<T, DbError> {
    value.ok_or(DbError::Column {
        index,
        cause: "NULL where a value was expected".into(),
    })
}

impl PgColumn for Option<i64> {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
        let ty = column_type(row, index)?;
        Ok(match ty {
            Type::INT8 => row.try_get::<_, Option<i64>>(index)?,
            Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(i64::from),
            Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(i64::from),
            Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(i64::from),
            _ => return Err(mismatch(index, "an integer", &ty)),
        })
    }
}

impl PgColumn for Option<bool> {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
        let ty = column_type(row, index)?;
        match ty {
            Type::BOOL => Ok(row.try_get::<_, Option<bool>>(index)?),
            _ => Ok(<Option<i64>>::read(row, index)?.map(|value| value != 0)),
        }
    }
}

impl PgColumn for Option<f64> {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
        let ty = column_type(row, index)?;
        match ty {
            Type::FLOAT8 => Ok(row.try_get::<_, Option<f64>>(index)?),
            Type::FLOAT4 => Ok(row.try_get::<_, Option<f32>>(index)?.map(f64::from)),
            _ => Ok(<Option<i64>>::read(row, index)?.map(|value| value as f64)),
        }
    }
}

impl PgColumn for Option<String> {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
        let ty = column_type(row, index)?;
        if !<String as postgres_types::FromSql>::accepts(&ty) {
            return Err(mismatch(index, "text", &ty));
        }
        Ok(row.try_get(index)?)
    }
}

impl PgColumn for Option<Vec<u8>> {
    fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
        let ty = column_type(row, index)?;
        if !<Vec<u8> as postgres_types::FromSql>::accepts(&ty) {
            return Err(mismatch(index, "bytes", &ty));
        }
        Ok(row.try_get(index)?)
    }
}

macro_rules! required {
    ($($t:ty),*) => {$(
        impl PgColumn for $t {
            fn read(row: &tokio_postgres::Row, index: usize) -> Result<Self, DbError> {
                not_null(<Option<$t>>::read(row, index)?, index)
            }
        }
    )*};
}
required!(i64, bool, f64, String, Vec<u8>);
