//! Where things live, from the environment: the config file (`--config`, `$WATCHWORD_CONFIG`,
//! `./config/watchword.toml`, the XDG config folder, `/etc/watchword/`) and, for a config
//! that names none, the database (`$STATE_DIRECTORY`, beside a checkout's config, the XDG
//! data folder). The rules are `config::Places`' (pure); this reads what they depend on.

use std::path::{Path, PathBuf};

use crate::config::{self, Config, ConfigError, Places};

/// What the lookups depend on, read from this process's environment.
pub fn here() -> Places {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    Places {
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        config_env: var(config::ENV_VAR),
        xdg_config_home: var("XDG_CONFIG_HOME"),
        xdg_data_home: var("XDG_DATA_HOME"),
        home: var("HOME"),
        state_directory: var("STATE_DIRECTORY"),
    }
}

/// No config file where one was looked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "no config file found; looked for {}. Write a starter one with `watchword init`, or name \
     one with --config",
    tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
)]
pub struct NoConfig {
    pub tried: Vec<PathBuf>,
}

/// The config file to use (see [`Places::locate_config`]).
pub fn locate(flag: Option<&Path>) -> Result<PathBuf, NoConfig> {
    here()
        .locate_config(flag, Path::exists)
        .map_err(|tried| NoConfig { tried })
}

/// Reads and compiles the config at `path`, and puts the database where the system keeps
/// state when the config does not name it.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut config = config::load(path)?;
    settle(&mut config);
    Ok(config)
}

/// The database of a config that names none, by [`Places::default_database`]; the daemon's
/// reload applies it too, so the path does not change under it.
pub fn settle(config: &mut Config) {
    if !config.daemon.database_given {
        config.daemon.database = here().default_database(&config.path, Path::exists);
    }
}

/// Where `watchword init` writes without a path: the user's config folder.
pub fn init_path() -> PathBuf {
    let places = here();
    places
        .config_candidates()
        .into_iter()
        .find(|path| path.ends_with("watchword/watchword.toml") && !path.starts_with("/etc"))
        .unwrap_or_else(|| places.cwd.join(config::DEFAULT_PATH))
}
