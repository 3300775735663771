//! `envref sync push|pull`: the project's secrets, age-encrypted to the team, in a file that
//! is committed with the code (default `.envref.secrets.age`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use envref_core::backend::vault::parse_identities;
use envref_core::backend::vault::parse_recipient;
use envref_core::layers::write_atomic;
use envref_core::sync::{read_recipients, Bundle, DEFAULT_FILE, IDENTITY_ENV};
use envref_core::{Error, Result};

use super::{choose_backend, display_path, load_config, print_warnings};
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
pub enum SyncCommand {
    /// Encrypt every secret under <project>/ in a backend to the recipients, into a file to commit
    Push(PushArgs),
    /// Decrypt a sync file with your identity and store its secrets in a backend
    Pull(PullArgs),
}

#[derive(Args, Debug)]
#[group(id = "recipients", required = true, multiple = true)]
pub struct Recipients {
    /// Encrypt to every public key under `team:` in .envref.yaml
    #[arg(long)]
    pub to_team: bool,
    /// Encrypt to this age public key (repeatable)
    #[arg(long, value_name = "AGE1…")]
    pub to: Vec<String>,
    /// Encrypt to the public keys in this file, one per line (repeatable)
    #[arg(long, value_name = "FILE")]
    pub to_file: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    pub recipients: Recipients,
    /// The file to write (default: .envref.secrets.age in the project root)
    #[arg(short, long, visible_alias = "file", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Backend to read from, by its configured name (default: the first in .envref.yaml)
    #[arg(short, long)]
    pub backend: Option<String>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Your age identity file (`age-keygen -o key.txt`); default $AGE_IDENTITY
    #[arg(short, long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// The sync file to read (default: .envref.secrets.age in the project root)
    #[arg(short, long, visible_alias = "input", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Backend to store into, by its configured name (default: the first in .envref.yaml)
    #[arg(short, long)]
    pub backend: Option<String>,
    /// Overwrite secrets that already exist in the backend
    #[arg(long)]
    pub force: bool,
}

/// A path the user typed is relative to the current directory; the default file lives in the
/// project root.
fn sync_file(g: &Global, root: &Path, given: Option<&PathBuf>) -> PathBuf {
    match given {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => g.dir().join(p),
        None => root.join(DEFAULT_FILE),
    }
}

pub fn run(g: &Global, c: SyncCommand) -> Result<i32> {
    let config = load_config(g)?;
    match c {
        SyncCommand::Push(a) => {
            let mut recipients = Vec::new();
            if a.recipients.to_team {
                if config.team.is_empty() {
                    return Err(Error::new("--to-team: no team members in .envref.yaml")
                        .with_hint("add them with `envref team add <name> <age1…>`, or pass --to age1…"));
                }
                for m in &config.team {
                    recipients.push(parse_recipient(&m.public_key).map_err(|e| e.context(format!("team member {}", m.name)))?);
                }
            }
            for key in &a.recipients.to {
                recipients.push(parse_recipient(key).map_err(|e| e.context(format!("--to {key}")))?);
            }
            for f in &a.recipients.to_file {
                let path = if f.is_absolute() { f.clone() } else { g.dir().join(f) };
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let keys = read_recipients(&text).map_err(|e| e.context(path.display()))?;
                if keys.is_empty() {
                    return Err(Error::new(format!("{}: no public keys in the file", path.display())));
                }
                recipients.extend(keys);
            }
            let mut seen = std::collections::HashSet::new();
            recipients.retain(|r| seen.insert(r.to_string()));
            let backend = choose_backend(&config, a.backend.as_deref())?;
            let (bundle, warnings) = Bundle::collect(backend.as_ref(), &config.project)?;
            print_warnings(&warnings);
            if bundle.secrets.is_empty() {
                return Err(Error::new(format!("no secrets under {}/ in backend {}", config.project, backend.name()))
                    .with_hint("store some first (`envref secret set <key>`), or pick another backend with --backend"));
            }
            let armored = bundle.seal(&recipients)?;
            let out = sync_file(g, &config.root, a.output.as_ref());
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            write_atomic(&out, armored.as_bytes(), Some(0o644))?;
            for k in bundle.secrets.keys() {
                ui::verbose(&format!("  {k}"));
            }
            let n = bundle.secrets.len();
            ui::info(&format!(
                "pushed {n} secret{} from backend {} to {} (encrypted to {} recipient{})",
                plural(n),
                backend.name(),
                display_path(&config.root, &out),
                recipients.len(),
                plural(recipients.len())
            ));
        }
        SyncCommand::Pull(a) => {
            let identity = match a.identity.clone().or_else(|| std::env::var_os(IDENTITY_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
            {
                Some(p) if p.is_absolute() => p,
                Some(p) => g.dir().join(p),
                None => {
                    return Err(Error::new("no identity file given")
                        .with_hint(format!("pass --identity key.txt (an `age-keygen` file), or set {IDENTITY_ENV}")))
                }
            };
            let text = std::fs::read_to_string(&identity).map_err(|e| Error::io(&identity, e))?;
            let identities = parse_identities(&text).map_err(|e| e.context(identity.display()))?;
            drop(text);
            let file = sync_file(g, &config.root, a.file.as_ref());
            let data = std::fs::read(&file).map_err(|e| {
                let err = Error::io(&file, e);
                if a.file.is_none() {
                    err.with_hint("a teammate creates it with `envref sync push --to-team` and commits it")
                } else {
                    err
                }
            })?;
            let bundle = Bundle::open(&data, &identities).map_err(|e| e.context(display_path(&config.root, &file)))?;
            let backend = choose_backend(&config, a.backend.as_deref())?;
            let report = bundle.store(backend.as_ref(), &config.project, a.force)?;
            for k in &report.imported {
                ui::verbose(&format!("  imported {k}"));
            }
            for k in &report.skipped {
                ui::verbose(&format!("  skipped {k} (already in {})", backend.name()));
            }
            ui::info(&format!(
                "pulled {} secret{} from {} into backend {} ({} imported, {} skipped)",
                bundle.secrets.len(),
                plural(bundle.secrets.len()),
                display_path(&config.root, &file),
                backend.name(),
                report.imported.len(),
                report.skipped.len()
            ));
            if !report.skipped.is_empty() {
                ui::info(&format!(
                    "hint: {} already existed and kept their values ({}); pass --force to overwrite them",
                    report.skipped.len(),
                    report.skipped.join(", ")
                ));
            }
        }
    }
    Ok(0)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
