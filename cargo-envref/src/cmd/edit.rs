//! `envref edit`: open an env file (or `.envref.yaml`) in `$VISUAL`/`$EDITOR`, then check
//! that what was saved still parses. The editor value is split like a shell would
//! (`code --wait`) and run directly, without a shell.

use std::path::{Path, PathBuf};

use clap::Args;
use envref_core::config::{check_profile_name, find_config, Config, CONFIG_FILE};
use envref_core::dotenv::Document;
use envref_core::{editor, Error, Result};

use super::load_config;
use crate::Global;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").args(["file", "local", "config", "profile"])))]
pub struct EditArgs {
    /// A file to edit instead of the project's env file
    pub file: Option<PathBuf>,
    /// Edit the local file (.env.local)
    #[arg(short, long)]
    pub local: bool,
    /// Edit .envref.yaml
    #[arg(short, long)]
    pub config: bool,
    /// Edit this profile's env file (.env.<profile>)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
}

/// What `envref edit` opens: an env file, or `.envref.yaml`.
enum EditTarget {
    EnvFile,
    Config,
}

pub fn run(g: &Global, a: EditArgs) -> Result<i32> {
    let (path, target) = choose_file(g, &a)?;
    run_editor(&path)?;
    if !path.exists() {
        // Quit without saving a new file: nothing to check.
        return Ok(0);
    }
    let checked = match target {
        EditTarget::EnvFile => Document::load(&path).map(|_| ()),
        EditTarget::Config => Config::load(&path).map(|_| ()),
    };
    checked.map_err(|e| {
        let hint = match target {
            EditTarget::Config => "run `envref edit --config` again to fix it",
            EditTarget::EnvFile => "run `envref edit` again (with the same flags) to fix it",
        };
        Error::parse(format!(
            "{} was saved, but it is not valid:\n{}",
            path.display(),
            e
        ))
        .with_source(e)
        .with_hint(hint)
    })?;
    Ok(0)
}

/// The file to open and what it is: `FILE`, `--config`, `--local`, `-P`, else the env file.
fn choose_file(g: &Global, a: &EditArgs) -> Result<(PathBuf, EditTarget)> {
    Ok(match &a.file {
        Some(f) => (
            if f.is_absolute() {
                f.clone()
            } else {
                g.dir().join(f)
            },
            EditTarget::EnvFile,
        ),
        // A broken .envref.yaml is what `edit --config` is for: find it, do not load it.
        None if a.config => {
            let file = find_config(&g.dir()).ok_or_else(|| {
                Error::not_found(format!(
                    "no {CONFIG_FILE} found in {} or any parent directory",
                    g.dir().display()
                ))
                .with_hint("run `envref init` in the project's root to create one")
            })?;
            (file, EditTarget::Config)
        }
        None => {
            let config = load_config(g)?;
            if a.local {
                (config.root.join(&config.local_file), EditTarget::EnvFile)
            } else if let Some(p) = &a.profile {
                check_profile_name(p).map_err(|m| Error::usage(format!("profile {p}: {m}")))?;
                (config.profile_file(p), EditTarget::EnvFile)
            } else {
                (config.root.join(&config.env_file), EditTarget::EnvFile)
            }
        }
    })
}

/// Open `path` in $VISUAL / $EDITOR and wait; an error unless the editor exits 0.
fn run_editor(path: &Path) -> Result<()> {
    let var = |name: &str| std::env::var(name).ok();
    let argv = editor::command(var("VISUAL").as_deref(), var("EDITOR").as_deref())?;
    let (program, args) = argv.split_first().expect("never empty");
    let status = std::process::Command::new(program)
        .args(args)
        .arg(path)
        .status()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::program(format!("editor not found: {program}"))
                    .with_source(e)
                    .with_hint("set $VISUAL or $EDITOR to an installed editor, e.g. EDITOR=nano")
            } else {
                Error::program(format!(
                    "cannot run the editor {program}: {}",
                    envref_core::error::io_reason(&e)
                ))
                .with_source(e)
            }
        })?;
    if !status.success() {
        let how = status.code().map_or_else(
            || "was killed by a signal".to_string(),
            |c| format!("exited with status {c}"),
        );
        return Err(Error::program(format!("editor {program} {how}")));
    }
    Ok(())
}
