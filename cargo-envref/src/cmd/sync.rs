//! `envref sync push|pull`: the project's secrets, age-encrypted to the team, in a file that
//! is committed with the code (default `.envref.secrets.age`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use envref_core::config::Config;
use envref_core::crypto::parse_recipient;
use envref_core::layers::write_atomic;
use envref_core::sync::{
    read_identity_file, read_recipients, remember_team, team_change, teams_file, Bundle,
    TeamChange, DEFAULT_FILE, IDENTITY_ENV,
};
use envref_core::{Error, Result};

use super::{choose_backend, display_path, load_config, print_warnings};
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
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
    /// Your age identity file: authenticates the file as yours to each recipient (default
    /// $AGE_IDENTITY; without either the file is unsigned)
    #[arg(short, long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Encrypt to the team even if its keys changed since you last synced, without asking
    #[arg(short, long)]
    pub yes: bool,
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
    /// Overwrite secrets that already exist in the backend with another value
    #[arg(long)]
    pub force: bool,
    /// Store without asking (scripts): review what the file holds first
    #[arg(short, long)]
    pub yes: bool,
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

/// The identity file: `--identity`, else `$AGE_IDENTITY`; relative to the current directory.
fn identity_file(g: &Global, given: Option<&PathBuf>) -> Option<PathBuf> {
    let p = given.cloned().or_else(|| {
        std::env::var_os(IDENTITY_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })?;
    Some(if p.is_absolute() { p } else { g.dir().join(p) })
}

pub fn run(g: &Global, c: SyncCommand) -> Result<i32> {
    let config = load_config(g)?;
    match c {
        SyncCommand::Push(a) => {
            // (who, key): team members by name, other keys by where they came from.
            let mut recipients = Vec::new();
            if a.recipients.to_team {
                if config.team.is_empty() {
                    return Err(Error::new("--to-team: no team members in .envref.yaml")
                        .with_hint(
                            "add them with `envref team add <name> <age1…>`, or pass --to age1…",
                        ));
                }
                for m in &config.team {
                    let key = parse_recipient(&m.public_key)
                        .map_err(|e| e.context(format!("team member {}", m.name)))?;
                    recipients.push((m.name.clone(), key));
                }
            }
            for key in &a.recipients.to {
                recipients.push((
                    "--to".into(),
                    parse_recipient(key).map_err(|e| e.context(format!("--to {key}")))?,
                ));
            }
            for f in &a.recipients.to_file {
                let path = if f.is_absolute() {
                    f.clone()
                } else {
                    g.dir().join(f)
                };
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let keys = read_recipients(&text).map_err(|e| e.context(path.display()))?;
                if keys.is_empty() {
                    return Err(Error::new(format!(
                        "{}: no public keys in the file",
                        path.display()
                    )));
                }
                recipients.extend(
                    keys.into_iter()
                        .map(|k| (display_path(&config.root, &path), k)),
                );
            }
            let mut seen = std::collections::HashSet::new();
            recipients.retain(|(_, r)| seen.insert(r.to_string()));
            let signer = match identity_file(g, a.identity.as_ref()) {
                Some(path) => Some(read_identity_file(&path)?.swap_remove(0)),
                None => None,
            };
            if a.recipients.to_team && warn_on_team_change(&config)?.changed() {
                confirm("Encrypt the project's secrets to the team's keys?", a.yes)?;
            }
            let backend = choose_backend(&config, a.backend.as_deref())?;
            let (bundle, warnings) = Bundle::collect(backend.as_ref(), &config.project)?;
            print_warnings(&warnings);
            if bundle.secrets.is_empty() {
                return Err(Error::new(format!("no secrets under {}/ in backend {}", config.project, backend.name()))
                    .with_hint("store some first (`envref secret set <key>`), or pick another backend with --backend"));
            }
            let keys: Vec<_> = recipients.iter().map(|(_, k)| k.clone()).collect();
            let armored = bundle.seal(&keys, signer.as_ref())?;
            let out = sync_file(g, &config.root, a.output.as_ref());
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            write_atomic(&out, armored.as_bytes(), Some(0o644))?;
            if a.recipients.to_team {
                remember_team(&config.root, &config.project, &config.team)?;
            }
            for k in bundle.secrets.keys() {
                ui::verbose(&format!("  {k}"));
            }
            let n = bundle.secrets.len();
            ui::info(&format!(
                "pushed {n} secret{} from backend {} to {}, encrypted to {} recipient{}:",
                plural(n),
                backend.name(),
                display_path(&config.root, &out),
                recipients.len(),
                plural(recipients.len())
            ));
            for (who, key) in &recipients {
                ui::info(&format!("  {who}  {key}"));
            }
            match signer.map(|id| id.to_public().to_string()) {
                Some(me) => {
                    ui::info(&format!("authenticated as {me}"));
                    if !config.team.iter().any(|m| m.public_key.trim() == me) {
                        ui::warn(&format!("{me} is not under `team:` in .envref.yaml, so teammates will not trust it as a sender"));
                    }
                }
                None => {
                    ui::info(&format!("unsigned: pass --identity (or set {IDENTITY_ENV}) so teammates can tell the file comes from you"))
                }
            }
        }
        SyncCommand::Pull(a) => {
            let identity = identity_file(g, a.identity.as_ref()).ok_or_else(|| {
                Error::new("no identity file given").with_hint(format!(
                    "pass --identity key.txt (an `age-keygen` file), or set {IDENTITY_ENV}"
                ))
            })?;
            let identities = read_identity_file(&identity)?;
            let file = sync_file(g, &config.root, a.file.as_ref());
            let shown = display_path(&config.root, &file);
            let data = std::fs::read(&file).map_err(|e| {
                let err = Error::io(&file, e);
                if a.file.is_none() {
                    err.with_hint(
                        "a teammate creates it with `envref sync push --to-team` and commits it",
                    )
                } else {
                    err
                }
            })?;
            let bundle = Bundle::open(&data, &identities).map_err(|e| e.context(&shown))?;
            let sender = bundle
                .verified_sender(&identities)
                .map_err(|e| e.context(&shown))?;
            let backend = choose_backend(&config, a.backend.as_deref())?;
            let plan = bundle.plan(backend.as_ref(), &config.project, a.force)?;
            // age does not sign: anyone can encrypt a file to your key, so show what it would
            // store (names only) and let the user say yes.
            let list = |label: &str, keys: &[String]| {
                if !keys.is_empty() {
                    ui::info(&format!("  {label} ({}): {}", keys.len(), keys.join(", ")));
                }
            };
            if plan.writes() {
                ui::info(&format!(
                    "{shown} would store into backend {}:",
                    backend.name()
                ));
                list("add", &plan.add);
                list("change", &plan.change);
            }
            let team = warn_on_team_change(&config)?;
            match (&sender, sender.as_deref().and_then(|k| team.trusted(&config.team, k))) {
                (Some(k), Some(m)) => ui::info(&format!("{shown} is authenticated as coming from {} ({k}), a team key", m.name)),
                (Some(k), None) => ui::warn(&format!(
                    "{shown} is authenticated as coming from {k}, which is not a team key you have synced with; check with your team"
                )),
                (None, _) if plan.writes() => ui::warn(&format!(
                    "{shown} is not signed: anyone who can commit could have written it; check the keys above with whoever pushed it"
                )),
                (None, _) => {}
            }
            if plan.writes() || team.changed() {
                confirm(
                    &format!("Store these secrets in backend {}?", backend.name()),
                    a.yes,
                )?;
            }
            bundle.store(backend.as_ref(), &config.project, &plan)?;
            remember_team(&config.root, &config.project, &config.team)?;
            ui::info(&format!(
                "pulled {} secret{} from {shown} into backend {} ({} added, {} changed, {} unchanged, {} kept)",
                bundle.secrets.len(),
                plural(bundle.secrets.len()),
                backend.name(),
                plan.add.len(),
                plan.change.len(),
                plan.unchanged.len(),
                plan.keep.len()
            ));
            if !plan.keep.is_empty() {
                ui::info(&format!(
                    "hint: {} differ from backend {} and kept their values there ({}); pass --force to overwrite them",
                    plan.keep.len(),
                    backend.name(),
                    plan.keep.join(", ")
                ));
            }
        }
    }
    Ok(0)
}

/// Warn loudly when the team's keys differ from the ones remembered the last time this user
/// synced the project (on first use, just say they are now remembered).
fn warn_on_team_change(config: &Config) -> Result<TeamChange> {
    let change = team_change(&config.root, &config.team)?;
    if change.first_use && !config.team.is_empty() {
        ui::info(&format!(
            "first sync of this project here: remembering its {} team key{} in {}",
            config.team.len(),
            plural(config.team.len()),
            teams_file()?.display()
        ));
    }
    if change.changed() {
        ui::warn(
            "THE TEAM'S KEYS CHANGED since you last synced this project (`team:` in .envref.yaml):",
        );
        for (name, key) in &change.added {
            ui::warn(&format!("  added:   {name}  {key}"));
        }
        for (name, key) in &change.removed {
            ui::warn(&format!("  removed: {name}  {key}"));
        }
        ui::warn("anyone who can commit can edit `team:`; confirm this change with your team before you go on");
    }
    Ok(change)
}

/// `--yes`, else a y/N on the terminal; with neither, refuse instead of hanging.
fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !ui::interactive() {
        return Err(Error::new(
            "nothing was written: this needs a confirmation, and there is no terminal to ask on",
        )
        .with_hint("review the lines above, then run the command again with --yes"));
    }
    if !ui::confirm(question)? {
        return Err(Error::new("cancelled; nothing was written"));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
