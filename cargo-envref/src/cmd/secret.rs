//! `envref secret …`: store, read, list, delete, generate, copy, rotate and share secrets in
//! one backend (`--backend`, else the first of the chain), under the project's namespace.

use std::io::Read;

use clap::{Args, Subcommand};
use envref_core::backend::Namespace;
use envref_core::config::{check_profile_name, Config};
use envref_core::reference::{
    check_project_name, check_secret_key, check_secret_value, check_writable_key, MAX_HISTORY,
};
use envref_core::scope::SecretScope;
use envref_core::{generate, Error, Result};
use secrecy::{ExposeSecret, SecretString};

use super::{choose_backend, load_config, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Backend to use, by its configured name (default: the first in .envref.yaml)
    #[arg(short, long, global = true)]
    pub backend: Option<String>,
    /// Profile scope: <project>/<profile>/<key> (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long, global = true)]
    pub profile: Option<String>,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum SecretCommand {
    /// Store a secret (hidden prompt on a terminal, or --value / --stdin)
    Set {
        key: String,
        /// The value (visible in your shell history; prefer the prompt or --stdin)
        #[arg(long, conflicts_with = "stdin")]
        value: Option<String>,
        /// Read the value from standard input (one trailing newline is removed)
        #[arg(long)]
        stdin: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Print a secret (profile scope first, then project scope)
    Get {
        key: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the names of stored secrets (never values)
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Delete a secret (asks for confirmation on a terminal)
    Delete {
        key: String,
        /// Do not ask
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Store a new random secret. Replacing an existing one asks on a terminal and otherwise
    /// needs --force; the old value is not kept (`secret rotate` keeps it)
    Generate {
        key: String,
        #[command(flatten)]
        random: Random,
        /// Also print the value on stdout
        #[arg(long)]
        print: bool,
        /// Replace an existing secret without asking (its old value is lost)
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Copy a secret from another project (same backend). Replacing an existing one asks on a
    /// terminal and otherwise needs --force
    Copy {
        key: String,
        /// The project to copy from
        #[arg(long)]
        from: String,
        /// The profile scope in the source project
        #[arg(long)]
        from_profile: Option<String>,
        /// Replace an existing secret without asking
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Replace an existing secret with a new random value, archiving the old one as
    /// <key>.__history.N (N = 1 newest; these names are reserved)
    Rotate {
        key: String,
        /// How many old values to keep (0-100)
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_HISTORY)))]
        keep: u32,
        #[command(flatten)]
        random: Random,
        /// Also print the new value on stdout
        #[arg(long)]
        print: bool,
        /// Do not ask before deleting old values beyond --keep
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Encrypt a secret to someone's age public key (ASCII armor on stdout)
    Share {
        key: String,
        /// Recipient's age public key (age1…)
        #[arg(long, required_unless_present = "to_file", conflicts_with = "to_file")]
        to: Option<String>,
        /// File holding the recipient's public key
        #[arg(long)]
        to_file: Option<std::path::PathBuf>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Random {
    /// Length in characters (1-1024)
    #[arg(short, long, default_value_t = 32)]
    pub length: usize,
    /// alphanumeric, ascii, hex or base64
    #[arg(short, long, default_value = "alphanumeric", value_parser = generate::CHARSETS.to_vec())]
    pub charset: String,
}

/// The chosen backend in the selected profile's namespace.
fn open_scope(config: &Config, t: &Target) -> Result<SecretScope> {
    let profile = config.select_profile(t.profile.as_deref())?;
    let backend = choose_backend(config, t.backend.as_deref())?;
    Ok(SecretScope::new(
        backend,
        Namespace::new(&config.project, profile),
    ))
}

/// Before a read that falls back to the project scope: a profile known neither from the files
/// nor by secrets in this backend is a typo, not an empty scope.
fn warn_unknown_profile(s: &SecretScope, config: &Config) -> Result<()> {
    if let Some(p) = &s.ns.profile {
        let backends = std::slice::from_ref(&s.backend);
        if let Some(w) = envref_core::profile::check_selected(config, p, backends)? {
            ui::warn(&w);
        }
    }
    Ok(())
}

/// A key to read (`get`, `share`, `delete`): rotation archives included.
fn check_key(key: &str) -> Result<()> {
    check_secret_key(key).map_err(|m| Error::usage(format!("invalid secret key {key:?}: {m}")))
}

/// A key to write: no rotation archive names.
fn check_new_key(key: &str) -> Result<()> {
    check_writable_key(key).map_err(|m| Error::usage(format!("invalid secret key {key:?}: {m}")))
}

/// Replacing a secret that exists needs `--force` or a yes on the terminal; `Ok(false)` means
/// the user said no.
fn confirm_replace(s: &SecretScope, key: &str, force: bool, why: &str) -> Result<bool> {
    if force || !s.exists(key)? {
        return Ok(true);
    }
    let what = format!("{} already exists", s.describe(key));
    if !ui::interactive() {
        return Err(Error::usage(format!("{what}; {why}")).with_hint(format!(
            "pass --force to replace it, or `envref secret rotate {key}` to replace it and keep the old value"
        )));
    }
    ui::confirm(&format!("{what}; replace it (the old value is lost)?"))
}

/// Exit code 1 after the user said no.
fn cancelled() -> Result<i32> {
    ui::info("cancelled");
    Ok(1)
}

pub fn run(g: &Global, c: SecretCommand) -> Result<i32> {
    // Flag checks that need no config come first, so a typo fails fast.
    if let SecretCommand::Generate { random, .. } | SecretCommand::Rotate { random, .. } = &c {
        generate::check_length(random.length)?;
    }
    let config = load_config(g)?;
    match c {
        SecretCommand::Set {
            key,
            value,
            stdin,
            target,
        } => set(&config, &key, value, stdin, &target),
        SecretCommand::Get { key, target } => get(&config, &key, &target),
        SecretCommand::List { target } => list(&config, &target),
        SecretCommand::Delete { key, force, target } => delete(&config, &key, force, &target),
        SecretCommand::Generate {
            key,
            random,
            print,
            force,
            target,
        } => generate_new(&config, &key, &random, print, force, &target),
        SecretCommand::Copy {
            key,
            from,
            from_profile,
            force,
            target,
        } => copy(&config, &key, &from, from_profile, force, &target),
        SecretCommand::Rotate {
            key,
            keep,
            random,
            print,
            force,
            target,
        } => rotate(&config, &key, keep, &random, print, force, &target),
        SecretCommand::Share {
            key,
            to,
            to_file,
            target,
        } => share(&config, &key, to, to_file, &target),
    }
}

fn set(config: &Config, key: &str, value: Option<String>, stdin: bool, t: &Target) -> Result<i32> {
    check_new_key(key)?;
    let value = read_value(key, value, stdin)?;
    let s = open_scope(config, t)?;
    s.write(key, &value)?;
    ui::info(&format!("stored {}", s.describe(key)));
    Ok(0)
}

fn get(config: &Config, key: &str, t: &Target) -> Result<i32> {
    check_key(key)?;
    let s = open_scope(config, t)?;
    warn_unknown_profile(&s, config)?;
    let v = s.read(key)?;
    write_stdout(&format!("{}\n", v.expose_secret()))?;
    Ok(0)
}

fn list(config: &Config, t: &Target) -> Result<i32> {
    let s = open_scope(config, t)?;
    let keys = s.list()?;
    if keys.is_empty() {
        let (prefix, name) = (s.ns.prefix(), s.backend.name());
        ui::info(&format!("no secrets under {prefix} in backend {name}"));
    }
    let out: String = keys.iter().map(|k| format!("{k}\n")).collect();
    write_stdout(&out)?;
    Ok(0)
}

fn delete(config: &Config, key: &str, force: bool, t: &Target) -> Result<i32> {
    check_key(key)?;
    let s = open_scope(config, t)?;
    if !force && !ui::confirm(&format!("Delete secret {}?", s.describe(key)))? {
        return cancelled();
    }
    s.delete(key)?;
    match s.backend.deletion_note() {
        Some(note) => ui::info(&format!("deleted {} ({note})", s.describe(key))),
        None => ui::info(&format!("deleted {}", s.describe(key))),
    }
    Ok(0)
}

fn generate_new(
    config: &Config,
    key: &str,
    random: &Random,
    print: bool,
    force: bool,
    t: &Target,
) -> Result<i32> {
    check_new_key(key)?;
    let s = open_scope(config, t)?;
    if !confirm_replace(&s, key, force, "generate would replace it")? {
        return cancelled();
    }
    let value = generate::generate(random.length, &random.charset)?;
    s.write(key, &value)?;
    let (length, charset) = (random.length, &random.charset);
    ui::info(&format!(
        "generated {} ({length} characters, {charset})",
        s.describe(key)
    ));
    print_if(print, &value)
}

fn copy(
    config: &Config,
    key: &str,
    from: &str,
    from_profile: Option<String>,
    force: bool,
    t: &Target,
) -> Result<i32> {
    check_new_key(key)?;
    check_project_name(from).map_err(|m| Error::usage(format!("--from {from:?}: {m}")))?;
    if let Some(p) = &from_profile {
        check_profile_name(p).map_err(|m| Error::usage(format!("--from-profile {p:?}: {m}")))?;
    }
    let s = open_scope(config, t)?;
    let source = Namespace::new(from, from_profile.clone()).key(key);
    let value = s.read_other(from, from_profile, key)?;
    if !confirm_replace(&s, key, force, "copy would replace it")? {
        return cancelled();
    }
    s.write(key, &value)?;
    ui::info(&format!("copied {source} to {}", s.describe(key)));
    Ok(0)
}

fn rotate(
    config: &Config,
    key: &str,
    keep: u32,
    random: &Random,
    print: bool,
    force: bool,
    t: &Target,
) -> Result<i32> {
    check_new_key(key)?;
    let s = open_scope(config, t)?;
    // Old values past --keep already stored (a lower --keep than before) are deleted: ask.
    if !force && s.rotation_drops_history(key, keep)? {
        let what = s.describe(key);
        let q = format!("Rotate {what} and delete its stored old values beyond the newest {keep}?");
        if !ui::confirm(&q)? {
            return cancelled();
        }
    }
    let value = generate::generate(random.length, &random.charset)?;
    s.rotate(key, keep, &value)?;
    let (length, charset) = (random.length, &random.charset);
    ui::info(&format!(
        "rotated {} ({length} characters, {charset}; keeping {keep} old values)",
        s.describe(key)
    ));
    print_if(print, &value)
}

fn print_if(print: bool, value: &SecretString) -> Result<i32> {
    if print {
        write_stdout(&format!("{}\n", value.expose_secret()))?;
    }
    Ok(0)
}

fn share(
    config: &Config,
    key: &str,
    to: Option<String>,
    to_file: Option<std::path::PathBuf>,
    t: &Target,
) -> Result<i32> {
    check_key(key)?;
    let text = match (to, to_file) {
        (Some(t), _) => t,
        (None, Some(f)) => {
            let content = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
            let first = first_key_line(&content);
            first.ok_or_else(|| {
                Error::parse(format!("{}: no public key in the file", f.display()))
            })?
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let recipient = envref_core::crypto::parse_recipient(&text)?;
    let s = open_scope(config, t)?;
    warn_unknown_profile(&s, config)?;
    let value = s.read(key)?;
    let armored = envref_core::crypto::armor_for(&recipient, &value)?;
    write_stdout(&armored)?;
    Ok(0)
}

/// The first line of a key file that is not blank or a `#` comment.
fn first_key_line(content: &str) -> Option<String> {
    content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// The value from `--value`, `--stdin`, or a hidden prompt on the terminal.
fn read_value(key: &str, value: Option<String>, stdin: bool) -> Result<SecretString> {
    let v = if let Some(v) = value {
        v
    } else if stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| Error::io_while("cannot read the value from stdin", e))?;
        if buf.ends_with('\n') {
            buf.pop();
            if buf.ends_with('\r') {
                buf.pop();
            }
        }
        buf
    } else if ui::interactive() {
        rpassword::prompt_password(format!("Value for {key}: "))
            .map_err(|e| Error::io_while("cannot read the value", e))?
    } else {
        return Err(Error::usage(format!(
            "no value given for {key} and no terminal to ask on"
        ))
        .with_hint("pass --value VALUE, or pipe it in with --stdin"));
    };
    check_secret_value(&v).map_err(|m| {
        Error::usage(format!("{key}: {m}")).with_hint("give a non-empty value without NUL bytes")
    })?;
    Ok(SecretString::from(v))
}
