//! `envref vault …`: create, lock, unlock, export and import the local vault.

use std::io::{IsTerminal, Read};

use clap::Subcommand;
#[cfg(unix)]
use envref_core::agent;
use envref_core::backend::passphrase::{self, PassphraseProvider, PassphraseSource};
use envref_core::backend::vault::{
    parse_export, vault_path, KeySource, Protection, VaultFile, DEFAULT_WORK_FACTOR,
};
use envref_core::backend::BackendKind;
use envref_core::backend::{BackendError, ErrorKind};
use envref_core::config::{find_config, Config};
use envref_core::crypto::VaultRecipient;
use envref_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};

use serde::Serialize;

use super::format::OutputFormat;
use super::write_stdout;
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum VaultCommand {
    /// Create the vault and set its passphrase (or take it from ENVREF_VAULT_PASSPHRASE);
    /// with --identity FILE, the age identity file unlocks it instead
    Init {
        /// scrypt work factor (log2 N) protecting the passphrase; each +1 doubles the cost
        #[arg(long, default_value_t = DEFAULT_WORK_FACTOR, value_parser = clap::value_parser!(u8).range(10..=22))]
        work_factor: u8,
        #[command(flatten)]
        which: Which,
    },
    /// Make the agent forget the vault's key and set the vault's lock flag: reads and writes
    /// refuse until `envref vault unlock`
    Lock {
        #[command(flatten)]
        which: Which,
    },
    /// Unlock once: clear the lock flag and hand the key to the agent, so commands stop asking
    /// for the passphrase until the time is up or `envref vault lock`
    Unlock {
        /// How long the agent keeps the key (30s, 15m, 8h, 1d); 0 starts no agent
        #[arg(long = "for", value_name = "TIME", default_value = "1h", value_parser = parse_ttl)]
        ttl: std::time::Duration,
        #[command(flatten)]
        which: Which,
    },
    /// Whether the vault is locked, what unlocks it, and whether the agent holds its key
    Status {
        /// Output format
        #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
        format: OutputFormat,
        #[command(flatten)]
        which: Which,
    },
    /// Change the passphrase (or add one): the key is re-wrapped in one transaction
    Passwd {
        /// scrypt work factor (log2 N) for the new passphrase
        #[arg(long, default_value_t = DEFAULT_WORK_FACTOR, value_parser = clap::value_parser!(u8).range(10..=22))]
        work_factor: u8,
        #[command(flatten)]
        which: Which,
    },
    /// Let an age identity file unlock the vault: wrap its key to that file's public key
    AddRecipient {
        /// The age public key (age1…) of the identity file; `age-keygen -y FILE` prints it.
        /// An age plugin's (age1yubikey1…, from age-plugin-yubikey) runs that plugin
        recipient: String,
        #[command(flatten)]
        which: Which,
    },
    /// Stop an age identity file from unlocking the vault (its wrapped copy of the key is
    /// deleted). Refused when nothing else would unlock the vault. Someone who already read
    /// the key with that file keeps it: move the secrets to a new vault to cut them off
    RemoveRecipient {
        /// The age public key (age1…) of the identity file, as `vault status` lists it
        recipient: String,
        #[command(flatten)]
        which: Which,
    },
    /// Print every secret as JSON (plaintext!) on stdout, or write it to a 0600 file (-o)
    Export {
        /// Write to this file (replaced atomically, mode 0600) instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Print even when stdout is a terminal
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        which: Which,
    },
    /// Read secrets exported as JSON from stdin; all or nothing. Every entry is checked
    /// first; replacing existing secrets asks on a terminal and otherwise needs --force
    Import {
        /// Read from this file instead of stdin
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// Replace existing secrets without asking
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        which: Which,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct Which {
    /// The vault backend to use, by its configured name (default: the first of type vault)
    #[arg(short, long)]
    pub backend: Option<String>,
    /// An age identity file that unlocks the vault instead of the passphrase (default:
    /// $ENVREF_VAULT_IDENTITY)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<std::path::PathBuf>,
}

impl Which {
    /// Where the key comes from: --identity, else $ENVREF_VAULT_IDENTITY, else the passphrase.
    fn key_source(&self) -> KeySource {
        let mut source = KeySource::from_env(terminal_prompt());
        if let Some(f) = &self.identity {
            source.identity_file = Some(f.clone());
        }
        source
    }
}

/// `--for`: seconds, or a number with s, m, h or d.
fn parse_ttl(text: &str) -> std::result::Result<std::time::Duration, String> {
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("expected a time like 30s, 15m, 8h or 1d".into()),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a time like 30s, 15m, 8h or 1d".to_string())?;
    match n.checked_mul(scale) {
        Some(secs) if secs <= 30 * 86_400 => Ok(std::time::Duration::from_secs(secs)),
        _ => Err("at most 30d".into()),
    }
}

/// The vault file: from the project's config when there is one, else the default path.
fn path_for(g: &Global, which: &Which) -> Result<std::path::PathBuf> {
    let config = match find_config(&g.dir()) {
        Some(f) => Some(Config::load(&f)?),
        None if which.backend.is_some() => {
            return Err(Error::usage("--backend needs a project (.envref.yaml)"))
        }
        None => None,
    };
    let spec = match (&config, &which.backend) {
        (Some(c), Some(name)) => {
            let s = c.require_backend(name)?;
            if BackendKind::of(s) != Some(BackendKind::Vault) {
                return Err(Error::usage(format!(
                    "backend {name} is of type {}, not vault",
                    s.kind
                )));
            }
            Some(s)
        }
        (Some(c), None) => c
            .backends
            .iter()
            .find(|b| BackendKind::of(b) == Some(BackendKind::Vault)),
        _ => None,
    };
    Ok(vault_path(spec))
}

/// The CLI's passphrase: `$ENVREF_VAULT_PASSPHRASE`, else a hidden prompt when a person is
/// at the terminal, else the error saying how to give it.
struct TerminalPrompt;

impl PassphraseProvider for TerminalPrompt {
    fn passphrase(&self, prompt: &str) -> std::result::Result<SecretString, BackendError> {
        if let Some(p) = passphrase::from_env()? {
            return Ok(p);
        }
        let denied = |m: String| BackendError::new(ErrorKind::Denied, m);
        let p = hidden_prompt(prompt)
            .ok_or_else(passphrase::no_terminal)?
            .map_err(|e| denied(format!("vault: cannot read the passphrase: {e}")))?;
        if p.is_empty() {
            return Err(denied("vault: the passphrase must not be empty".into()));
        }
        Ok(SecretString::from(p))
    }

    fn ask_person(&self, prompt: &str) -> Option<SecretString> {
        hidden_prompt(prompt)?.ok().map(SecretString::from)
    }
}

/// A hidden prompt on the terminal; `None` when no person is at one.
fn hidden_prompt(prompt: &str) -> Option<std::io::Result<String>> {
    ui::interactive().then(|| rpassword::prompt_password(prompt))
}

/// The passphrase source of every backend the CLI builds.
pub fn terminal_prompt() -> PassphraseSource {
    PassphraseSource::new(TerminalPrompt)
}

pub fn run(g: &Global, c: VaultCommand) -> Result<i32> {
    match c {
        VaultCommand::Init { work_factor, which } => init(g, &which, work_factor)?,
        VaultCommand::Lock { which } => lock(g, &which)?,
        VaultCommand::Unlock { ttl, which } => unlock(g, &which, ttl)?,
        VaultCommand::Status { format, which } => status(g, &which, format)?,
        VaultCommand::Passwd { work_factor, which } => passwd(g, &which, work_factor)?,
        VaultCommand::AddRecipient { recipient, which } => add_recipient(g, &which, &recipient)?,
        VaultCommand::RemoveRecipient { recipient, which } => {
            remove_recipient(g, &which, &recipient)?
        }
        VaultCommand::Export {
            output,
            force,
            which,
        } => export(g, &which, output, force)?,
        VaultCommand::Import { file, force, which } => return import(g, &which, file, force),
    }
    Ok(0)
}

fn init(g: &Global, which: &Which, work_factor: u8) -> Result<()> {
    let path = path_for(g, which)?;
    if path.exists() && VaultFile::open(&path)?.is_initialized()? {
        return Err(Error::not_allowed(format!(
            "vault: already initialized at {}",
            path.display()
        ))
        .with_hint(
            "nothing to do; to start over, move the file away (`envref vault export` keeps a copy)",
        ));
    }
    if let Some(file) = &which.identity {
        let to = envref_core::crypto::read_identity_file(file)?
            .recipient()
            .map_err(|e| e.context(file.display()))?;
        VaultFile::create(&path, &Protection::Recipient(&to))?;
        ui::info(&format!(
            "vault initialized at {}; the identity file {} unlocks it",
            path.display(),
            file.display()
        ));
        return Ok(());
    }
    let pass = match passphrase::from_env()? {
        Some(pass) => pass,
        None => new_passphrase("New vault passphrase: ", "run `envref vault init` again")?,
    };
    VaultFile::create(&path, &Protection::Passphrase(&pass, work_factor))?;
    ui::info(&format!("vault initialized at {}", path.display()));
    Ok(())
}

/// A new passphrase, typed twice on the terminal (never from the environment, which holds
/// the current one).
fn new_passphrase(prompt: &str, again: &str) -> Result<SecretString> {
    if !ui::interactive() {
        return Err(
            Error::usage("a new passphrase is typed on a terminal, and there is none")
                .with_hint("run the command in a terminal"),
        );
    }
    let read = |p: &str| -> Result<SecretString> {
        let text = rpassword::prompt_password(p)
            .map_err(|e| Error::io_while("cannot read the passphrase", e))?;
        if text.is_empty() {
            return Err(Error::usage("the passphrase must not be empty"));
        }
        Ok(SecretString::from(text))
    };
    let first = read(prompt)?;
    let second = read("Repeat the passphrase: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Error::usage("the passphrases do not match").with_hint(again.to_string()));
    }
    Ok(first)
}

/// Forget in the agent (no key needed to forget) and set the lock flag.
fn lock(g: &Global, which: &Which) -> Result<()> {
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    let recipient = file.recipient()?.to_string();
    #[cfg(unix)]
    let forgot = match agent::Client::find() {
        Some(c) => c.forget(Some(&recipient)).unwrap_or(0),
        None => 0,
    };
    #[cfg(not(unix))]
    let forgot = 0; // no agent without Unix sockets
    let was_locked = file.is_locked()?;
    file.set_locked(true)?;
    let agent_note = if forgot > 0 {
        "; the agent forgot its key"
    } else {
        ""
    };
    let state = if was_locked {
        "was already locked"
    } else {
        "locked"
    };
    ui::info(&format!("vault at {} {state}{agent_note}", path.display()));
    Ok(())
}

/// Prove the key (identity file or passphrase), clear the lock flag, and hand the key to the
/// agent for `ttl` (none with 0).
fn unlock(g: &Global, which: &Which, ttl: std::time::Duration) -> Result<()> {
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    let key = file.key(&which.key_source())?;
    file.set_locked(false)?;
    if ttl.is_zero() || cfg!(not(unix)) {
        ui::info(&format!(
            "vault unlocked at {} (no agent: each command unlocks it)",
            path.display()
        ));
        return Ok(());
    }
    hand_to_agent(&key, &path, ttl)
}

/// Without Unix sockets there is no agent (`unlock` returned before this).
#[cfg(not(unix))]
fn hand_to_agent(
    _: &envref_core::backend::vault_key::VaultKey,
    _: &std::path::Path,
    _: std::time::Duration,
) -> Result<()> {
    Err(Error::usage("the vault agent needs Unix sockets"))
}

#[cfg(unix)]
fn hand_to_agent(
    key: &envref_core::backend::vault_key::VaultKey,
    path: &std::path::Path,
    ttl: std::time::Duration,
) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io_while("cannot find the envref executable", e))?;
    let client = agent::start(&exe)?;
    client.add(key, path, ttl)?;
    ui::info(&format!(
        "vault unlocked at {}; the agent holds its key for {} (`envref vault lock` forgets it)",
        path.display(),
        shown_duration(ttl.as_secs())
    ));
    Ok(())
}

fn shown_duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `vault status`, as `--format json` prints it.
#[derive(Serialize)]
struct VaultStatus {
    vault: String,
    locked: bool,
    recipient: String,
    /// What unlocks the key: the passphrase, and identity files by public key.
    passphrase: bool,
    identity_files: Vec<String>,
    agent: AgentState,
}

/// What the agent says about this vault's key.
#[derive(Serialize, Default)]
struct AgentState {
    running: bool,
    pid: Option<u32>,
    holds_key: bool,
    expires_in_secs: Option<u64>,
    memory_locked: Option<bool>,
    /// What is locked: `process`, `secrets` (the key's and its values' pages) or `none`.
    memory_lock: Option<agent::MemoryLock>,
    /// Why the agent could not be asked, when it could not.
    error: Option<String>,
}

fn status(g: &Global, which: &Which, format: OutputFormat) -> Result<()> {
    let path = path_for(g, which)?;
    let file = VaultFile::open(&path)?;
    let recipient = file.recipient()?.to_string();
    let (passphrase, identity_files) = file.protections()?;
    let status = VaultStatus {
        vault: path.display().to_string(),
        locked: file.is_locked()?,
        agent: agent_state(&recipient),
        recipient,
        passphrase,
        identity_files,
    };
    if format == OutputFormat::Json {
        let json = serde_json::to_string_pretty(&status).expect("vault status serializes");
        return write_stdout(&format!("{json}\n"));
    }
    write_stdout(&status_text(&status))
}

fn status_text(s: &VaultStatus) -> String {
    let mut unlocks: Vec<String> = s
        .identity_files
        .iter()
        .map(|r| format!("identity file {r}"))
        .collect();
    if s.passphrase {
        unlocks.insert(0, "passphrase".into());
    }
    let state = match s.locked {
        true => "locked (`envref vault unlock`)",
        false => "unlocked",
    };
    format!(
        "vault: {}\nstate: {state}\nrecipient: {}\nunlocked by: {}\nagent: {}\n",
        s.vault,
        s.recipient,
        unlocks.join(", "),
        agent_line(&s.agent)
    )
}

/// The agent's state, in a line.
fn agent_line(a: &AgentState) -> String {
    if let Some(e) = &a.error {
        return e.clone();
    }
    let pid = a.pid.unwrap_or_default();
    match (a.running, a.expires_in_secs) {
        (false, _) => "not running".into(),
        (true, None) => format!("running (pid {pid}), does not hold this vault's key"),
        (true, Some(left)) => format!(
            "holds the key, {} left (pid {pid}, {})",
            shown_duration(left),
            match a.memory_lock {
                Some(agent::MemoryLock::Process) => "memory locked",
                Some(agent::MemoryLock::Secrets) => concat!(
                    "key and values on locked pages; ",
                    "RLIMIT_MEMLOCK bounds locked memory, so not the whole agent"
                ),
                _ => "memory not locked against swap: RLIMIT_MEMLOCK is too low, see `ulimit -l`",
            }
        ),
    }
}

#[cfg(not(unix))]
fn agent_state(_recipient: &str) -> AgentState {
    AgentState {
        error: Some("not available on this platform".into()),
        ..AgentState::default()
    }
}

#[cfg(unix)]
fn agent_state(recipient: &str) -> AgentState {
    let Some(client) = agent::Client::find() else {
        return AgentState::default();
    };
    match client.status() {
        Err(e) => AgentState {
            error: Some(e.message),
            ..AgentState::default()
        },
        Ok(s) => {
            let held = s.keys.iter().find(|k| k.recipient == recipient);
            AgentState {
                running: true,
                pid: Some(s.pid),
                holds_key: held.is_some(),
                expires_in_secs: held.map(|k| k.expires_in_secs),
                memory_locked: Some(s.memory_locked),
                memory_lock: Some(s.memory_lock),
                error: None,
            }
        }
    }
}

/// The test-only pause of `vault passwd` (a hidden variable, documented in tests/vaultfile.rs):
/// after the new passphrase is written and before it is committed, write this process's id
/// to the file it names and wait to be killed, so a test can show the rollback.
const PASSWD_PAUSE_ENV: &str = "ENVREF_TEST_PASSWD_PAUSE";

fn passwd(g: &Global, which: &Which, work_factor: u8) -> Result<()> {
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    let key = file.key(&which.key_source())?;
    let new = new_passphrase("New vault passphrase: ", "run `envref vault passwd` again")?;
    file.set_passphrase(&key, &new, work_factor, || {
        if let Some(marker) = std::env::var_os(PASSWD_PAUSE_ENV) {
            let _ = std::fs::write(marker, std::process::id().to_string());
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    })?;
    ui::info(&format!(
        "passphrase of the vault at {} changed",
        path.display()
    ));
    Ok(())
}

fn add_recipient(g: &Global, which: &Which, recipient: &str) -> Result<()> {
    let to = VaultRecipient::parse(recipient)?;
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    let key = file.key(&which.key_source())?;
    file.add_recipient(&key, &to)?;
    ui::info(&format!(
        "the identity file of {to} now unlocks the vault at {} ({}={{file}} or --identity)",
        path.display(),
        passphrase::IDENTITY_ENV
    ));
    Ok(())
}

fn remove_recipient(g: &Global, which: &Which, recipient: &str) -> Result<()> {
    let to = VaultRecipient::parse(recipient)?;
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    file.remove_recipient(&to)?;
    ui::info(&format!(
        "the identity file of {to} no longer unlocks the vault at {}",
        path.display()
    ));
    Ok(())
}

fn export(
    g: &Global,
    which: &Which,
    output: Option<std::path::PathBuf>,
    force: bool,
) -> Result<()> {
    if output.is_none() && std::io::stdout().is_terminal() && !force {
        return Err(
            Error::not_allowed("refusing to print plaintext secrets to the terminal").with_hint(
                "write a file only you can read (`envref vault export -o backup.json`), \
                 or pass --force",
            ),
        );
    }
    let path = path_for(g, which)?;
    let v = VaultFile::open(&path)?.unlock(&which.key_source())?;
    let secrets: serde_json::Map<String, serde_json::Value> = v
        .export()?
        .into_iter()
        .map(|(k, s)| (k, s.expose_secret().into()))
        .collect();
    let n = secrets.len();
    let doc = serde_json::json!({"version": 1, "exported_at": rfc3339_now(), "secrets": secrets});
    let text = format!("{}\n", serde_json::to_string_pretty(&doc).expect("json"));
    let output = output.map(|f| g.path(&f));
    match &output {
        Some(file) => envref_core::atomic::write_private(file, text.as_bytes())?,
        None => write_stdout(&text)?,
    }
    let to = output
        .map(|f| format!(" to {} (mode 0600)", f.display()))
        .unwrap_or_default();
    ui::info(&format!(
        "exported {n} secrets from {}{to}; the output is plaintext, keep it safe",
        path.display()
    ));
    Ok(())
}

/// The text to import and where it came from (for errors).
fn import_source(file: Option<std::path::PathBuf>) -> Result<(String, String)> {
    match &file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
            Ok((text, f.display().to_string()))
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io_while("cannot read stdin", e))?;
            Ok((text, "stdin".into()))
        }
    }
}

fn import(g: &Global, which: &Which, file: Option<std::path::PathBuf>, force: bool) -> Result<i32> {
    let (text, source) = import_source(file.map(|f| g.path(&f)))?;
    let entries = parse_export(&text).map_err(|e| e.context(&source))?;
    let path = path_for(g, which)?;
    let mut file = VaultFile::open(&path)?;
    let stored: std::collections::HashSet<String> = file.list("")?.into_iter().collect();
    let colliding: Vec<String> = entries
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| stored.contains(k))
        .collect();
    // Only values that would be replaced are read (that needs the key); new ones need none.
    if !colliding.is_empty() && !force {
        let replaced = changed_values(file, &which.key_source(), &entries, &colliding)?;
        if !replaced.is_empty() && !confirm_replace(&replaced, &path)? {
            ui::info("cancelled; nothing was imported");
            return Ok(1);
        }
        file = VaultFile::open(&path)?;
    }
    let n = file.put_all(entries.iter().map(|(k, s)| (k.as_str(), s)))?;
    ui::info(&format!("imported {n} secrets into {}", path.display()));
    Ok(0)
}

/// The keys among `colliding` whose stored value differs from the imported one.
fn changed_values<'a>(
    file: VaultFile,
    source: &KeySource,
    entries: &'a [(String, SecretString)],
    colliding: &[String],
) -> Result<Vec<&'a str>> {
    let v = file.unlock(source)?;
    let old = v.get_many(colliding);
    let mut changed = Vec::new();
    for (k, old) in colliding.iter().zip(old) {
        let new = entries.iter().find(|(e, _)| e == k).map(|(_, s)| s);
        if let (Some(old), Some(new)) = (old?, new) {
            if old.expose_secret() != new.expose_secret() {
                changed.push(
                    entries
                        .iter()
                        .find(|(e, _)| e == k)
                        .expect("found")
                        .0
                        .as_str(),
                );
            }
        }
    }
    Ok(changed)
}

/// Whether to replace these existing secrets: asked on a terminal, else refused with the hint.
fn confirm_replace(replaced: &[&str], path: &std::path::Path) -> Result<bool> {
    const NAMED: usize = 20;
    let more = if replaced.len() > NAMED {
        format!(" and {} more", replaced.len() - NAMED)
    } else {
        String::new()
    };
    let names = replaced
        .iter()
        .take(NAMED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let what = format!(
        "import would replace {} existing secret(s) in {}: {names}{more}",
        replaced.len(),
        path.display()
    );
    if !ui::interactive() {
        return Err(Error::not_allowed(format!("{what}; nothing was imported"))
            .with_hint("pass --force to replace them (`envref vault export` first keeps a copy)"));
    }
    ui::confirm(&format!("{what}. Replace them?"))
}

/// The current time as RFC 3339 UTC, e.g. 2026-11-28T13:24:22Z.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
