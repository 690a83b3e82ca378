//! Reading a secret where the config says it lives: written in the file, an environment
//! variable, or a systemd credential (`LoadCredential=` puts it in a file under
//! `$CREDENTIALS_DIRECTORY`). Done when the sinks are built, at start and at each reload, so
//! a missing one is an error then, naming where it was looked for, never the value.

use std::path::Path;

use crate::config::Secret;

/// The value of `secret`, or what is wrong (for `what`: "alert hook: url").
pub fn reveal(secret: &Secret, what: &str) -> Result<String, String> {
    match secret {
        Secret::Literal(text) => Ok(text.clone()),
        Secret::Env(name) => std::env::var(name)
            .map_err(|_| format!("{what}: environment variable {name} is not set")),
        Secret::Credential(name) => {
            if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
                return Err(format!("{what}: {name:?} is not a credential name"));
            }
            let folder = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                format!(
                    "{what}: systemd credential {name}: $CREDENTIALS_DIRECTORY is not set (give it \
                     with LoadCredential= in the unit)"
                )
            })?;
            let text = std::fs::read_to_string(Path::new(&folder).join(name))
                .map_err(|error| format!("{what}: systemd credential {name}: {error}"))?;
            Ok(text.trim_end_matches(['\n', '\r']).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_says_where_it_was_looked_for_and_never_the_value() {
        assert_eq!(reveal(&Secret::Literal("abc".into()), "x").unwrap(), "abc");
        let missing = reveal(
            &Secret::Env("WATCHWORD_TEST_SURELY_UNSET".into()),
            "alert hook: url",
        );
        assert_eq!(
            missing.unwrap_err(),
            "alert hook: url: environment variable WATCHWORD_TEST_SURELY_UNSET is not set"
        );
        assert!(
            reveal(&Secret::Credential("../etc/passwd".into()), "x")
                .unwrap_err()
                .contains("not a credential name")
        );
    }
}
