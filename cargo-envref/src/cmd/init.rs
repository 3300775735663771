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
}

pub fn run(g: &Global, a: InitArgs) -> Result<i32> {
    let dir = std::path::absolute(g.dir()).map_err(|e| Error::new(format!("cannot resolve the directory: {e}")))?;
    if !dir.is_dir() {
        return Err(Error::new(format!("{}: not a directory", dir.display())));
    }
    let project = match a.project {
        Some(p) => p,
        None => dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into()),
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
    let env = "# Committed configuration. Secrets never go here: reference them instead,\n\
               # e.g. API_KEY=ref://secrets/api_key, and store the value with `envref secret set api_key`.\n\
               APP_ENV=development\n\
               APP_PORT=3000\n";
    let local = "# Local overrides for this machine only (not committed).\n";
    let mut created = 0;
    let writes_config = a.force || !dir.join(".envref.yaml").exists();
    for (name, content, mode) in [(".envref.yaml", config.as_str(), 0o644), (".env", env, 0o644), (".env.local", local, 0o600)] {
        let path = dir.join(name);
        if path.exists() && !a.force {
            ui::info(&format!("  skip    {name} (exists; --force overwrites)"));
            continue;
        }
        write_atomic(&path, content.as_bytes(), Some(mode))?;
        ui::info(&format!("  create  {name}"));
        created += 1;
    }
    if let (Some(e), true) = (&no_keychain, writes_config) {
        ui::info(&format!(
            "note: {}: no D-Bus session bus, or no keyring daemon (gnome-keyring, KWallet) answered; .envref.yaml puts the local vault first",
            e.message
        ));
    }
    let gitignore = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == ".env.local") {
        ui::info("  skip    .gitignore (.env.local already listed)");
    } else {
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(".env.local\n");
        write_atomic(&gitignore, text.as_bytes(), None)?;
        ui::info(&format!("  {}  .gitignore (.env.local)", if existing.is_empty() { "create" } else { "update" }));
    }
    if created > 0 {
        ui::info(&format!("\nInitialized envref project {project} in {}", dir.display()));
        match &no_keychain {
            None => ui::info("Next: `envref secret set <key>` (stored in the OS keychain) and add KEY=ref://secrets/<key> to .env"),
            Some(_) => ui::info("Next: `envref vault init`, then `envref secret set <key>` and add KEY=ref://secrets/<key> to .env"),
        }
    }
    Ok(0)
}
