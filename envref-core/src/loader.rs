//! Resolve the project's environment from inside a program, for runs that cannot be wrapped
//! by `envref run` (an IDE's debugger, a test harness). Same discovery, layers, profile and
//! errors as the CLI.
//!
//! ```no_run
//! fn main() -> Result<(), envref_core::Error> {
//!     envref_core::loader::Loader::new().set_missing()?; // sets variables not already set
//!     let key = std::env::var("API_KEY").unwrap();
//!     # let _ = key;
//!     Ok(())
//! }
//! ```

use std::path::PathBuf;

use crate::backend::passphrase::{PassphraseProvider, PassphraseSource};
use crate::backend::{build_all, BuildContext};
use crate::evaluate::Var;
use crate::project::Project;
use crate::resolve::resolve_project;
use crate::{Error, Result};

/// Resolves the project's environment from a program: builder for directory, profile and
/// passphrase, then [`Loader::load`] or [`Loader::set_missing`].
#[derive(Debug, Clone, Default)]
pub struct Loader {
    dir: Option<PathBuf>,
    profile: Option<String>,
    passphrase: PassphraseSource,
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

    /// Resolve every variable; all or nothing, like `envref resolve`.
    pub fn load(&self) -> Result<Vec<Var>> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io_while("cannot read the current directory", e))?,
        };
        let project = Project::open(&dir, self.profile.as_deref())?;
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

    /// Resolve, then set every variable that the process environment does not already have.
    /// Returns the keys it set. Call it early, before other threads start.
    pub fn set_missing(&self) -> Result<Vec<String>> {
        let mut set = Vec::new();
        for v in self.load()? {
            if std::env::var_os(&*v.key).is_none() {
                std::env::set_var(&*v.key, &v.value);
                set.push(v.key.to_string());
            }
        }
        Ok(set)
    }
}
