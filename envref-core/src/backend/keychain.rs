//! The OS keychain through keyring-core: the Secret Service over D-Bus on Linux and the BSDs.
//!
//! Items are stored under service `envref` with the namespaced key as the user, i.e. the
//! Secret Service attributes `service=envref`, `username=<project>/<key>`, so
//! `secret-tool lookup service envref username my-app/api_key` reads what envref wrote and
//! envref reads what `secret-tool store` wrote. `list` uses the store's own search on
//! `{service: envref}`: the Secret Service is the index, so keys written by other processes
//! (even at the same moment) are always listed.
//!
//! A raw reference (`ref://keychain//shared/GITHUB_TOKEN`) is the user `shared/GITHUB_TOKEN`
//! under the same service `envref` (the trait's default `get_raw`): a key outside this project's
//! namespace, such as one shared by several projects. It never reaches items of other services:
//! a `.env` from a cloned repository must not be able to read the user's browser or SSH
//! passwords.
//!
//! The connection is opened on first use and kept for the run. Every keyring error is mapped
//! to a one-line message with the fix; no raw `Debug` dump and no secret value ever reaches a
//! message.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use secrecy::{ExposeSecret, SecretString};

use super::{Backend, BackendError, ErrorKind, Lookup, Namespace};
use crate::config::BackendSpec;

/// The service every envref item is stored under.
pub(crate) const SERVICE: &str = "envref";

const UNAVAILABLE_HINT: &str = "no D-Bus session or no Secret Service provider (gnome-keyring, KWallet) answered; \
on a headless machine use the local vault instead: run `envref vault init`, then put `vault` first under \
`backends:` in .envref.yaml";

const LOCKED_HINT: &str = "unlock (or create) the login keyring (log in to the desktop session, or unlock it with seahorse; \
headless: `printf '%s' \"$PASSWORD\" | gnome-keyring-daemon --unlock --replace --components=secrets`), then retry";

pub(crate) struct Keychain {
    name: String,
    store: OnceLock<Result<Arc<CredentialStore>, BackendError>>,
}

impl Keychain {
    pub fn new(spec: &BackendSpec) -> Keychain {
        Keychain {
            name: spec.name.clone(),
            store: OnceLock::new(),
        }
    }

    /// The store, connected on first use; a failure to connect is remembered for the run.
    fn store(&self) -> Result<&Arc<CredentialStore>, BackendError> {
        self.store
            .get_or_init(|| open_store(&self.name))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Connect and run the search envref uses.
    fn answers(&self) -> Result<(), BackendError> {
        Entry::search_in_store(self.store()?, &search_spec())
            .map(drop)
            .map_err(|e| map_error(&self.name, "probe", "", e))
    }

    fn entry(&self, key: &str) -> Result<Entry, BackendError> {
        let store = self.store()?;
        let label = format!("envref {key}");
        let modifiers = HashMap::from([("label", label.as_str())]);
        Entry::new_in_store_with_modifiers(store, SERVICE, key, &modifiers)
            .map_err(|e| map_error(&self.name, "open", key, e))
    }
}

/// Connect to this machine's credential store.
#[cfg(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd"
))]
fn open_store(name: &str) -> Result<Arc<CredentialStore>, BackendError> {
    match dbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Ok(store as Arc<CredentialStore>),
        // Whatever stops the connection (no bus, no provider, no reply), there is no usable
        // Secret Service for this run; the cause says which.
        Err(KeyringError::PlatformFailure(inner)) => {
            Err(unavailable(name, &inner.to_string()).with_source(inner))
        }
        Err(e) => Err(unavailable(name, &e.to_string())),
    }
}

#[cfg(target_os = "macos")]
fn open_store(name: &str) -> Result<Arc<CredentialStore>, BackendError> {
    match apple_native_keyring_store::keychain::Store::new() {
        Ok(store) => Ok(store as Arc<CredentialStore>),
        Err(e) => Err(unavailable(name, &e.to_string())),
    }
}

#[cfg(target_os = "windows")]
fn open_store(name: &str) -> Result<Arc<CredentialStore>, BackendError> {
    match windows_native_keyring_store::Store::new() {
        Ok(store) => Ok(store as Arc<CredentialStore>),
        Err(e) => Err(unavailable(name, &e.to_string())),
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "macos",
    target_os = "windows"
)))]
fn open_store(name: &str) -> Result<Arc<CredentialStore>, BackendError> {
    Err(BackendError::new(
        ErrorKind::Unavailable,
        format!("{name}: unavailable (this build of envref has no keychain support for this OS)"),
    )
    .with_hint("use the local vault instead: run `envref vault init`, then put `vault` first under `backends:` in .envref.yaml"))
}

/// The search that finds every item envref stored; each store has its own vocabulary
/// (Secret Service and macOS match attributes, Windows matches target names `<user>.envref`).
fn search_spec() -> HashMap<&'static str, &'static str> {
    if cfg!(target_os = "windows") {
        HashMap::from([("pattern", r"\.envref$")])
    } else {
        HashMap::from([("service", SERVICE)])
    }
}

/// The namespaced key of a found item: its user.
fn user_of(item: &Entry) -> Result<Option<String>, KeyringError> {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        // The Secret Service store's specifiers are empty while locked; attributes say why.
        Ok(item.get_attributes()?.get("username").cloned())
    } else {
        Ok(item
            .get_specifiers()
            .filter(|(service, _)| service == SERVICE)
            .map(|(_, user)| user))
    }
}

/// Whether a keychain answers on this machine (used by `envref init`). Opens a connection
/// and runs the search envref uses; never prompts.
pub fn probe() -> Result<(), BackendError> {
    Keychain::new(&BackendSpec::new("keychain", "keychain")).answers()
}

/// No usable keychain, with the platform's `cause` (a D-Bus or OS message, never a value).
fn unavailable(name: &str, cause: &str) -> BackendError {
    BackendError::new(
        ErrorKind::Unavailable,
        format!(
            "{name}: unavailable (no Secret Service on this machine): {}",
            one_line(cause)
        ),
    )
    .with_hint(UNAVAILABLE_HINT)
}

/// Whether a platform failure means the service went away (or never was there).
fn is_gone(text: &str) -> bool {
    [
        "ServiceUnknown",
        "not provided by any .service files",
        "NoReply",
        "Disconnected",
        "Failed to connect",
        "autolaunch",
        "No DBus session",
        "NoServer",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// One line, bounded: platform error texts are D-Bus messages, never values.
fn one_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Map a keyring error (not `NoEntry` or `Ambiguous`, which callers handle) to a
/// one-line message with the fix.
fn map_error(name: &str, op: &str, key: &str, e: KeyringError) -> BackendError {
    let target = if key.is_empty() {
        String::new()
    } else {
        format!(" {key}")
    };
    match e {
        KeyringError::PlatformFailure(inner) => {
            let text = inner.to_string();
            let e = if is_gone(&text) {
                unavailable(name, &text)
            } else {
                BackendError::new(ErrorKind::Failed, format!("{name}: {op}{target} failed: {}", one_line(&text)))
            };
            e.with_source(inner)
        }
        KeyringError::NoStorageAccess(inner) => BackendError::new(ErrorKind::Denied, format!("{name}: locked")).with_hint(LOCKED_HINT).with_source(inner),
        KeyringError::NoEntry => BackendError::new(ErrorKind::Failed, format!("{name}: secret not found:{target}")),
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            BackendError::new(ErrorKind::Failed, format!("{name}: the value stored for{target} is not UTF-8 text"))
                .with_hint("envref stores text values; replace it with `envref secret set <key>`")
        }
        KeyringError::Ambiguous(items) => BackendError::new(ErrorKind::Failed, format!("{name}: {} items match{target}", items.len()))
            .with_hint("remove the duplicates, e.g. with `secret-tool clear service envref username <key>`, then set it again"),
        KeyringError::TooLong(attr, limit) => {
            BackendError::new(ErrorKind::Failed, format!("{name}: {op}{target} failed: {attr} is longer than the limit of {limit}"))
        }
        KeyringError::Invalid(attr, reason) => {
            BackendError::new(ErrorKind::Failed, format!("{name}: {op}{target} failed: invalid {attr}: {}", one_line(&reason)))
        }
        KeyringError::NotSupportedByStore(what) => {
            BackendError::new(ErrorKind::Unsupported, format!("{name}: {op} is not supported by this keychain: {}", one_line(&what)))
        }
        KeyringError::NoDefaultStore | KeyringError::BadStoreFormat(_) => {
            BackendError::new(ErrorKind::Failed, format!("{name}: {op}{target} failed: the credential store is not usable"))
        }
        // keyring-core's error is non-exhaustive; its Display never carries a value.
        other => BackendError::new(ErrorKind::Failed, format!("{name}: {op}{target} failed: {}", one_line(&other.to_string()))),
    }
}

impl Backend for Keychain {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "keychain"
    }

    fn get(&self, key: &str) -> Lookup {
        let entry = self.entry(key)?;
        let text = match entry.get_password() {
            Ok(v) => v,
            Err(KeyringError::NoEntry) => return Ok(None),
            // Duplicates (written by another tool): they are the same key; any one answers.
            Err(KeyringError::Ambiguous(items)) => match items.first().map(Entry::get_password) {
                Some(Ok(v)) => v,
                Some(Err(KeyringError::NoEntry)) | None => return Ok(None),
                Some(Err(e)) => return Err(map_error(&self.name, "get", key, e)),
            },
            Err(e) => return Err(map_error(&self.name, "get", key, e)),
        };
        Ok(Some(SecretString::from(text)))
    }

    /// The Secret Service answering the search is enough: listing reads nothing more.
    fn probe(&self, _: &Namespace) -> Result<String, BackendError> {
        self.answers().map(|()| "Secret Service answered".into())
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        let entry = self.entry(key)?;
        match entry.set_password(value.expose_secret()) {
            Ok(()) => Ok(()),
            Err(KeyringError::Ambiguous(items)) => {
                // Collapse duplicates into one item holding the new value.
                for item in &items {
                    match item.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => {}
                        Err(e) => return Err(map_error(&self.name, "set", key, e)),
                    }
                }
                entry
                    .set_password(value.expose_secret())
                    .map_err(|e| map_error(&self.name, "set", key, e))
            }
            Err(e) => Err(map_error(&self.name, "set", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let entry = self.entry(key)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(KeyringError::Ambiguous(items)) => {
                let mut existed = false;
                for item in &items {
                    match item.delete_credential() {
                        Ok(()) => existed = true,
                        Err(KeyringError::NoEntry) => {}
                        Err(e) => return Err(map_error(&self.name, "delete", key, e)),
                    }
                }
                Ok(existed)
            }
            Err(e) => Err(map_error(&self.name, "delete", key, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let store = self.store()?;
        let items = Entry::search_in_store(store, &search_spec())
            .map_err(|e| map_error(&self.name, "list", "", e))?;
        let mut keys = Vec::new();
        for item in items {
            match user_of(&item) {
                Ok(Some(user)) => keys.push(user),
                Ok(_) => {}
                // Deleted by someone else between the search and now.
                Err(KeyringError::NoEntry) => continue,
                Err(e) => return Err(map_error(&self.name, "list", "", e)),
            }
        }
        Ok(super::listed(keys, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_platform_failures_are_unavailable() {
        let e = map_error(
            "keychain",
            "get",
            "app/k",
            KeyringError::PlatformFailure("DBus error: The name org.freedesktop.secrets was not provided by any .service files".into()),
        );
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert_eq!(
            e.message,
            "keychain: unavailable (no Secret Service on this machine): DBus error: The name \
             org.freedesktop.secrets was not provided by any .service files"
        );
        assert!(e.hint.as_deref().unwrap().contains("envref vault init"));
    }

    #[test]
    fn platform_causes_are_kept_for_verbose() {
        let cause = "DBus error: NoReply\ndetail on a second line";
        let e = map_error(
            "keychain",
            "get",
            "app/k",
            KeyringError::PlatformFailure(cause.into()),
        );
        assert_eq!(e.kind, ErrorKind::Unavailable);
        let source = std::error::Error::source(&e).expect("the platform error is the source");
        assert_eq!(source.to_string(), cause);
        // The message has the first line; -v adds the whole cause.
        assert_eq!(crate::Error::from(e).causes(), [cause]);
        let e = map_error(
            "keychain",
            "get",
            "app/k",
            KeyringError::NoStorageAccess("unlock prompt was dismissed".into()),
        );
        assert_eq!(
            crate::Error::from(e).causes(),
            ["unlock prompt was dismissed"]
        );
    }

    #[test]
    fn locked_and_other_failures() {
        let e = map_error(
            "keychain",
            "get",
            "app/k",
            KeyringError::NoStorageAccess("Secret Service: unlock prompt was dismissed".into()),
        );
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::Denied, "keychain: locked")
        );
        assert!(e.hint.is_some());
        let e = map_error(
            "kc",
            "set",
            "app/k",
            KeyringError::PlatformFailure("DBus error: something odd\nsecond line".into()),
        );
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                ErrorKind::Failed,
                "kc: set app/k failed: DBus error: something odd"
            )
        );
        let e = map_error(
            "kc",
            "get",
            "app/k",
            KeyringError::BadEncoding(b"\xffsecret-bytes".to_vec()),
        );
        assert!(
            !e.message.contains("secret-bytes") && !format!("{e:?}").contains("secret-bytes"),
            "{e:?}"
        );
    }
}
