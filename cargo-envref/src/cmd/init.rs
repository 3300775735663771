//! `envref init`: a project skeleton that works at once.

use std::path::Path;

use clap::Args;
use envref_core::atomic::write_atomic;
use envref_core::init::{self, DirenvAllow, GitignoreEdit};
use envref_core::{Error, Result};

use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Project name: the namespace of its secrets (default: the directory's name)
    #[arg(short, long)]
    pub project: Option<String>,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
    /// Also write an .envrc for direnv (loads `envref resolve --direnv`) and allow it
    #[arg(long)]
    pub direnv: bool,
}

pub fn run(g: &Global, a: InitArgs) -> Result<i32> {
    let dir = std::path::absolute(g.dir())
        .map_err(|e| Error::io_while("cannot resolve the directory", e))?;
    if !dir.is_dir() {
        return Err(Error::usage(format!("{}: not a directory", dir.display())));
    }
    let project = project_name(&dir, a.project)?;
    // The keychain is the default chain; where no Secret Service answers, start with the vault.
    // (A locked keyring still answers: only "unavailable" moves the vault first.)
    let no_keychain = init::keychain_unavailable();
    let config = init::config_template(&dir, &project, no_keychain.is_some())?;
    let writes_config = a.force || !dir.join(".envref.yaml").exists();
    let created = write_skeleton(&dir, &config, a.force)?;
    if let (Some(e), true) = (&no_keychain, writes_config) {
        ui::info(&format!(
            "note: {}: no D-Bus session bus, or no keyring daemon (gnome-keyring, KWallet) answered; .envref.yaml puts the local vault first",
            e.message
        ));
    }
    match init::ignore_in_git(&dir, ".env.local")? {
        GitignoreEdit::AlreadyListed => {
            ui::info("  skip    .gitignore (.env.local already listed)")
        }
        GitignoreEdit::Created => ui::info("  create  .gitignore (.env.local)"),
        GitignoreEdit::Appended => ui::info("  update  .gitignore (.env.local)"),
    }
    if a.direnv {
        write_envrc(&dir, a.force)?;
    }
    if created > 0 {
        ui::info(&format!(
            "\nInitialized envref project {project} in {}",
            dir.display()
        ));
        match &no_keychain {
            None => ui::info("Next: `envref secret set <key>` (stored in the OS keychain) and add KEY=ref://secrets/<key> to .env"),
            Some(_) => ui::info("Next: `envref vault init`, then `envref secret set <key>` and add KEY=ref://secrets/<key> to .env"),
        }
    }
    warn_plaintext_secrets(&dir);
    Ok(0)
}

/// An existing `.env` with plaintext secrets: say so, and how to move them out.
fn warn_plaintext_secrets(dir: &Path) {
    let keys = init::plaintext_secrets(&dir.join(".env"));
    if keys.is_empty() {
        return;
    }
    ui::warn(&format!(
        ".env holds {} value(s) that look like plaintext secrets: {}",
        keys.len(),
        keys.join(", ")
    ));
    ui::hint("move them into a backend with `envref import --detect` (add --dry-run to see the plan first)");
}

/// `--project`, checked, else a name from the directory's.
fn project_name(dir: &Path, flag: Option<String>) -> Result<String> {
    let Some(p) = flag else {
        let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        return Ok(init::project_name_from_dir(&dir_name.unwrap_or_default()));
    };
    envref_core::config::check_name(&p).map_err(|m| {
        Error::usage(format!("--project {p:?}: {m}"))
            .with_hint("pick a name like `my-app`; it names the namespace secrets are stored under")
    })?;
    Ok(p)
}

/// `.envref.yaml`, `.env` and `.env.local`, each unless it exists (or `force`); returns how
/// many were written.
fn write_skeleton(dir: &Path, config: &str, force: bool) -> Result<usize> {
    let mut created = 0;
    for (name, content, mode) in [
        (".envref.yaml", config, 0o644),
        (".env", init::ENV_TEMPLATE, 0o644),
        (".env.local", init::LOCAL_TEMPLATE, 0o600),
    ] {
        let path = dir.join(name);
        if path.exists() && !force {
            ui::info(&format!("  skip    {name} (exists; --force overwrites)"));
            continue;
        }
        write_atomic(&path, content.as_bytes(), Some(mode))?;
        ui::info(&format!("  create  {name}"));
        created += 1;
        if name == ".envref.yaml" {
            // The user just wrote it: trust it as `envref allow` would (edits need a new allow).
            match envref_core::trust::allow(&path) {
                Ok(_) => ui::info("  allow   .envref.yaml (envref allow)"),
                Err(e) => ui::warn(&format!(
                    "{}; run `envref allow` before adding a backend with `command:`",
                    e
                )),
            }
        }
    }
    Ok(created)
}

fn write_envrc(dir: &Path, force: bool) -> Result<()> {
    let path = dir.join(".envrc");
    if path.exists() && !force {
        ui::info("  skip    .envrc (exists; --force overwrites)");
        return Ok(());
    }
    let rc = init::envrc(&init::envrc_watch_files(dir));
    write_atomic(&path, rc.as_bytes(), Some(0o644))?;
    ui::info("  create  .envrc");
    match init::direnv_allow(dir, &path) {
        DirenvAllow::Allowed => ui::info("  allow   .envrc (direnv allow)"),
        DirenvAllow::Refused(why) => ui::warn(&format!(
            "direnv allow failed: {why}; run `direnv allow` yourself"
        )),
        DirenvAllow::NotInstalled => {
            ui::warn("direnv is not installed, so .envrc does nothing yet");
            ui::hint("install direnv (https://direnv.net), hook it into your shell, then run `direnv allow`");
        }
        DirenvAllow::CannotRun(e) => {
            ui::warn(&format!("direnv allow: {e}; run `direnv allow` yourself"))
        }
    }
    Ok(())
}
