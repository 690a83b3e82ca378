//! Files watchword creates hold feed text and the match log: owner-only permissions.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use crate::support::{Daemon, Workspace, fixtures, topics_toml, wait_for};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_its_folder_the_lock_and_the_jsonl_sink_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[daemon]\ndatabase = \"data/ww.db\"\nfirst_poll = \"alert\"\n\n\
         [[feed]]\nname = \"RSS wire\"\nurl = \"{}\"\n\n\
         [[alert]]\nkind = \"jsonl\"\npath = \"out/alerts.jsonl\"\n\n{}",
        fixtures().join("feeds/news.rss").display(),
        topics_toml()
    );
    std::fs::write(dir.path().join("watchword.toml"), config).unwrap();
    let workspace = Workspace { dir };
    let root = workspace.dir.path().to_path_buf();
    let alerts = root.join("out/alerts.jsonl");

    let daemon = Daemon::start(&workspace, "daemon.log");
    wait_for(Duration::from_secs(20), "the matches in the jsonl file", || {
        let alerts = alerts.clone();
        async move {
            std::fs::read_to_string(&alerts).is_ok_and(|text| text.lines().count() == 2)
        }
    })
    .await;
    let data = root.join("data");
    assert_eq!(mode(&data), 0o700, "the database folder watchword created");
    for file in ["ww.db", "ww.db-wal", "ww.db-shm", "ww.db.lock"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&alerts), 0o600, "the jsonl sink's file");
    let (code, log) = daemon.stop().await;
    assert_eq!(code, Some(0), "{log}");
}
