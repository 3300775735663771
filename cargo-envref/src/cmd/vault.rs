//! `envref vault …`: create, lock, unlock, export and import the local vault.

use std::io::{IsTerminal, Read};

use clap::Subcommand;
use envref_core::backend::passphrase::{self, PassphraseProvider, PassphraseSource};
use envref_core::backend::vault::{
    parse_export, vault_path, VaultFile, DEFAULT_WORK_FACTOR, PASSPHRASE_ENV,
};
use envref_core::backend::BackendKind;
use envref_core::backend::{BackendError, ErrorKind};
use envref_core::config::{find_config, Config};
use envref_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};

use super::write_stdout;
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum VaultCommand {
    /// Create the vault and set its passphrase (or take it from ENVREF_VAULT_PASSPHRASE)
    Init {
        /// scrypt work factor (log2 N) protecting the passphrase; each +1 doubles the cost
        #[arg(long, default_value_t = DEFAULT_WORK_FACTOR, value_parser = clap::value_parser!(u8).range(10..=22))]
        work_factor: u8,
        #[command(flatten)]
        which: Which,
    },
    /// Lock the vault: every read and write refuses until `envref vault unlock`
    Lock {
        #[command(flatten)]
        which: Which,
    },
    /// Unlock a locked vault
    Unlock {
        #[command(flatten)]
        which: Which,
    },
    /// Print every secret as JSON (plaintext!) on stdout
    Export {
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
}

/// The vault file: from the project's config when there is one, else the default path.
fn path_for(g: &Global, which: &Which) -> Result<std::path::PathBuf> {
    let config = match find_config(&g.dir()) {
        Some(f) => Some(Config::load(&f)?),
        None if which.backend.is_some() => {
            return Err(Error::new("--backend needs a project (.envref.yaml)"))
        }
        None => None,
    };
    let spec = match (&config, &which.backend) {
        (Some(c), Some(name)) => {
            let s = c.require_backend(name)?;
            if BackendKind::of(s) != Some(BackendKind::Vault) {
                return Err(Error::new(format!(
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
        if !ui::interactive() {
            return Err(passphrase::no_terminal());
        }
        let denied = |m: String| BackendError::new(ErrorKind::Denied, m);
        let p = rpassword::prompt_password(prompt)
            .map_err(|e| denied(format!("vault: cannot read the passphrase: {e}")))?;
        if p.is_empty() {
            return Err(denied("vault: the passphrase must not be empty".into()));
        }
        Ok(SecretString::from(p))
    }
}

/// The passphrase source of every backend the CLI builds.
pub fn terminal_prompt() -> PassphraseSource {
    PassphraseSource::new(TerminalPrompt)
}

fn ask(prompt: &str) -> Result<SecretString> {
    Ok(TerminalPrompt.passphrase(prompt)?)
}

pub fn run(g: &Global, c: VaultCommand) -> Result<i32> {
    match c {
        VaultCommand::Init { work_factor, which } => init(g, &which, work_factor)?,
        VaultCommand::Lock { which } => lock(g, &which, true)?,
        VaultCommand::Unlock { which } => lock(g, &which, false)?,
        VaultCommand::Export { force, which } => export(g, &which, force)?,
        VaultCommand::Import { file, force, which } => return import(g, &which, file, force),
    }
    Ok(0)
}

fn init(g: &Global, which: &Which, work_factor: u8) -> Result<()> {
    let path = path_for(g, which)?;
    if path.exists() && VaultFile::open(&path)?.is_initialized()? {
        return Err(Error::new(format!("vault: already initialized at {}", path.display()))
            .with_hint("nothing to do; to start over, move the file away (`envref vault export` keeps a copy)"));
    }
    let pass = if std::env::var_os(PASSPHRASE_ENV).is_some() {
        ask("")?
    } else {
        let first = ask("New vault passphrase: ")?;
        let second = ask("Repeat the passphrase: ")?;
        if first.expose_secret() != second.expose_secret() {
            return Err(Error::new("the passphrases do not match")
                .with_hint("run `envref vault init` again"));
        }
        first
    };
    VaultFile::create(&path, &pass, work_factor)?;
    ui::info(&format!("vault initialized at {}", path.display()));
    Ok(())
}

fn export(g: &Global, which: &Which, force: bool) -> Result<()> {
    if std::io::stdout().is_terminal() && !force {
        return Err(
            Error::new("refusing to print plaintext secrets to the terminal").with_hint(
                "redirect to a file (`envref vault export > backup.json`) or pass --force",
            ),
        );
    }
    let path = path_for(g, which)?;
    let v = VaultFile::open(&path)?.unlock_identity(&ask("Vault passphrase: ")?, false)?;
    let secrets: serde_json::Map<String, serde_json::Value> = v
        .export()?
        .into_iter()
        .map(|(k, s)| (k, s.expose_secret().into()))
        .collect();
    let n = secrets.len();
    let doc = serde_json::json!({"version": 1, "exported_at": rfc3339_now(), "secrets": secrets});
    write_stdout(&format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("json")
    ))?;
    ui::info(&format!(
        "exported {n} secrets from {}; the output is plaintext, keep it safe",
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
                .map_err(|e| Error::new(format!("cannot read stdin: {e}")))?;
            Ok((text, "stdin".into()))
        }
    }
}

fn import(g: &Global, which: &Which, file: Option<std::path::PathBuf>, force: bool) -> Result<i32> {
    let (text, source) = import_source(file)?;
    let entries = parse_export(&text).map_err(|e| e.context(&source))?;
    let path = path_for(g, which)?;
    let mut v = VaultFile::open(&path)?.unlock_identity(&ask("Vault passphrase: ")?, false)?;
    let stored: std::collections::HashSet<String> = v.list("")?.into_iter().collect();
    let mut replaced = Vec::new();
    for (k, new) in entries.iter().filter(|(k, _)| stored.contains(k)) {
        if v.get(k)?
            .is_some_and(|old| old.expose_secret() != new.expose_secret())
        {
            replaced.push(k.as_str());
        }
    }
    if !replaced.is_empty() && !force && !confirm_replace(&replaced, &path)? {
        ui::info("cancelled; nothing was imported");
        return Ok(1);
    }
    let n = v.put_all(entries.iter().map(|(k, s)| (k.as_str(), s)))?;
    ui::info(&format!("imported {n} secrets into {}", path.display()));
    Ok(0)
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
        return Err(Error::new(format!("{what}; nothing was imported"))
            .with_hint("pass --force to replace them (`envref vault export` first keeps a copy)"));
    }
    ui::confirm(&format!("{what}. Replace them?"))
}

fn lock(g: &Global, which: &Which, locked: bool) -> Result<()> {
    let path = path_for(g, which)?;
    let mut v = VaultFile::open(&path)?.unlock_identity(&ask("Vault passphrase: ")?, true)?;
    if v.is_locked()? == locked {
        let state = if locked { "locked" } else { "unlocked" };
        ui::info(&format!("vault at {} is already {state}", path.display()));
        return Ok(());
    }
    v.set_locked(locked)?;
    ui::info(&format!(
        "vault {} at {}",
        if locked { "locked" } else { "unlocked" },
        path.display()
    ));
    Ok(())
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
