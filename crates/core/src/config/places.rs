//! Where watchword looks for its config and keeps its database, when the command line and
//! the config do not say: a function of the environment and the working folder, which the
//! shell reads and passes in (so this stays pure and tested with plain values).

use std::path::{Path, PathBuf};

/// What the lookups depend on, as the shell found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// The working folder.
    pub cwd: PathBuf,
    /// `$WATCHWORD_CONFIG`.
    pub config_env: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$STATE_DIRECTORY` (systemd's `StateDirectory=`).
    pub state_directory: Option<PathBuf>,
}

/// The system-wide config, last in the lookup.
pub const SYSTEM_CONFIG: &str = "/etc/watchword/watchword.toml";
/// The service's state folder (`StateDirectory=watchword` in the unit), where the system
/// config's database goes.
pub const SYSTEM_STATE: &str = "/var/lib/watchword";

impl Places {
    /// The config files looked for, in order, when `--config` is not given:
    /// `$WATCHWORD_CONFIG`, `./config/watchword.toml`, `$XDG_CONFIG_HOME/watchword/` (or
    /// `~/.config/watchword/`) `watchword.toml`, `/etc/watchword/watchword.toml`.
    pub fn config_candidates(&self) -> Vec<PathBuf> {
        let mut candidates = Vec::new();
        if let Some(path) = self
            .config_env
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            candidates.push(self.cwd.join(path));
        }
        candidates.push(self.cwd.join(super::DEFAULT_PATH));
        if let Some(config_home) = self.config_home() {
            candidates.push(config_home.join("watchword").join("watchword.toml"));
        }
        candidates.push(PathBuf::from(SYSTEM_CONFIG));
        candidates
    }

    /// The config to use: `flag` when given (it must exist; the read says so otherwise), else
    /// the first candidate that `exists`; `Err` lists the places tried.
    pub fn locate_config(
        &self,
        flag: Option<&Path>,
        exists: impl Fn(&Path) -> bool,
    ) -> Result<PathBuf, Vec<PathBuf>> {
        if let Some(flag) = flag {
            return Ok(flag.to_path_buf());
        }
        // Named on purpose, like --config: a typo must not run some other config.
        if let Some(named) = self
            .config_env
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            return Ok(self.cwd.join(named));
        }
        let candidates = self.config_candidates();
        match candidates.iter().find(|path| exists(path)) {
            Some(found) => Ok(found.clone()),
            None => Err(candidates),
        }
    }

    /// The database of a config that does not name one: `$STATE_DIRECTORY/watchword.db`
    /// under systemd; `../data/watchword.db` beside the config when it is there (where
    /// earlier versions put it for any config, so an upgrade keeps its match log);
    /// `/var/lib/watchword/watchword.db` for the system config (the service's state
    /// folder, so the administrator's shell and the service agree); `../data/watchword.db`
    /// beside a config in a checkout (a `config/` folder next to a `Cargo.toml`, as in
    /// this repository); else the XDG data folder (`$XDG_DATA_HOME/watchword/watchword.db`,
    /// `~/.local/share/watchword/watchword.db`); else `watchword.db` beside the config.
    pub fn default_database(&self, config: &Path, exists: impl Fn(&Path) -> bool) -> PathBuf {
        if let Some(state) = self.state_directory.as_ref().filter(|p| p.is_absolute()) {
            return state.join("watchword.db");
        }
        let folder = config.parent().unwrap_or(Path::new("."));
        let earlier = folder.join("../data/watchword.db");
        if exists(&earlier) {
            return earlier;
        }
        if Some(folder) == Path::new(SYSTEM_CONFIG).parent() {
            return PathBuf::from(SYSTEM_STATE).join("watchword.db");
        }
        let in_checkout = folder.file_name().is_some_and(|name| name == "config")
            && folder
                .parent()
                .is_some_and(|above| exists(&above.join("Cargo.toml")));
        if in_checkout {
            return folder.join("../data/watchword.db");
        }
        match self.data_home() {
            Some(data) => data.join("watchword").join("watchword.db"),
            None => folder.join("watchword.db"),
        }
    }

    fn config_home(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .filter(|p| p.is_absolute())
            .or_else(|| Some(self.home.as_ref()?.join(".config")))
    }

    fn data_home(&self) -> Option<PathBuf> {
        self.xdg_data_home
            .clone()
            .filter(|p| p.is_absolute())
            .or_else(|| Some(self.home.as_ref()?.join(".local/share")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        Places {
            cwd: "/home/ana/notes".into(),
            home: Some("/home/ana".into()),
            ..Places::default()
        }
    }

    #[test]
    fn the_config_is_looked_for_from_the_flag_to_etc() {
        let nothing = |_: &Path| false;
        assert_eq!(
            places().locate_config(Some(Path::new("x.toml")), nothing),
            Ok(PathBuf::from("x.toml"))
        );
        assert_eq!(
            places().locate_config(None, nothing),
            Err(vec![
                PathBuf::from("/home/ana/notes/config/watchword.toml"),
                PathBuf::from("/home/ana/.config/watchword/watchword.toml"),
                PathBuf::from("/etc/watchword/watchword.toml"),
            ])
        );
        let from_env = Places {
            config_env: Some("/srv/ww.toml".into()),
            xdg_config_home: Some("/cfg".into()),
            ..places()
        };
        assert_eq!(
            from_env.config_candidates()[..2],
            [
                PathBuf::from("/srv/ww.toml"),
                PathBuf::from("/home/ana/notes/config/watchword.toml")
            ]
        );
        // $WATCHWORD_CONFIG is named on purpose: used even when it is not there.
        let xdg = |path: &Path| path == Path::new("/cfg/watchword/watchword.toml");
        assert_eq!(
            from_env.locate_config(None, xdg),
            Ok(PathBuf::from("/srv/ww.toml"))
        );
        let from_xdg = Places {
            config_env: None,
            ..from_env
        };
        assert_eq!(
            from_xdg.locate_config(None, xdg),
            Ok(PathBuf::from("/cfg/watchword/watchword.toml"))
        );
    }

    #[test]
    fn the_database_goes_where_the_system_keeps_state() {
        let nothing = |_: &Path| false;
        let etc = Path::new("/etc/watchword/watchword.toml");
        let systemd = Places {
            state_directory: Some("/var/lib/watchword".into()),
            ..places()
        };
        assert_eq!(
            systemd.default_database(etc, nothing),
            PathBuf::from("/var/lib/watchword/watchword.db")
        );
        // From an administrator's shell, the system config finds the service's database.
        assert_eq!(
            places().default_database(etc, nothing),
            PathBuf::from("/var/lib/watchword/watchword.db")
        );
        let own = Path::new("/home/ana/watch/watchword.toml");
        assert_eq!(
            places().default_database(own, nothing),
            PathBuf::from("/home/ana/.local/share/watchword/watchword.db")
        );
        // A database where earlier versions put it by default stays in use.
        let earlier = |path: &Path| path == Path::new("/home/ana/watch/../data/watchword.db");
        assert_eq!(
            places().default_database(own, earlier),
            PathBuf::from("/home/ana/watch/../data/watchword.db")
        );
        let checkout = |path: &Path| path == Path::new("/src/watchword/Cargo.toml");
        assert_eq!(
            places().default_database(Path::new("/src/watchword/config/watchword.toml"), checkout),
            PathBuf::from("/src/watchword/config/../data/watchword.db")
        );
        let homeless = Places::default();
        assert_eq!(
            homeless.default_database(own, nothing),
            PathBuf::from("/home/ana/watch/watchword.db")
        );
    }
}
