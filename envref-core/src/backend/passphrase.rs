//! Where the vault's passphrase comes from. The vault asks a [`PassphraseProvider`] given at
//! construction (through [`super::BuildContext`]); it never reads a terminal itself. The CLI
//! gives one that prompts on the terminal, and the loader and `build.rs` get
//! [`NonInteractive`]: `$ENVREF_VAULT_PASSPHRASE` or a clear error, never a blocked build.
//! The passphrase is the last resort: before it, the vault asks the agent (`crate::agent`)
//! and reads `$ENVREF_VAULT_IDENTITY`.

use std::ffi::OsString;
use std::fmt;
use std::sync::{Arc, OnceLock};

use secrecy::SecretString;

use super::{BackendError, ErrorKind};

use crate::config::CREDENTIAL_VARIABLES;
pub use crate::config::{IDENTITY_ENV, PASSPHRASE_ENV};

/// The credential variables (`config::CREDENTIAL_VARIABLES`, in that order) as the process
/// started with them, once [`take_credentials_from_environment`] has moved them out of its
/// environment.
static TAKEN: OnceLock<Vec<Option<OsString>>> = OnceLock::new();

/// Move `$ENVREF_VAULT_PASSPHRASE` and `$ENVREF_VAULT_IDENTITY` out of this process's
/// environment into memory, where [`from_env`] and [`identity_file_from_env`] still find them,
/// so that no program it starts inherits them: age starts a plugin with the environment as is.
/// For a binary's `main`, before any thread starts (changing the environment races with
/// threads that read it); a library leaves its host's environment alone.
///
/// The environment the process started with stays readable in `/proc/<pid>/environ` to the
/// user's other processes, among them the ones envref starts; when a credential is there, the
/// process is made non-dumpable, which closes that file (and ptrace) to them.
pub fn take_credentials_from_environment() {
    let taken: Vec<_> = CREDENTIAL_VARIABLES.iter().map(std::env::var_os).collect();
    let held = taken.iter().any(Option::is_some);
    if TAKEN.set(taken).is_ok() && held {
        for name in CREDENTIAL_VARIABLES {
            std::env::remove_var(name);
        }
        #[cfg(target_os = "linux")]
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

/// A credential variable: as taken at start, else from the environment.
fn credential(name: &str) -> Option<OsString> {
    match TAKEN.get() {
        Some(taken) => taken[CREDENTIAL_VARIABLES.iter().position(|n| *n == name)?].clone(),
        None => std::env::var_os(name),
    }
}

/// The identity file `$ENVREF_VAULT_IDENTITY` names, when set and not empty.
pub fn identity_file_from_env() -> Option<std::path::PathBuf> {
    credential(IDENTITY_ENV)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// Answers "what is the vault's passphrase?".
pub trait PassphraseProvider: Send + Sync {
    /// The passphrase; `prompt` ("Vault passphrase: ") is what a person would be asked.
    fn passphrase(&self, prompt: &str) -> Result<SecretString, BackendError>;

    /// A secret only a person may give (an age plugin's PIN), never from the environment;
    /// `None` when no one can be asked (the default).
    fn ask_person(&self, _prompt: &str) -> Option<SecretString> {
        None
    }
}

/// `$ENVREF_VAULT_PASSPHRASE`, else an error saying how to give it: for code that must never
/// wait on a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct NonInteractive;

impl PassphraseProvider for NonInteractive {
    fn passphrase(&self, _prompt: &str) -> Result<SecretString, BackendError> {
        from_env()?.ok_or_else(no_terminal)
    }
}

/// The passphrase in `$ENVREF_VAULT_PASSPHRASE`; `None` when it is not set. Set but empty or
/// not UTF-8 is an error, not a fall-through to a prompt.
pub fn from_env() -> Result<Option<SecretString>, BackendError> {
    let Some(p) = credential(PASSPHRASE_ENV) else {
        return Ok(None);
    };
    let p = p.into_string().map_err(|_| {
        BackendError::new(
            ErrorKind::Denied,
            format!("vault: {PASSPHRASE_ENV} is not valid UTF-8"),
        )
    })?;
    if p.is_empty() {
        return Err(BackendError::new(
            ErrorKind::Denied,
            format!("vault: {PASSPHRASE_ENV} is empty"),
        ));
    }
    Ok(Some(SecretString::from(p)))
}

/// The error of a provider that has no one to ask.
pub fn no_terminal() -> BackendError {
    BackendError::new(
        ErrorKind::Denied,
        "vault: passphrase required, and there is no terminal to ask on",
    )
    .with_hint(format!(
        "run `envref vault unlock` once (its agent keeps the key), set {PASSPHRASE_ENV} or \
         {IDENTITY_ENV}, or run the command in a terminal to be prompted"
    ))
}

/// A shared provider, as [`super::BuildContext`] and the loader carry it; [`NonInteractive`]
/// by default.
#[derive(Clone)]
pub struct PassphraseSource(Arc<dyn PassphraseProvider>);

impl PassphraseSource {
    /// Wrap `provider`, shared by every vault of a run.
    pub fn new(provider: impl PassphraseProvider + 'static) -> Self {
        PassphraseSource(Arc::new(provider))
    }

    /// Ask the provider for the passphrase, showing `prompt` if it asks a person.
    pub fn passphrase(&self, prompt: &str) -> Result<SecretString, BackendError> {
        self.0.passphrase(prompt)
    }

    /// Ask a person for a secret (an age plugin's PIN); `None` when no one can be asked.
    pub fn ask_person(&self, prompt: &str) -> Option<SecretString> {
        self.0.ask_person(prompt)
    }
}

impl Default for PassphraseSource {
    fn default() -> Self {
        PassphraseSource::new(NonInteractive)
    }
}

impl fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassphraseSource")
    }
}
