//! The local vault: one SQLite file, one age X25519 identity per vault, each secret its own
//! age ciphertext to the vault's recipient (its public key, stored in the clear: writing and
//! listing need no key). The identity is wrapped with the passphrase (age scrypt) and/or to
//! the public keys of age identity files (`wrap:<age1…>` rows). Reading costs one scrypt per
//! run, one X25519 decrypt with an identity file, and none when the agent holds the key.
//!
//! Concurrency: WAL, a busy timeout, and every write in an IMMEDIATE transaction, so several
//! processes writing at once lose nothing. Import is one transaction: all or nothing.
//!
//! A raw reference (`ref://vault//shared/GITHUB_TOKEN`) reads the key `shared/GITHUB_TOKEN`
//! verbatim (the trait's default `get_raw`): one vault serves every project of its user, so this
//! reaches a key another project, or a `shared` one, wrote.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::base64::{base64_decode, base64_encode};
use super::passphrase::{PassphraseSource, IDENTITY_ENV};
use super::registry::BuildContext;
use super::vault_key::VaultKey;
use super::{Backend, BackendError, ErrorKind, Lookup, Namespace};
use crate::config::BackendSpec;
use crate::crypto;

pub use super::passphrase::PASSPHRASE_ENV;
/// scrypt work factor (log2 N) for new vaults: ≈ 160 ms here, paid once per run.
pub const DEFAULT_WORK_FACTOR: u8 = 16;
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// The vault file's layout, recorded in `meta` as `format`; a newer one is refused on open.
const FORMAT_VERSION: u32 = 1;
const SCHEMA: &str = "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
    CREATE TABLE secrets (key TEXT PRIMARY KEY NOT NULL, ciphertext BLOB NOT NULL, updated_at INTEGER NOT NULL);";

/// The vault's file path: the `path` option (`~` expanded), else
/// `$XDG_CONFIG_HOME/envref/vault.db`, else `~/.config/envref/vault.db`.
pub fn vault_path(spec: Option<&BackendSpec>) -> PathBuf {
    if let Some(p) = spec.and_then(|s| s.option("path")) {
        return crate::config::expand_tilde(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::config::home_dir().map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("envref").join("vault.db")
}

fn err(kind: ErrorKind, msg: impl Into<String>) -> BackendError {
    BackendError::new(kind, msg)
}

fn not_initialized(path: &Path) -> BackendError {
    err(
        ErrorKind::Unavailable,
        format!("vault: not initialized ({} does not exist)", path.display()),
    )
    .with_hint("run `envref vault init` to create it")
}

fn already_initialized(path: &Path) -> BackendError {
    err(ErrorKind::Failed, format!("vault: already initialized at {}", path.display()))
        .with_hint("to start over, move the file away first; `envref vault export` keeps a copy of the secrets")
}

fn not_a_vault(path: &Path, why: &str) -> BackendError {
    err(ErrorKind::Failed, format!("vault: {} is not an envref vault ({why}); envref left it untouched", path.display()))
        .with_hint("set `path:` of the vault backend to your vault, or move this file away and run `envref vault init`")
}

fn locked() -> BackendError {
    err(ErrorKind::Denied, "vault: locked").with_hint("run `envref vault unlock`")
}

fn wrong_passphrase() -> BackendError {
    err(ErrorKind::Denied, "vault: wrong passphrase")
        .with_hint(format!("check {PASSPHRASE_ENV} or retype the passphrase"))
}

fn db_error(path: &Path, e: rusqlite::Error) -> BackendError {
    err(ErrorKind::Failed, format!("vault: {}: {e}", path.display()))
}

/// An open vault file. Writes, names and the lock flag need no key: values are encrypted to
/// the vault's public recipient, stored in the clear.
pub struct VaultFile {
    path: PathBuf,
    conn: Connection,
}

/// How a new vault's key is protected: a passphrase (age scrypt), or an age identity file's
/// public key (X25519; the file unlocks it).
pub enum Protection<'a> {
    /// The key wrapped under a passphrase, with scrypt at this work factor (log2).
    Passphrase(&'a SecretString, u8),
    /// The key wrapped to an age public key (X25519 or a plugin's), unlocked by its identity
    /// file.
    Recipient(&'a crypto::VaultRecipient),
}

/// Where a vault's key comes from when the agent does not hold it: an age identity file when
/// one is given, else the passphrase.
#[derive(Clone, Default)]
pub struct KeySource {
    /// Where a passphrase comes from when one is needed.
    pub passphrase: PassphraseSource,
    /// An age identity file that unlocks the vault instead (`ENVREF_VAULT_IDENTITY`, `--identity`).
    pub identity_file: Option<PathBuf>,
}

impl KeySource {
    /// The passphrase from `passphrase`, the identity file from `$ENVREF_VAULT_IDENTITY`.
    pub fn from_env(passphrase: PassphraseSource) -> KeySource {
        KeySource {
            passphrase,
            identity_file: super::passphrase::identity_file_from_env(),
        }
    }
}

/// What decrypts an open vault's values: its key in this process, or the agent holding it.
pub enum Decrypter {
    /// The vault key, unwrapped in this process.
    Key(VaultKey),
    /// The agent holding the key, and the key's public recipient.
    Agent(AgentClient, String),
}

#[cfg(unix)]
type AgentClient = crate::agent::Client;
#[cfg(not(unix))]
type AgentClient = std::convert::Infallible;

impl Decrypter {
    /// Plaintexts in the order of `cts`; `None` for a value this key does not decrypt.
    fn decrypt_all(
        &self,
        cts: &[Vec<u8>],
    ) -> Result<Vec<Option<Zeroizing<Vec<u8>>>>, BackendError> {
        match self {
            Decrypter::Key(k) => Ok(decrypt_in_parallel(k, cts)),
            #[cfg(unix)]
            Decrypter::Agent(c, recipient) => c.decrypt(recipient, cts),
            #[cfg(not(unix))]
            Decrypter::Agent(never, _) => match *never {},
        }
    }

    /// Whether values are decrypted by the agent.
    pub fn is_agent(&self) -> bool {
        matches!(self, Decrypter::Agent(..))
    }
}

/// Decrypt a batch, split across the cores when it is large enough to pay for the threads
/// (an X25519 per value dominates a large resolve).
fn decrypt_in_parallel(k: &VaultKey, cts: &[Vec<u8>]) -> Vec<Option<Zeroizing<Vec<u8>>>> {
    const MIN_PER_THREAD: usize = 32;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(cts.len() / MIN_PER_THREAD).max(1);
    let one = |batch: &[Vec<u8>]| {
        batch
            .iter()
            .map(|ct| k.decrypt(ct).ok())
            .collect::<Vec<_>>()
    };
    if threads == 1 {
        return one(cts);
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = cts
            .chunks(cts.len().div_ceil(threads))
            .map(|batch| s.spawn(move || one(batch)))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("a decrypt thread panicked"))
            .collect()
    })
}

/// A vault that can decrypt: the file plus its key or the agent.
pub struct OpenVault {
    file: VaultFile,
    decrypter: Decrypter,
}

impl VaultFile {
    /// Create a new vault: a fresh identity protected as `protection` says, in a file (0600,
    /// WAL) built under a temporary name and linked into place only when complete, so an
    /// interrupted init leaves nothing and an existing file is never written to.
    pub fn create(path: &Path, protection: &Protection) -> Result<(), BackendError> {
        if std::fs::symlink_metadata(path).is_ok() {
            VaultFile::open(path)?; // Says what the file is when it is not a vault.
            return Err(already_initialized(path));
        }
        let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d,
            None => Path::new("."),
        };
        if !dir.exists() {
            create_private_dir(dir).map_err(|e| {
                err(
                    ErrorKind::Failed,
                    format!("vault: cannot create {}: {e}", dir.display()),
                )
            })?;
        }
        check_dir(path, dir)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = TempVault(dir.join(format!(".{name}.init-{}", std::process::id())));
        let fail = |e: std::io::Error| {
            err(
                ErrorKind::Failed,
                format!("vault: cannot create {}: {e}", tmp.0.display()),
            )
        };
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&tmp.0).map_err(fail)?;
        build_new_vault(&tmp.0, protection)?;
        // A hard link never replaces an existing file (a concurrent init wins, we lose).
        match std::fs::hard_link(&tmp.0, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(already_initialized(path))
            }
            Err(_) if std::fs::symlink_metadata(path).is_err() => {
                std::fs::rename(&tmp.0, path).map_err(fail)
            }
            Err(e) => Err(fail(e)),
        }
    }

    /// Open an existing vault. Refuses, leaving the file untouched, anything that is not an
    /// envref vault: a symlink, a non-regular or empty file, another program's SQLite file, a
    /// newer format. The directory must not be writable by others (see `check_dir`).
    pub fn open(path: &Path) -> Result<VaultFile, BackendError> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_initialized(path))
            }
            Err(e) => {
                return Err(err(
                    ErrorKind::Failed,
                    format!("vault: {}: {e}", path.display()),
                ))
            }
        };
        if meta.file_type().is_symlink() {
            return Err(err(ErrorKind::Failed, format!("vault: {} is a symbolic link; envref does not follow it", path.display()))
                .with_hint("set `path:` of the vault backend to the real file, or replace the link with the vault file itself"));
        }
        if !meta.is_file() {
            return Err(not_a_vault(path, "not a regular file"));
        }
        check_dir(
            path,
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )?;
        if meta.len() == 0 {
            return Err(not_a_vault(path, "the file is empty"));
        }
        let mut magic = [0u8; 16];
        let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
        if read.is_err() || &magic != b"SQLite format 3\0" {
            return Err(not_a_vault(path, "not a SQLite database"));
        }
        VaultFile::open_database(path)
    }

    /// The SQLite side of `open`: envref's tables and a format this envref reads.
    fn open_database(path: &Path) -> Result<VaultFile, BackendError> {
        // No CREATE: opening never makes a file; NOFOLLOW: no symlink swapped in since the check.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| db_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_error(path, e))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'secrets')", [], |r| r.get(0))
            .map_err(|e| db_error(path, e))?;
        if tables != 2 {
            return Err(not_a_vault(
                path,
                "a SQLite database without envref's tables",
            ));
        }
        let file = VaultFile {
            path: path.to_path_buf(),
            conn,
        };
        let format = file
            .meta("format")?
            .ok_or_else(|| not_a_vault(path, "a SQLite database without envref's format record"))?;
        match format.parse::<u32>() {
            Ok(FORMAT_VERSION) => Ok(file),
            Ok(v) if v > FORMAT_VERSION => Err(err(
                ErrorKind::Failed,
                format!(
                    "vault: {} has format version {v}; this envref reads version {FORMAT_VERSION}",
                    path.display()
                ),
            )
            .with_hint("a newer envref wrote it: upgrade envref on this machine")),
            _ => Err(not_a_vault(
                path,
                "its format record is not a version this envref knows",
            )),
        }
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self, e: rusqlite::Error) -> BackendError {
        db_error(&self.path, e)
    }

    fn meta(&self, name: &str) -> Result<Option<String>, BackendError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db(e))
    }

    /// The lock flag: a row in the file, set by `vault lock`, cleared by `vault unlock` (which
    /// needs the key). While set, reads, writes and `secret list` refuse. It guards against
    /// use by mistake, not against anyone who can write the file (they can delete the row).
    pub fn is_locked(&self) -> Result<bool, BackendError> {
        Ok(self.meta("locked")?.as_deref() == Some("1"))
    }

    /// Whether the file holds a vault (its tables and key).
    pub fn is_initialized(&self) -> Result<bool, BackendError> {
        Ok(self.meta("recipient")?.is_some())
    }

    /// Set or clear the lock flag. Setting it needs no key; `vault unlock` proves the key
    /// before it clears it.
    pub fn set_locked(&mut self, locked: bool) -> Result<(), BackendError> {
        let sql = match locked {
            true => "INSERT OR REPLACE INTO meta(name, value) VALUES ('locked', '1')",
            false => "DELETE FROM meta WHERE name = 'locked'",
        };
        self.conn
            .execute(sql, [])
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// The vault's public key (`age1…`), stored in the clear: what values are encrypted to.
    pub fn recipient(&self) -> Result<age::x25519::Recipient, BackendError> {
        let text = self
            .meta("recipient")?
            .ok_or_else(|| not_a_vault(&self.path, "it holds no vault key"))?;
        text.parse().map_err(|_| {
            err(
                ErrorKind::Failed,
                format!(
                    "vault: {}: the stored recipient is corrupt",
                    self.path.display()
                ),
            )
            .with_hint(
                "the vault file is damaged: restore it from a backup or an `envref vault export`",
            )
        })
    }

    /// What unlocks the key: whether a passphrase does, and the public keys of the identity
    /// files that do.
    pub fn protections(&self) -> Result<(bool, Vec<String>), BackendError> {
        let wraps = self
            .strings("SELECT substr(name, 6) FROM meta WHERE name LIKE 'wrap:%' ORDER BY name")?;
        Ok((self.meta("identity")?.is_some(), wraps))
    }

    /// The text column of every row `sql` selects.
    fn strings(&self, sql: &str) -> Result<Vec<String>, BackendError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.db(e))?;
        st.query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.db(e))
    }

    fn corrupt_key(&self) -> BackendError {
        err(
            ErrorKind::Failed,
            format!(
                "vault: {}: the stored identity is corrupt",
                self.path.display()
            ),
        )
    }

    /// The vault's key, from an identity file when `source` names one, else the passphrase
    /// (one scrypt). The lock flag is not checked here.
    pub fn key(&self, source: &KeySource) -> Result<VaultKey, BackendError> {
        match &source.identity_file {
            Some(f) => self.key_from_identity_file(f, &source.passphrase),
            None => {
                if self.meta("identity")?.is_none() {
                    return Err(err(ErrorKind::Denied, "vault: this vault has no passphrase; it is unlocked by an age identity file")
                        .with_hint(format!("set {IDENTITY_ENV} to that file (or pass --identity), or run `envref vault unlock` with it")));
                }
                self.key_from_passphrase(&source.passphrase.passphrase("Vault passphrase: ")?)
            }
        }
    }

    /// Unwrap the key with the passphrase (one scrypt).
    pub fn key_from_passphrase(&self, passphrase: &SecretString) -> Result<VaultKey, BackendError> {
        let wrapped = self.meta("identity")?.ok_or_else(|| {
            err(ErrorKind::Denied, "vault: this vault has no passphrase").with_hint(
                "unlock it with its age identity file; `envref vault passwd` can add a passphrase",
            )
        })?;
        let wrapped = base64_decode(&wrapped).ok_or_else(|| self.corrupt_key())?;
        let mut id = age::scrypt::Identity::new(passphrase.clone());
        id.set_max_work_factor(30);
        match decrypt(&id, &wrapped) {
            Ok(plain) => self.key_from_plain(plain),
            Err(
                age::DecryptError::DecryptionFailed
                | age::DecryptError::NoMatchingKeys
                | age::DecryptError::KeyDecryptionFailed,
            ) => Err(wrong_passphrase()),
            Err(e) => Err(err(
                ErrorKind::Failed,
                format!("vault: cannot unwrap the vault key: {e}"),
            )),
        }
    }

    /// Unwrap the key with an age identity file whose public key was added to the vault
    /// (`vault init --identity`, `vault add-recipient`): one X25519 decrypt, no scrypt.
    pub fn key_from_identity_file(
        &self,
        file: &Path,
        person: &PassphraseSource,
    ) -> Result<VaultKey, BackendError> {
        let ids = crypto::read_identity_file(file).map_err(|e| {
            err(
                ErrorKind::Denied,
                format!("vault: identity file {}", e.message()),
            )
        })?;
        for id in &ids.x25519 {
            let Some(wrapped) = self.meta(&format!("wrap:{}", id.to_public()))? else {
                continue;
            };
            let wrapped = base64_decode(&wrapped).ok_or_else(|| self.corrupt_key())?;
            let plain = decrypt(id, &wrapped).map_err(|_| self.corrupt_key())?;
            return self.key_from_plain(plain);
        }
        if let Some(plain) = self.unwrap_with_plugins(&ids.plugins, person)? {
            return self.key_from_plain(plain);
        }
        Err(err(ErrorKind::Denied, format!("vault: the identity file {} does not unlock {}", file.display(), self.path.display()))
            .with_hint("add its public key with `envref vault add-recipient` (unlocking with the passphrase), or use the passphrase"))
    }

    /// The key unwrapped by a plugin identity (`AGE-PLUGIN-<NAME>-1…`): each plugin runs once,
    /// on the wrapped copies made for recipients of its own (`age1<name>1…`).
    fn unwrap_with_plugins(
        &self,
        ids: &[age::plugin::Identity],
        person: &PassphraseSource,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let mut names: Vec<&str> = ids.iter().map(|i| i.plugin()).collect();
        names.sort_unstable();
        names.dedup();
        let (_, wraps) = self.protections()?;
        for name in names {
            let ours: Vec<&String> = wraps
                .iter()
                .filter(|r| {
                    r.parse::<age::plugin::Recipient>()
                        .is_ok_and(|r| r.plugin() == name)
                })
                .collect();
            if ours.is_empty() {
                continue;
            }
            let plugin = age::plugin::IdentityPluginV1::new(
                name,
                ids,
                crypto::PluginPrompts(person.clone()),
            )
            .map_err(|_| {
                err(
                    ErrorKind::Unavailable,
                    format!(
                        "vault: age-plugin-{name}, which the identity file needs, is not on PATH"
                    ),
                )
                .with_hint(format!(
                    "install age-plugin-{name}, or use another way to unlock the vault"
                ))
            })?;
            for recipient in ours {
                let Some(wrapped) = self.meta(&format!("wrap:{recipient}"))? else {
                    continue;
                };
                let wrapped = base64_decode(&wrapped).ok_or_else(|| self.corrupt_key())?;
                match decrypt(&plugin, &wrapped) {
                    Ok(plain) => return Ok(Some(plain)),
                    Err(age::DecryptError::NoMatchingKeys) => continue,
                    Err(e) => return Err(err(
                        ErrorKind::Denied,
                        format!("vault: age-plugin-{name} did not unwrap the key: {e}"),
                    )
                    .with_hint("if the plugin asks for a PIN or a touch, run `envref vault unlock --identity FILE` in a terminal: the agent then keeps the key")),
                }
            }
        }
        Ok(None)
    }

    fn key_from_plain(&self, plain: Vec<u8>) -> Result<VaultKey, BackendError> {
        let identity =
            crypto::identity_from_bytes(plain).map_err(|why| {
                err(ErrorKind::Failed, format!("vault: the unwrapped vault key {why}")).with_hint(
                "the vault file is damaged: restore it from a backup or an `envref vault export`",
            )
            })?;
        let key = VaultKey::new(identity);
        if Some(key.recipient()) != self.meta("recipient")? {
            return Err(self.corrupt_key());
        }
        Ok(key)
    }

    /// Open for reading: refused when locked; the agent when it holds this vault's key, else
    /// the key from `source`.
    pub fn unlock(self, source: &KeySource) -> Result<OpenVault, BackendError> {
        if self.is_locked()? {
            return Err(locked());
        }
        let decrypter = match self.agent_holding()? {
            Some(d) => d,
            None => Decrypter::Key(self.key(source)?),
        };
        Ok(OpenVault {
            file: self,
            decrypter,
        })
    }

    /// The agent, when it runs and holds this vault's key (never an error: no agent, or one
    /// that refuses, means the key comes from elsewhere).
    fn agent_holding(&self) -> Result<Option<Decrypter>, BackendError> {
        #[cfg(unix)]
        {
            let recipient = self.recipient()?.to_string();
            let held = crate::agent::Client::find()
                .and_then(|c| Some((c.holding(&recipient).ok()??, c)))
                .map(|(_, c)| Decrypter::Agent(c, recipient));
            Ok(held)
        }
        #[cfg(not(unix))]
        Ok(None)
    }

    /// Store the key wrapped for another age public key (an identity file that will unlock
    /// the vault). Needs the key.
    pub fn add_recipient(
        &mut self,
        key: &VaultKey,
        to: &crypto::VaultRecipient,
    ) -> Result<(), BackendError> {
        let wrapped = wrap_to(to, key.to_secret_text().expose_secret().as_bytes())?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta(name, value) VALUES (?1, ?2)",
                params![format!("wrap:{to}"), base64_encode(&wrapped)],
            )
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// Stop the identity file of `to` from unlocking the vault. No key needed (anyone who can
    /// write the file can delete a row); refused when it is the last way in, or not one.
    pub fn remove_recipient(&mut self, to: &crypto::VaultRecipient) -> Result<(), BackendError> {
        let path = self.path.clone();
        let (to, shown) = (to.to_string(), path.display());
        let tx = self.write_tx()?;
        let db = |e| db_error(&path, e);
        let passphrase: i64 = tx
            .query_row(
                "SELECT count(*) FROM meta WHERE name = 'identity'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        let wraps: Vec<String> = tx
            .prepare("SELECT substr(name, 6) FROM meta WHERE name LIKE 'wrap:%'")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(db)?;
        if !wraps.contains(&to) {
            return Err(err(
                ErrorKind::Failed,
                format!("vault: {to} does not unlock the vault at {shown}"),
            )
            .with_hint("`envref vault status` lists the identity files that do"));
        }
        if passphrase == 0 && wraps.len() == 1 {
            return Err(err(ErrorKind::Failed, format!("vault: {to} is the only way to unlock the vault at {shown}; removing it would lock the secrets away for good"))
                .with_hint("add another way first: `envref vault add-recipient <age1…>` or `envref vault passwd`"));
        }
        tx.execute(
            "DELETE FROM meta WHERE name = ?1",
            params![format!("wrap:{to}")],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// Re-wrap the key under a new passphrase, in one transaction: until it commits, the old
    /// passphrase works; after, only the new one. `pause` is the test-only hook of
    /// `PASSWD_PAUSE_ENV`, called after the write and before the commit.
    pub fn set_passphrase(
        &mut self,
        key: &VaultKey,
        passphrase: &SecretString,
        work_factor: u8,
        pause: impl FnOnce(),
    ) -> Result<(), BackendError> {
        let mut wrap = age::scrypt::Recipient::new(passphrase.clone());
        wrap.set_work_factor(work_factor);
        let wrapped = encrypt(&wrap, key.to_secret_text().expose_secret().as_bytes())?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))?;
        tx.execute(
            "INSERT OR REPLACE INTO meta(name, value) VALUES ('identity', ?1)",
            [base64_encode(&wrapped)],
        )
        .map_err(|e| db_error(&path, e))?;
        pause();
        tx.commit().map_err(|e| db_error(&path, e))
    }

    /// Upsert several values in one IMMEDIATE transaction, encrypted to the stored recipient:
    /// no key needed. Refused while the lock flag is set.
    pub fn put_all<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a SecretString)>,
    ) -> Result<usize, BackendError> {
        let now = unix_now();
        let recipient = self.recipient()?;
        let sealed: Vec<(&str, Vec<u8>)> = entries
            .into_iter()
            .map(|(k, v)| Ok((k, encrypt(&recipient, v.expose_secret().as_bytes())?)))
            .collect::<Result<_, BackendError>>()?;
        let path = self.path.clone();
        let tx = self.write_tx()?;
        {
            let mut st = tx
                .prepare("INSERT INTO secrets(key, ciphertext, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at")
                .map_err(|e| db_error(&path, e))?;
            for (k, ct) in &sealed {
                st.execute(params![k, ct, now])
                    .map_err(|e| db_error(&path, e))?;
            }
        }
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(sealed.len())
    }

    /// An IMMEDIATE transaction for a write, refused while the lock flag is set.
    fn write_tx(&mut self) -> Result<rusqlite::Transaction<'_>, BackendError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&self.path, e))?;
        refuse_if_locked(&tx, &self.path)?;
        Ok(tx)
    }

    /// Delete a value (no key needed; refused while locked). Returns whether it existed.
    pub fn delete(&mut self, key: &str) -> Result<bool, BackendError> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let n = tx
            .execute("DELETE FROM secrets WHERE key = ?1", [key])
            .map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(n > 0)
    }

    /// Copy the ciphertext of `from` to `to` (no key needed; refused while locked). Returns
    /// whether `from` was stored.
    pub fn copy(&mut self, from: &str, to: &str) -> Result<bool, BackendError> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let n = tx
            .execute("INSERT INTO secrets(key, ciphertext, updated_at) SELECT ?2, ciphertext, ?3 FROM secrets WHERE key = ?1 ON CONFLICT(key) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at", params![from, to, unix_now()])
            .map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(n > 0)
    }

    /// Stored keys under `prefix`; the names are in the clear, so no key is needed.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let keys = self.strings("SELECT key FROM secrets ORDER BY key")?;
        Ok(super::listed(keys, prefix))
    }

    /// The stored ciphertexts of `keys`, in order (`None`: not stored).
    fn ciphertexts(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT ciphertext FROM secrets WHERE key = ?1")
            .map_err(|e| self.db(e))?;
        keys.iter()
            .map(|k| {
                st.query_row([k], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.db(e))
            })
            .collect()
    }
}

fn refuse_if_locked(tx: &rusqlite::Transaction, path: &Path) -> Result<(), BackendError> {
    let flag: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE name = 'locked'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| db_error(path, e))?;
    match flag.as_deref() {
        Some("1") => Err(locked()),
        _ => Ok(()),
    }
}

/// The tables and meta rows of a new vault, in the file at `path`, closed before it returns
/// (closing checkpoints the WAL into the file).
fn build_new_vault(path: &Path, protection: &Protection) -> Result<(), BackendError> {
    let mut conn = Connection::open(path).map_err(|e| db_error(path, e))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| db_error(path, e))?;
    let identity = age::x25519::Identity::generate();
    let secret = identity.to_string();
    let (name, wrapped) = match protection {
        Protection::Passphrase(pass, work_factor) => {
            let mut wrap = age::scrypt::Recipient::new((*pass).clone());
            wrap.set_work_factor(*work_factor);
            (
                "identity".to_string(),
                encrypt(&wrap, secret.expose_secret().as_bytes())?,
            )
        }
        Protection::Recipient(to) => (
            format!("wrap:{to}"),
            wrap_to(to, secret.expose_secret().as_bytes())?,
        ),
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_error(path, e))?;
    tx.execute_batch(SCHEMA).map_err(|e| db_error(path, e))?;
    for (k, v) in [
        ("format".to_string(), FORMAT_VERSION.to_string()),
        (name, base64_encode(&wrapped)),
        ("recipient".to_string(), identity.to_public().to_string()),
    ] {
        tx.execute(
            "INSERT INTO meta(name, value) VALUES (?1, ?2)",
            params![k, v],
        )
        .map_err(|e| db_error(path, e))?;
    }
    tx.commit().map_err(|e| db_error(path, e))
}

impl OpenVault {
    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// What decrypts this vault's values.
    pub fn decrypter(&self) -> &Decrypter {
        &self.decrypter
    }

    /// The file, for writes.
    pub fn file(&mut self) -> &mut VaultFile {
        &mut self.file
    }

    /// Decrypt the value of `key`, if it is stored.
    pub fn get(&self, key: &str) -> Lookup {
        self.get_many(std::slice::from_ref(&key.to_string()))
            .pop()
            .expect("one answer per key")
    }

    /// Several values: one query each, one batch of decrypts (one agent round trip).
    pub fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
        let cts = match self.file.ciphertexts(keys) {
            Ok(c) => c,
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        let present: Vec<Vec<u8>> = cts.iter().flatten().cloned().collect();
        let mut plains = match self.decrypter.decrypt_all(&present) {
            Ok(p) => p.into_iter(),
            Err(e) => return keys.iter().map(|_| Err(e.clone())).collect(),
        };
        keys.iter()
            .zip(cts)
            .map(|(key, ct)| match ct {
                None => Ok(None),
                Some(_) => plain_value(key, plains.next().flatten()).map(Some),
            })
            .collect()
    }

    /// Every secret in the vault, all projects, decrypted.
    pub fn export(&self) -> Result<Vec<(String, SecretString)>, BackendError> {
        let keys = self.file.list("")?;
        let values = self.get_many(&keys);
        keys.into_iter()
            .zip(values)
            .filter_map(|(k, v)| match v {
                Ok(Some(v)) => Some(Ok((k, v))),
                Ok(None) => None, // deleted meanwhile
                Err(e) => Some(Err(e)),
            })
            .collect()
    }
}

/// A decrypted value as text; the errors name the key, never the bytes.
fn plain_value(key: &str, plain: Option<Zeroizing<Vec<u8>>>) -> Result<SecretString, BackendError> {
    let plain = plain.ok_or_else(|| {
        err(
            ErrorKind::Failed,
            format!("vault: the stored value of {key} does not decrypt with this vault's key"),
        )
    })?;
    let text = std::str::from_utf8(&plain).map_err(|_| {
        err(
            ErrorKind::Failed,
            format!("vault: the stored value of {key} is not UTF-8"),
        )
    })?;
    Ok(SecretString::from(text))
}

/// The `vault` backend: opens the file on first use; the key (agent, identity file or
/// passphrase) only when a value is read.
pub struct Vault {
    name: String,
    path: PathBuf,
    source: KeySource,
    file: OnceLock<Result<Mutex<VaultFile>, BackendError>>,
    open: OnceLock<Result<Mutex<OpenVault>, BackendError>>,
}

impl Vault {
    /// The vault a backend spec names (`config.path`, else the default file).
    pub fn new(spec: &BackendSpec, ctx: &BuildContext) -> Vault {
        Vault {
            name: spec.name.clone(),
            path: vault_path(Some(spec)),
            source: KeySource::from_env(ctx.passphrase.clone()),
            file: OnceLock::new(),
            open: OnceLock::new(),
        }
    }

    /// The file, for what needs no key: writes, names.
    fn with_file<T>(
        &self,
        f: impl FnOnce(&mut VaultFile) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        let file = self.file.get_or_init(|| {
            let file = VaultFile::open(&self.path)?;
            file.recipient()?;
            Ok(Mutex::new(file))
        });
        match file {
            Ok(m) => f(&mut m.lock().unwrap_or_else(|p| p.into_inner())),
            Err(e) => Err(e.clone()),
        }
    }

    /// The vault open for reading: refused when locked; the key from the agent, an identity
    /// file or the passphrase, once per run.
    fn with_reader<T>(&self, f: impl FnOnce(&OpenVault) -> T) -> Result<T, BackendError> {
        let open = self.open.get_or_init(|| {
            VaultFile::open(&self.path)?
                .unlock(&self.source)
                .map(Mutex::new)
        });
        match open {
            Ok(m) => Ok(f(&m.lock().unwrap_or_else(|p| p.into_inner()))),
            Err(e) => Err(e.clone()),
        }
    }
}

impl Backend for Vault {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "vault"
    }

    fn get(&self, key: &str) -> Lookup {
        // Opening refused a locked vault already; reads need no second check.
        self.with_reader(|v| v.get(key))?
    }

    fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
        // Local: one connection, one batch of decrypts (one agent round trip).
        self.with_reader(|v| v.get_many(keys))
            .unwrap_or_else(|e| keys.iter().map(|_| Err(e.clone())).collect())
    }

    /// The file exists, is a vault, initialised and unlocked, and whether the agent holds its
    /// key; no passphrase is asked for.
    fn probe(&self, _: &Namespace) -> Result<String, BackendError> {
        let file = VaultFile::open(&self.path)?;
        if !file.is_initialized()? {
            return Err(err(
                ErrorKind::Unavailable,
                format!(
                    "vault: not initialized ({} has no key)",
                    self.path.display()
                ),
            )
            .with_hint("run `envref vault init` to create it"));
        }
        if file.is_locked()? {
            return Err(locked());
        }
        let agent = match file.agent_holding()? {
            Some(_) => ", key held by the agent",
            None => "",
        };
        Ok(format!(
            "initialized, unlocked{agent} ({})",
            self.path.display()
        ))
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        self.with_file(|f| f.put_all([(key, value)]).map(|_| ()))
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        self.with_file(|f| f.delete(key))
    }

    fn exists(&self, key: &str) -> Result<bool, BackendError> {
        self.with_file(|f| {
            if f.is_locked()? {
                return Err(locked());
            }
            Ok(f.ciphertexts(&[key.to_string()])?[0].is_some())
        })
    }

    fn copy(&self, from: &str, to: &str) -> Result<bool, BackendError> {
        self.with_file(|f| f.copy(from, to))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        self.with_file(|f| {
            if f.is_locked()? {
                Err(locked())
            } else {
                f.list(prefix)
            }
        })
    }
}

/// Binary age to one recipient, for the vault's own storage.
fn encrypt(recipient: &dyn age::Recipient, plain: &[u8]) -> Result<Vec<u8>, BackendError> {
    crypto::encrypt(recipient, plain)
        .map_err(|e| err(ErrorKind::Failed, format!("vault: encryption failed: {e}")))
}

fn wrap_to(to: &crypto::VaultRecipient, plain: &[u8]) -> Result<Vec<u8>, BackendError> {
    to.encrypt(plain).map_err(|e| {
        err(
            ErrorKind::Failed,
            format!("vault: cannot wrap the key to {to}: {e}"),
        )
    })
}

fn decrypt(identity: &dyn age::Identity, ct: &[u8]) -> Result<Vec<u8>, age::DecryptError> {
    crypto::decrypt(std::iter::once(identity), ct)
}

/// Parse what `vault export` writes, `{"version": 1, "secrets": {key: value}}` (the Go
/// envref's export format), checking every entry before anything is stored.
pub fn parse_export(text: &str) -> crate::Result<Vec<(String, SecretString)>> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        crate::Error::parse(format!(
            "line {} column {}: not valid JSON",
            e.line(),
            e.column()
        ))
        .with_hint("import reads what `envref vault export` writes")
        .with_source(e)
    })?;
    let version = doc.get("version").and_then(|v| v.as_u64());
    if version != Some(1) {
        return Err(crate::Error::parse(format!(
            "unsupported export version {}",
            doc.get("version")
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(missing)".into())
        ))
        .with_hint("expected {\"version\": 1, \"secrets\": {…}}"));
    }
    let secrets = doc
        .get("secrets")
        .and_then(|s| s.as_object())
        .ok_or_else(|| {
            crate::Error::parse("no \"secrets\" object")
                .with_hint("expected {\"version\": 1, \"secrets\": {…}}")
        })?;
    // Every entry is checked the way `secret set` checks it, before anything is stored.
    let mut entries = Vec::with_capacity(secrets.len());
    let mut problems = Vec::new();
    for (k, v) in secrets {
        let checked = crate::reference::check_stored_key(k).and_then(|()| {
            let s = v.as_str().ok_or("the value is not a string")?;
            crate::reference::check_secret_value(s)?;
            Ok(s)
        });
        match checked {
            Ok(s) => entries.push((k.clone(), SecretString::from(s.to_string()))),
            Err(m) => problems.push(format!("secret {}: {m}", shown_key(k))),
        }
    }
    if !problems.is_empty() {
        const SHOWN: usize = 20;
        let total = problems.len();
        problems.truncate(SHOWN);
        if total > SHOWN {
            problems.push(format!("… and {} more", total - SHOWN));
        }
        return Err(crate::Error::parse(format!("{total} invalid entr(ies); nothing was imported:\n{}", problems.join("\n")))
            .with_hint("fix or remove these entries; keys are <project>/<key> or <project>/<profile>/<key> (letters, digits, `_ . -`), values non-empty text without NUL"));
    }
    Ok(entries)
}

/// A key from the file, for an error: escaped (it may hold a newline) and cut short.
fn shown_key(k: &str) -> String {
    const MAX: usize = 60;
    let cut: String = k.chars().take(MAX).collect();
    let more = if k.chars().count() > MAX { "…" } else { "" };
    format!("{:?}{more}", cut)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// The vault's directory must not be writable by others: someone could have replaced the
/// vault already, so it is refused and the user looks before fixing it. envref's own directory
/// (the default `~/.config/envref`, often 755 because it existed before) is also tightened to
/// 0700 when others can read it; a directory the user chose with `path:` (a project, say)
/// keeps its mode, as the vault file itself is 0600.
#[cfg(unix)]
fn check_dir(path: &Path, dir: &Path) -> Result<(), BackendError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = dir.display();
    let mode = std::fs::metadata(dir)
        .map_err(|e| err(ErrorKind::Failed, format!("vault: {shown}: {e}")))?
        .permissions()
        .mode()
        & 0o7777;
    let refuse = |why: &str| {
        err(ErrorKind::Denied, format!("vault: the directory {shown} {why} (mode {:o}); envref refuses to use a vault there", mode & 0o777))
            .with_hint(format!("check that the vault file is yours, then run `chmod 700 {shown}`"))
    };
    if mode & 0o022 != 0 {
        return Err(refuse("is writable by other users"));
    }
    if mode & 0o077 != 0 && path == vault_path(None) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077))
            .map_err(|_| refuse("is readable by other users and belongs to another user"))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir(_path: &Path, _dir: &Path) -> Result<(), BackendError> {
    Ok(())
}

/// The half-built vault of `create`; removed unless it was linked into place (then removing
/// this name leaves the vault).
struct TempVault(PathBuf);

impl Drop for TempVault {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers with a fixed passphrase and counts how often it was asked.
    struct Counted(&'static str, std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl super::super::passphrase::PassphraseProvider for Counted {
        fn passphrase(&self, prompt: &str) -> Result<SecretString, BackendError> {
            assert_eq!(prompt, "Vault passphrase: ");
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match self.0 {
                "" => Err(err(ErrorKind::Denied, "vault: the agent is not running")),
                p => Ok(SecretString::from(p)),
            }
        }
    }

    #[test]
    fn the_passphrase_comes_from_the_injected_provider_once_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.db");
        VaultFile::create(&path, &Protection::Passphrase(&SecretString::from("pw"), 4)).unwrap();
        let mut spec = BackendSpec::new("v", "vault");
        spec.options
            .insert("path".into(), path.display().to_string());
        let vault = |answer| {
            let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let ctx = BuildContext {
                passphrase: PassphraseSource::new(Counted(answer, asked.clone())),
                in_project_code: true,
            };
            (Vault::new(&spec, &ctx), asked)
        };
        let (v, asked) = vault("pw");
        // Writing and listing need no key: encrypted to the stored recipient.
        v.set("app/k", &SecretString::from("value")).unwrap();
        assert_eq!(v.list("app/").unwrap(), ["app/k"]);
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(v.get("app/k").unwrap().unwrap().expose_secret(), "value");
        assert_eq!(v.get("app/k").unwrap().unwrap().expose_secret(), "value");
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        // No passphrase is needed to probe.
        let ns = Namespace::new("app", None);
        let (v, asked) = vault("");
        assert!(v.probe(&ns).unwrap().starts_with("initialized, unlocked"));
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(
            v.get("app/k").unwrap_err().message,
            "vault: the agent is not running"
        );
        let (v, _) = vault("wrong");
        assert_eq!(
            v.get("app/k").unwrap_err().message,
            "vault: wrong passphrase"
        );
    }

    #[test]
    fn an_unwrapped_key_that_is_not_utf8_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.db");
        let pass = SecretString::from("pw");
        VaultFile::create(&path, &Protection::Passphrase(&pass, 4)).unwrap();
        let mut wrap = age::scrypt::Recipient::new(pass.clone());
        wrap.set_work_factor(4);
        let wrapped = encrypt(&wrap, b"AGE-SECRET-KEY-1\xff").unwrap();
        let file = VaultFile::open(&path).unwrap();
        file.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE name = 'identity'",
                [base64_encode(&wrapped)],
            )
            .unwrap();
        let e = file.key_from_passphrase(&pass).err().unwrap();
        assert_eq!(
            e.message,
            "vault: the unwrapped vault key is not UTF-8 text"
        );
    }

    /// A key source that answers `pass` and never reads the environment.
    fn source(pass: &'static str) -> KeySource {
        KeySource {
            passphrase: PassphraseSource::new(Counted(
                pass,
                std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            )),
            identity_file: None,
        }
    }

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vault.db");
        let pass = SecretString::from("pw");
        VaultFile::create(&path, &Protection::Passphrase(&pass, 4)).unwrap();
        assert!(VaultFile::create(&path, &Protection::Passphrase(&pass, 4))
            .unwrap_err()
            .message
            .contains("already initialized"));
        let bad = VaultFile::open(&path).unwrap().unlock(&source("nope"));
        assert_eq!(bad.err().unwrap().message, "vault: wrong passphrase");
        let mut file = VaultFile::open(&path).unwrap();
        let value = SecretString::from("sk-live-123");
        file.put_all([("app/k", &value)]).unwrap();
        let v = VaultFile::open(&path)
            .unwrap()
            .unlock(&source("pw"))
            .unwrap();
        assert_eq!(
            v.get("app/k").unwrap().unwrap().expose_secret(),
            "sk-live-123"
        );
        assert_eq!(file.list("app/").unwrap(), ["app/k"]);
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(11).any(|w| w == b"sk-live-123"));
        file.set_locked(true).unwrap();
        assert_eq!(
            file.put_all([("app/x", &value)]).unwrap_err().message,
            "vault: locked"
        );
        assert_eq!(file.delete("app/k").unwrap_err().message, "vault: locked");
        let again = VaultFile::open(&path).unwrap().unlock(&source("pw"));
        assert_eq!(again.err().unwrap().message, "vault: locked");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(path.parent().unwrap())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
        }
    }

    #[test]
    fn an_identity_file_unlocks_without_scrypt_and_passwd_rewraps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.db");
        let id = age::x25519::Identity::generate();
        let id_file = dir.path().join("key.txt");
        std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
        VaultFile::create(
            &path,
            &Protection::Recipient(&crypto::VaultRecipient::X25519(id.to_public())),
        )
        .unwrap();
        let mut file = VaultFile::open(&path).unwrap();
        file.put_all([("app/k", &SecretString::from("v"))]).unwrap();
        let by_file = KeySource {
            identity_file: Some(id_file.clone()),
            ..source("")
        };
        let key = file.key(&by_file).unwrap();
        assert_eq!(
            file.protections().unwrap(),
            (false, vec![id.to_public().to_string()])
        );
        // No passphrase yet: says so; passwd adds one, and both unlock the same key.
        assert!(file
            .key(&source("pw"))
            .unwrap_err()
            .message
            .contains("no passphrase"));
        file.set_passphrase(&key, &SecretString::from("pw"), 4, || {})
            .unwrap();
        let v = VaultFile::open(&path)
            .unwrap()
            .unlock(&source("pw"))
            .unwrap();
        assert_eq!(v.get("app/k").unwrap().unwrap().expose_secret(), "v");
        // Another identity file does not unlock it until its public key is added.
        let other = age::x25519::Identity::generate();
        let other_file = dir.path().join("other.txt");
        std::fs::write(&other_file, other.to_string().expose_secret()).unwrap();
        let by_other = KeySource {
            identity_file: Some(other_file),
            ..source("")
        };
        assert!(file
            .key(&by_other)
            .unwrap_err()
            .message
            .contains("does not unlock"));
        file.add_recipient(&key, &crypto::VaultRecipient::X25519(other.to_public()))
            .unwrap();
        assert_eq!(file.key(&by_other).unwrap().recipient(), key.recipient());
    }
}
