//! Resolve the project's environment from inside a program, for runs that cannot be wrapped
//! by `envref run` (an IDE's debugger, a test harness). Same discovery, layers, profile and
//! errors as the CLI.
//!
//! ```no_run
//! fn main() -> Result<(), envref_core::Error> {
//!     envref_core::loader::Loader::new().set_env()?; // `.env` wins, as in `envref run`
//!     let key = std::env::var("API_KEY").unwrap();
//!     # let _ = key;
//!     Ok(())
//! }
//! ```

use std::path::PathBuf;

use crate::backend::passphrase::{PassphraseProvider, PassphraseSource};
use crate::backend::{build_all, BuildContext};
use crate::config::Precedence;
use crate::evaluate::Var;
use crate::project::Project;
use crate::resolve::resolve_project;
use crate::{Error, Result};

/// Resolves the project's environment from a program: builder for directory, profile and
/// passphrase, then [`Loader::load`], [`Loader::set_env`] or [`Loader::set_missing`].
#[derive(Debug, Clone, Default)]
pub struct Loader {
    dir: Option<PathBuf>,
    profile: Option<String>,
    passphrase: PassphraseSource,
    precedence: Option<Precedence>,
}

impl Loader {
    /// A loader for the current directory, the default profile and no passphrase prompt.
    pub fn new() -> Self {
        Loader::default()
    }

    /// Where to start looking for `.envref.yaml` (default: the current directory).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The profile (default: `$ENVREF_PROFILE`, else `active_profile`).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Where a vault's passphrase comes from (default: `$ENVREF_VAULT_PASSPHRASE`, else an
    /// error; the loader never prompts).
    pub fn passphrase(mut self, provider: impl PassphraseProvider + 'static) -> Self {
        self.passphrase = PassphraseSource::new(provider);
        self
    }

    /// Whether the env files or the process environment win for a variable both define
    /// (default: `precedence:` in `.envref.yaml`, else the files), as `--precedence` does.
    pub fn precedence(mut self, precedence: Precedence) -> Self {
        self.precedence = Some(precedence);
        self
    }

    /// Resolve every variable; all or nothing, like `envref resolve`. Warnings are dropped
    /// (a library does not print); `envref resolve` shows them.
    pub fn load(&self) -> Result<Vec<Var>> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io_while("cannot read the current directory", e))?,
        };
        let mut project = Project::open(&dir, self.profile.as_deref())?;
        Precedence::apply_to(&mut project, self.precedence);
        let ctx = BuildContext {
            passphrase: self.passphrase.clone(),
            in_project_code: true,
        };
        let resolved = resolve_project(&project, || build_all(&project.config, &ctx), false)?;
        match resolved.error() {
            Some(e) => Err(e),
            None => Ok(resolved.vars),
        }
    }

    /// Resolve, then set every variable in the process environment: with the default
    /// precedence the env files' values replace exported ones, as under `envref run`. Returns
    /// the keys it set. Call it early, before other threads start.
    pub fn set_env(&self) -> Result<Vec<String>> {
        let vars = self.load()?;
        let keys = vars.iter().map(|v| v.key.to_string()).collect();
        for v in vars {
            std::env::set_var(&*v.key, &v.value);
        }
        Ok(keys)
    }

    /// Set only the variables the process environment does not already have (the exported
    /// ones win, whatever the configured precedence; their references are not looked up).
    /// Returns the keys it set. Call it early, before other threads start.
    pub fn set_missing(&self) -> Result<Vec<String>> {
        let vars = self.clone().precedence(Precedence::Environment).load()?;
        let mut set = Vec::new();
        for v in vars {
            if std::env::var_os(&*v.key).is_none() {
                std::env::set_var(&*v.key, &v.value);
                set.push(v.key.to_string());
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(vars: &[Var]) -> Vec<String> {
        vars.iter()
            .map(|v| format!("{}={}", v.key, v.value))
            .collect()
    }

    /// The loader decides precedence as `envref run` does (one piece of code: `Precedence`).
    #[test]
    fn precedence_decides_between_the_files_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(".envref.yaml", "project: app\n");
        // The reference would fail if looked up: no backend is named nowhere.
        let env =
            "ENVREF_LOADER_TEST_PORT=3000\nENVREF_LOADER_TEST_U=h:${ENVREF_LOADER_TEST_PORT}\n";
        write(
            ".env",
            &format!("{env}ENVREF_LOADER_TEST_KEY=ref://nowhere/k\n"),
        );
        std::env::set_var("ENVREF_LOADER_TEST_PORT", "9999");
        std::env::set_var("ENVREF_LOADER_TEST_KEY", "exported");
        let loader = Loader::new().dir(dir.path());
        assert!(
            loader.load().is_err(),
            "the files win: the reference is looked up"
        );
        let env_wins = loader
            .clone()
            .precedence(Precedence::Environment)
            .load()
            .unwrap();
        assert_eq!(
            values(&env_wins),
            [
                "ENVREF_LOADER_TEST_PORT=9999",
                "ENVREF_LOADER_TEST_U=h:9999",
                "ENVREF_LOADER_TEST_KEY=exported"
            ]
        );
        // set_missing keeps what is exported and looks up nothing it would not set.
        assert_eq!(loader.set_missing().unwrap(), ["ENVREF_LOADER_TEST_U"]);
        assert_eq!(std::env::var("ENVREF_LOADER_TEST_U").unwrap(), "h:9999");
        write(".env", env);
        write(".envref.yaml", "project: app\nprecedence: files\n");
        assert_eq!(
            loader.set_env().unwrap(),
            ["ENVREF_LOADER_TEST_PORT", "ENVREF_LOADER_TEST_U"]
        );
        assert_eq!(std::env::var("ENVREF_LOADER_TEST_PORT").unwrap(), "3000");
    }
}
