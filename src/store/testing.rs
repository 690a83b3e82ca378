//! For the store's tests: a PostgreSQL schema of their own on the server that
//! `WATCHWORD_TEST_POSTGRES` names (`.ci/postgres.sh` starts one), and a way to run a test
//! on each backend.

use std::cell::RefCell;

use super::Store;
use super::db::postgres::Pool;

/// A PostgreSQL pool on a schema of its own, dropped with it; `None` (with a notice) when
/// `WATCHWORD_TEST_POSTGRES` does not give a server.
pub(crate) struct TestPostgres {
    pub pool: Pool,
    schema: String,
    url: String,
    /// The server's URL with the schema as the connections' search path.
    pub schema_url: String,
}

impl TestPostgres {
    pub(crate) fn start(test: &str) -> Option<TestPostgres> {
        let Ok(url) = std::env::var("WATCHWORD_TEST_POSTGRES") else {
            eprintln!(
                "{test}: WATCHWORD_TEST_POSTGRES is not set, so its PostgreSQL half is skipped \
                 (.ci/postgres.sh starts a server and prints the variable)"
            );
            return None;
        };
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let schema = format!(
            "t{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = Pool::connect(&url).expect("WATCHWORD_TEST_POSTGRES connects");
        admin
            .with(|sql| sql.batch(&format!("CREATE SCHEMA {schema}")))
            .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let schema_url = format!("{url}{separator}options=-csearch_path%3D{schema}");
        let pool = Pool::connect(&schema_url).expect("the test schema connects");
        Some(TestPostgres {
            pool,
            schema,
            url,
            schema_url,
        })
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Ok(admin) = Pool::connect(&self.url) {
            let _ = admin.with(|sql| sql.batch(&format!("DROP SCHEMA {} CASCADE", self.schema)));
        }
    }
}

thread_local! {
    /// The test that [`each_backend`] runs on PostgreSQL now, if any.
    static ON_POSTGRES: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Where a test's store lives; dropping it removes it.
pub(crate) struct Place {
    _dir: Option<tempfile::TempDir>,
    _postgres: Option<TestPostgres>,
}

impl Place {
    /// Another store on the same database: a second process's, or the same one reopened.
    pub(crate) fn open_again(&self) -> Store {
        match (&self._dir, &self._postgres) {
            (Some(dir), _) => Store::open(&dir.path().join("sub/ww.db")).unwrap(),
            (None, Some(postgres)) => Store::connect(&postgres.schema_url).unwrap(),
            (None, None) => unreachable!("a place is a folder or a schema"),
        }
    }
}

/// A new, empty store: a SQLite file in a temporary folder, or, within [`each_backend`]'s
/// PostgreSQL run, a schema of its own.
pub(crate) fn open() -> (Place, Store) {
    match ON_POSTGRES.with(|test| test.borrow().clone()) {
        None => {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(&dir.path().join("sub/ww.db")).unwrap();
            (
                Place {
                    _dir: Some(dir),
                    _postgres: None,
                },
                store,
            )
        }
        Some(test) => {
            let postgres = TestPostgres::start(&test).expect("each_backend checked the server");
            let store = Store::connect(&postgres.schema_url).unwrap();
            (
                Place {
                    _dir: None,
                    _postgres: Some(postgres),
                },
                store,
            )
        }
    }
}

/// Runs `test` (which opens its stores with [`open`]) on SQLite, then on PostgreSQL when
/// `WATCHWORD_TEST_POSTGRES` gives a server (else says that part is skipped).
pub(crate) fn each_backend(name: &str, test: impl Fn()) {
    test();
    if std::env::var_os("WATCHWORD_TEST_POSTGRES").is_none() {
        eprintln!(
            "{name}: WATCHWORD_TEST_POSTGRES is not set, so its PostgreSQL half is skipped \
             (.ci/postgres.sh starts a server and prints the variable)"
        );
        return;
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_POSTGRES.with(|test| *test.borrow_mut() = None);
        }
    }
    ON_POSTGRES.with(|test| *test.borrow_mut() = Some(name.to_string()));
    let _reset = Reset;
    test();
}
