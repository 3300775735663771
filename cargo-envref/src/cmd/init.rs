//! `envref init`: a project skeleton that works at once.

use clap::Args;
use envref_core::backend::ErrorKind;
use envref_core::layers::write_atomic;
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
        .map_err(|e| Error::new(format!("cannot resolve the directory: {e}")))?;
    if !dir.is_dir() {
        return Err(Error::new(format!("{}: not a directory", dir.display())));
    }
    let project = match a.project {
        Some(p) => {
            envref_core::config::check_name(&p).map_err(|m| {
                Error::new(format!("--project {p:?}: {m}")).with_hint(
                    "pick a name like `my-app`; it names the namespace secrets are stored under",
                )
            })?;
            p
        }
        None => project_name_from_dir(
            &dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    // The keychain is the default chain; where no Secret Service answers, start with the vault.
    // (A locked keyring still answers: only "unavailable" moves the vault first.)
    let no_keychain = match envref_core::backend::keychain::probe() {
        Err(e) if e.kind == ErrorKind::Unavailable => Some(e),
        _ => None,
    };
    let backends = match &no_keychain {
        None => "# Backends are asked in order for ref://secrets/<key>; the first that has the key wins.\n\
                   # Without a backends section, the OS keychain is the only backend. To add the local\n\
                   # vault (`envref vault init`) after it:\n\
                   # backends:\n\
                   #   - name: keychain\n\
                   #     type: keychain\n\
                   #   - name: vault\n\
                   #     type: vault\n"
            .to_string(),
        Some(_) => "# Backends are asked in order for ref://secrets/<key>; the first that has the key wins.\n\
             # Without a backends section, the OS keychain is the only backend; `envref init` found\n\
             # no Secret Service on this machine, so the local vault comes first.\n\
             backends:\n\
             \x20 - name: vault\n\
             \x20   type: vault\n\
             # Once a keychain is available, it can follow (or precede) the vault:\n\
             #   - name: keychain\n\
             #     type: keychain\n"
            .to_string(),
    };
    let config = format!(
        "# envref configuration: https://github.com/envref/envref\n\
         # Secrets are stored under the namespace <project>/<key> in every backend.\n\
         project: {project}\n\
         env_file: .env\n\
         local_file: .env.local\n\
         \n\
         {backends}\
         \n\
         # profiles:\n\
         #   staging:\n\
         #     env_file: .env.staging\n"
    );
    // The validation every command runs on load (and config edits run before writing): init
    // never writes a configuration that later commands reject.
    envref_core::config::Config::load_text(&dir.join(".envref.yaml"), &config)
        .map_err(|e| e.context("envref init would write an invalid .envref.yaml"))?;
    let env = "# Committed configuration. Secrets never go here: reference them instead,\n\
               # e.g. API_KEY=ref://secrets/api_key, and store the value with `envref secret set api_key`.\n\
               APP_ENV=development\n\
               APP_PORT=3000\n";
    let local = "# Local overrides for this machine only (not committed).\n";
    let mut created = 0;
    let writes_config = a.force || !dir.join(".envref.yaml").exists();
    for (name, content, mode) in [
        (".envref.yaml", config.as_str(), 0o644),
        (".env", env, 0o644),
        (".env.local", local, 0o600),
    ] {
        let path = dir.join(name);
        if path.exists() && !a.force {
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
                    e.message
                )),
            }
        }
    }
    if let (Some(e), true) = (&no_keychain, writes_config) {
        ui::info(&format!(
            "note: {}: no D-Bus session bus, or no keyring daemon (gnome-keyring, KWallet) answered; .envref.yaml puts the local vault first",
            e.message
        ));
    }
    let gitignore = dir.join(".gitignore");
    // Bytes, not text: a .gitignore in another encoding is appended to, never replaced.
    let existing = match std::fs::read(&gitignore) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&gitignore, e)),
    };
    let listed = existing
        .as_deref()
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .any(|l| l.trim_ascii() == b".env.local");
    if listed {
        ui::info("  skip    .gitignore (.env.local already listed)");
    } else {
        let mut bytes = existing.clone().unwrap_or_default();
        let eol: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.extend_from_slice(eol);
        }
        bytes.extend_from_slice(b".env.local");
        bytes.extend_from_slice(eol);
        write_atomic(&gitignore, &bytes, None)?;
        ui::info(&format!(
            "  {}  .gitignore (.env.local)",
            if existing.is_none() {
                "create"
            } else {
                "update"
            }
        ));
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
    Ok(0)
}

/// A valid project name from a directory name: runs of other characters become `-`
/// (`My Project` → `my-project`); `app` when nothing is left.
fn project_name_from_dir(dir_name: &str) -> String {
    let mut name = String::new();
    for c in dir_name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches(['-', '.']);
    if name.is_empty() {
        "app".to_string()
    } else {
        name.to_string()
    }
}

/// The `.envrc`: `watch_file` for the config and env files (direnv re-runs only when one of
/// them changes), then the resolved environment. When envref fails it prints nothing, the
/// `|| exit` makes the `.envrc` fail, and direnv shows envref's error and exports nothing
/// from the project, instead of a partial environment.
pub fn envrc(watch: &[String]) -> String {
    let files: Vec<String> = watch
        .iter()
        .map(|f| envref_core::output::shell_quote(f))
        .collect();
    format!(
        "# Written by `envref init --direnv`. direnv runs this on entering the directory, and again\n\
         # only when a watched file changes. If any reference does not resolve, envref prints\n\
         # nothing and this file fails: direnv shows envref's error and exports nothing from here.\n\
         watch_file {}\n\
         envref_env=\"$(envref resolve --direnv)\" || exit\n\
         eval \"$envref_env\"\n\
         unset envref_env\n",
        files.join(" ")
    )
}

fn write_envrc(dir: &std::path::Path, force: bool) -> Result<()> {
    let path = dir.join(".envrc");
    if path.exists() && !force {
        ui::info("  skip    .envrc (exists; --force overwrites)");
        return Ok(());
    }
    let mut watch = vec![".envref.yaml".to_string()];
    match envref_core::config::Config::load(&dir.join(".envref.yaml")) {
        Ok(c) => {
            let rel = |p: std::path::PathBuf| {
                p.strip_prefix(&c.root)
                    .map(|r| r.display().to_string())
                    .unwrap_or_else(|_| p.display().to_string())
            };
            watch.push(rel(c.root.join(&c.env_file)));
            let profiles = c.profiles.keys().cloned().chain(c.active_profile.clone());
            for p in profiles {
                watch.push(rel(c.profile_file(&p)));
            }
            watch.push(rel(c.root.join(&c.local_file)));
        }
        Err(_) => watch.extend([".env".to_string(), ".env.local".to_string()]),
    }
    let mut seen = std::collections::HashSet::new();
    watch.retain(|w| seen.insert(w.clone()));
    write_atomic(&path, envrc(&watch).as_bytes(), Some(0o644))?;
    ui::info("  create  .envrc");
    match envref_core::runner::Invocation::new("direnv")
        .arg("allow")
        .arg(&path)
        .current_dir(dir)
        .run()
    {
        Ok(o) if o.success() => ui::info("  allow   .envrc (direnv allow)"),
        Ok(o) => ui::warn(&format!(
            "direnv allow failed: {}; run `direnv allow` yourself",
            o.stderr_summary()
        )),
        Err(envref_core::runner::RunError::NotFound(_)) => {
            ui::warn("direnv is not installed, so .envrc does nothing yet");
            ui::hint("install direnv (https://direnv.net), hook it into your shell, then run `direnv allow`");
        }
        Err(e) => ui::warn(&format!("direnv allow: {e}; run `direnv allow` yourself")),
    }
    Ok(())
}
