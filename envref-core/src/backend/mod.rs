//! The backend contract and the table of backend types.
//!
//! A backend answers a lookup with a value, "not found" (`Ok(None)`), or an error. Keys given
//! to a backend are already namespaced (`<project>/<key>` or `<project>/<profile>/<key>`).

use std::fmt;

use secrecy::SecretString;

pub(crate) mod kinds;

#[cfg(feature = "backends")]
mod registry;
pub use kinds::BackendKind;
#[cfg(feature = "backends")]
pub(crate) use registry::implicit_one_password;
#[cfg(feature = "backends")]
pub use registry::{build, build_all, BuildContext};

#[cfg(feature = "backends")]
pub(crate) mod aws_ssm;
#[cfg(feature = "backends")]
pub(crate) mod cli;
#[cfg(feature = "backends")]
pub(crate) mod hashicorp_vault;
#[cfg(feature = "backends")]
pub(crate) mod keychain;
#[cfg(feature = "backends")]
pub(crate) mod oci_vault;
#[cfg(feature = "backends")]
pub(crate) mod onepassword;
#[cfg(feature = "backends")]
pub mod passphrase;
// Public for its reply parsers (the protocol's one reading of a plugin's output), which the
// fuzz target and the property tests drive directly.
#[cfg(feature = "backends")]
pub mod plugin;
#[cfg(feature = "backends")]
pub mod vault;
#[cfg(feature = "backends")]
pub mod vault_key;

/// Standard base64 (RFC 4648, `+/`, `=` padding), for the few places that need it: the local
/// vault's wrapped identity and `oci-vault` secret content. One copy, no dependency.
#[cfg(feature = "backends")]
pub(crate) mod base64 {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(crate) fn base64_encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// `None` when `s` holds a character outside the alphabet (padding is ignored).
    pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        let mut acc = 0u32;
        let mut bits = 0;
        for c in s.bytes().filter(|&c| c != b'=') {
            let v = B64.iter().position(|&b| b == c)? as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn base64_round_trip() {
            for data in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0, 255, 128, 7, 9]] {
                assert_eq!(base64_decode(&base64_encode(data)).unwrap(), data);
            }
            assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
            assert_eq!(base64_decode("aGVsbG8Kd29ybGQ=").unwrap(), b"hello\nworld");
            assert_eq!(base64_decode("not base64!"), None);
        }
    }
}

/// What went wrong, as far as the chain cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend cannot be reached at all this run (no service, no executable): the chain
    /// stops asking it.
    Unavailable,
    /// Reachable but locked or unauthorised.
    Denied,
    /// Anything else (bad output, timeout, a failure of the service).
    Failed,
    /// The backend does not implement this operation.
    Unsupported,
}

/// A backend failure: a one-line message naming the backend, a hint with the fix, and the
/// platform error it came from (for `-v`). Never carries a secret value.
#[derive(Debug, Clone)]
pub struct BackendError {
    /// Decides what the chain does next (skip the backend, stop, report).
    pub kind: ErrorKind,
    /// One line naming the backend and what failed.
    pub message: String,
    /// How to fix it, when the backend knows.
    pub hint: Option<String>,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// An error of `kind` with `message` and no hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    /// Attach the fix to show under the message.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Keep `cause` for `source()`; only an error whose text and Debug never hold a value.
    pub fn with_source(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(cause.into().into());
        self
    }
}

/// Equal when they say the same (the cause is not compared).
impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.message, &self.hint) == (other.kind, &other.message, &other.hint)
    }
}

impl Eq for BackendError {}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// The fix for a backend error that came without one: what to check, by backend type.
#[cfg(feature = "backends")]
pub(crate) use kinds::check_hint as backend_hint;

/// A backend's answer for one key: the value, `Ok(None)` for "not found", or an error.
pub type Lookup = Result<Option<SecretString>, BackendError>;

/// How many lookups of distinct keys run at once when a backend cannot batch.
pub const PARALLEL_LOOKUPS: usize = 8;

/// A secret store. Implement it to add a backend out of tree: `get_many`, `probe` and
/// `deletion_note` have defaults, the rest is required. Keys arrive namespaced
/// ([`Namespace::key`]); errors must never carry a secret value.
pub trait Backend: Send + Sync {
    /// The configured name (what `ref://<name>/…` and `--backend` use).
    fn name(&self) -> &str;

    /// The backend type (`vault`, `aws-ssm`, …).
    fn kind(&self) -> &'static str;

    /// The value of the full (namespaced) `key`, `Ok(None)` when the backend does not have it.
    fn get(&self, key: &str) -> Lookup;

    /// Look up several keys; answers are in the order of `keys`. Backends whose service
    /// batches override this; the default runs `get` in parallel, bounded.
    fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
        parallel_get(self, keys)
    }

    /// Look up secrets by their own names in the store, bypassing the project namespace and
    /// any configured prefix: `ref://<backend>//<name>` and `op://…` references. Answers are in
    /// the order of `names`. The default treats a name like a full key (right for stores
    /// without a prefix: keychain, vault, plugins, which get the name verbatim).
    fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
        self.get_many(names)
    }

    /// Store `value` under the full `key`, replacing any previous value.
    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError>;

    /// Delete `key`; returns whether it existed.
    fn delete(&self, key: &str) -> Result<bool, BackendError>;

    /// Whether `key` is stored. The vault answers from the names alone, without its key.
    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.get(key)?.is_some())
    }

    /// Copy the value of `from` to `to`; `Ok(false)` when `from` is not stored. The vault
    /// copies the ciphertext, without its key (`secret rotate`'s archive).
    fn copy(&self, from: &str, to: &str) -> Result<bool, BackendError> {
        match self.get(from)? {
            Some(v) => self.set(to, &v).map(|()| true),
            None => Ok(false),
        }
    }

    /// Every stored key that starts with `prefix` (full keys, sorted).
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;

    /// Whether the backend can be used now, for `envref status` and `doctor`: what was found
    /// ("reachable (3 key(s) under app/)"), or why not. Never reads a secret or prompts. The
    /// default lists the namespace, which exercises the executable, credentials and service.
    fn probe(&self, ns: &Namespace) -> Result<String, BackendError> {
        let prefix = ns.prefix();
        match self.list(&prefix) {
            Ok(keys) => Ok(format!("reachable ({} key(s) under {prefix})", keys.len())),
            Err(e) if e.kind == ErrorKind::Unsupported => {
                Ok("configured (it cannot list, so it was not probed)".into())
            }
            Err(e) => Err(e),
        }
    }

    /// What `delete` really does, when it is not immediate (shown after a delete).
    fn deletion_note(&self) -> Option<&'static str> {
        None
    }
}

/// `get_many`, checked: exactly one answer per key, else an error (a broken backend or
/// plugin must not make the caller panic or drop keys).
#[cfg(feature = "backends")]
pub(crate) fn get_each<B: Backend + ?Sized>(
    backend: &B,
    keys: &[String],
) -> Result<Vec<Lookup>, BackendError> {
    checked_answers(backend, keys, backend.get_many(keys))
}

/// [`get_each`] for secrets' own names ([`Backend::get_raw`]).
#[cfg(feature = "backends")]
pub(crate) fn get_each_raw<B: Backend + ?Sized>(
    backend: &B,
    names: &[String],
) -> Result<Vec<Lookup>, BackendError> {
    checked_answers(backend, names, backend.get_raw(names))
}

#[cfg(feature = "backends")]
fn checked_answers<B: Backend + ?Sized>(
    backend: &B,
    keys: &[String],
    answers: Vec<Lookup>,
) -> Result<Vec<Lookup>, BackendError> {
    if answers.len() == keys.len() {
        return Ok(answers);
    }
    Err(BackendError::new(
        ErrorKind::Failed,
        format!(
            "{}: asked for {} key(s), answered {}",
            backend.name(),
            keys.len(),
            answers.len()
        ),
    )
    .with_hint(backend_hint(backend.name(), backend.kind())))
}

/// The listed keys that are under `prefix`, without it: a backend's answer is not trusted
/// to hold only what was asked for.
pub(crate) fn relative_keys(listed: &[String], prefix: &str) -> Vec<String> {
    listed
        .iter()
        .filter_map(|k| k.strip_prefix(prefix))
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[test]
fn relative_keys_drop_what_is_not_under_the_prefix() {
    let listed = ["app/a", "other/b", "ap", "app/", "app/x/y", "ä/z"].map(String::from);
    assert_eq!(relative_keys(&listed, "app/"), ["a", "x/y"]);
}

/// `get` for each key, at most [`PARALLEL_LOOKUPS`] at a time, answers in input order.
pub fn parallel_get<B: Backend + ?Sized>(backend: &B, keys: &[String]) -> Vec<Lookup> {
    bounded_parallel(keys, |k| backend.get(k))
}

/// `f` of each item, on at most [`PARALLEL_LOOKUPS`] threads, results in input order: for
/// backends whose service answers one request (a key, a batch of keys) per call.
pub(crate) fn bounded_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    if items.len() <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..PARALLEL_LOOKUPS.min(items.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = f(item);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot answered")
        })
        .collect()
}

/// The end of every `list`: the keys that start with `prefix` (a service's answer may hold
/// more), sorted, each once.
pub fn listed(keys: impl IntoIterator<Item = String>, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = keys.into_iter().filter(|k| k.starts_with(prefix)).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Where a project's secrets live in every backend: `<project>/<key>`, or
/// `<project>/<profile>/<key>` with a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The project name (`project:` in `.envref.yaml`).
    pub project: String,
    /// The profile in effect, whose own scope is tried first.
    pub profile: Option<String>,
}

impl Namespace {
    /// The namespace of `project`, scoped to `profile` when there is one.
    pub fn new(project: impl Into<String>, profile: Option<String>) -> Self {
        Namespace {
            project: project.into(),
            profile,
        }
    }

    /// The key in this namespace's own scope (profile scope when there is a profile).
    pub fn key(&self, key: &str) -> String {
        match &self.profile {
            Some(p) => format!("{}/{p}/{key}", self.project),
            None => self.project_key(key),
        }
    }

    pub(crate) fn project_key(&self, key: &str) -> String {
        format!("{}/{key}", self.project)
    }

    /// The scopes a lookup tries, in order: profile scope first, then project scope.
    #[cfg(feature = "backends")]
    pub(crate) fn lookup_keys(&self, key: &str) -> Vec<String> {
        match &self.profile {
            Some(_) => vec![self.key(key), self.project_key(key)],
            None => vec![self.project_key(key)],
        }
    }

    /// The prefix of this namespace's own scope, with its trailing `/`.
    pub fn prefix(&self) -> String {
        match &self.profile {
            Some(p) => format!("{}/{p}/", self.project),
            None => format!("{}/", self.project),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_parallel_keeps_the_order_and_the_bound() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let items: Vec<usize> = (0..50).collect();
        let out = bounded_parallel(&items, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!((2..=PARALLEL_LOOKUPS).contains(&most), "{most} at once");
        assert_eq!(bounded_parallel(&[] as &[u8], |_| 0), Vec::<i32>::new());
    }

    #[test]
    fn listed_filters_sorts_and_dedups() {
        let keys = ["app/b", "other/x", "app/a", "app/b", "ap"].map(String::from);
        assert_eq!(listed(keys, "app/"), ["app/a", "app/b"]);
    }

    #[test]
    fn namespaces() {
        let ns = Namespace::new("app", Some("staging".into()));
        assert_eq!(ns.lookup_keys("k"), ["app/staging/k", "app/k"]);
        assert_eq!(Namespace::new("app", None).prefix(), "app/");
    }
}
