//! `envref sync push|pull`: the project's secrets, age-encrypted to the team, in a file that
//! is committed with the code (default `.envref.secrets.age`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use envref_core::atomic::write_atomic;
use envref_core::config::Config;
use envref_core::sync::{
    assemble_recipients, read_identity_file, remember_team, team_change, teams_file, Bundle,
    NamedRecipient, Plan, TeamChange, DEFAULT_FILE, IDENTITY_ENV,
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
        SyncCommand::Push(a) => push(g, &config, a),
        SyncCommand::Pull(a) => pull(g, &config, a),
    }
}

fn push(g: &Global, config: &Config, a: PushArgs) -> Result<i32> {
    let recipients = recipients(g, config, &a.recipients)?;
    let signer = match identity_file(g, a.identity.as_ref()) {
        Some(path) => Some(read_identity_file(&path)?.swap_remove(0)),
        None => None,
    };
    if a.recipients.to_team && warn_on_team_change(config)?.changed() {
        confirm("Encrypt the project's secrets to the team's keys?", a.yes)?;
    }
    let backend = choose_backend(config, a.backend.as_deref())?;
    let (bundle, warnings) = Bundle::collect(backend.as_ref(), &config.project)?;
    print_warnings(&warnings);
    if bundle.secrets.is_empty() {
        return Err(Error::not_found(format!(
            "no secrets under {}/ in backend {}",
            config.project,
            backend.name()
        ))
        .with_hint(
            "store some first (`envref secret set <key>`), or pick another backend with --backend",
        ));
    }
    let keys: Vec<_> = recipients.iter().map(|r| r.key.clone()).collect();
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
    let (n, to) = (bundle.secrets.len(), recipients.len());
    ui::info(&format!(
        "pushed {n} secret{} from backend {} to {}, encrypted to {to} recipient{}:",
        plural(n),
        backend.name(),
        display_path(&config.root, &out),
        plural(to)
    ));
    for r in &recipients {
        ui::info(&format!("  {}  {}", r.who, r.key));
    }
    report_signer(config, signer.map(|id| id.to_public().to_string()));
    Ok(0)
}

/// `--to-team`, `--to` and `--to-file` (relative to the current directory) as core assembles them.
fn recipients(g: &Global, config: &Config, r: &Recipients) -> Result<Vec<NamedRecipient>> {
    let files: Vec<(PathBuf, String)> = r
        .to_file
        .iter()
        .map(|f| {
            let path = if f.is_absolute() {
                f.clone()
            } else {
                g.dir().join(f)
            };
            let shown = display_path(&config.root, &path);
            (path, shown)
        })
        .collect();
    let team = r.to_team.then_some(config.team.as_slice());
    assemble_recipients(team, &r.to, &files)
}

fn report_signer(config: &Config, signer: Option<String>) {
    let Some(me) = signer else {
        return ui::info(&format!("unsigned: pass --identity (or set {IDENTITY_ENV}) so teammates can tell the file comes from you"));
    };
    ui::info(&format!("authenticated as {me}"));
    if !config.team.iter().any(|m| m.public_key.trim() == me) {
        ui::warn(&format!(
            "{me} is not under `team:` in .envref.yaml, so teammates will not trust it as a sender"
        ));
    }
}

fn pull(g: &Global, config: &Config, a: PullArgs) -> Result<i32> {
    let identity = identity_file(g, a.identity.as_ref()).ok_or_else(|| {
        Error::usage("no identity file given").with_hint(format!(
            "pass --identity key.txt (an `age-keygen` file), or set {IDENTITY_ENV}"
        ))
    })?;
    let identities = read_identity_file(&identity)?;
    let file = sync_file(g, &config.root, a.file.as_ref());
    let shown = display_path(&config.root, &file);
    let data = std::fs::read(&file).map_err(|e| {
        let err = Error::io(&file, e);
        match a.file {
            None => err.with_hint(
                "a teammate creates it with `envref sync push --to-team` and commits it",
            ),
            Some(_) => err,
        }
    })?;
    let bundle = Bundle::open(&data, &identities).map_err(|e| e.context(&shown))?;
    let sender = bundle
        .verified_sender(&identities)
        .map_err(|e| e.context(&shown))?;
    let backend = choose_backend(config, a.backend.as_deref())?;
    let plan = bundle.plan(backend.as_ref(), &config.project, a.force)?;
    show_plan(&shown, backend.name(), &plan);
    let team = warn_on_team_change(config)?;
    report_sender(config, &shown, sender.as_deref(), &team, plan.writes());
    if plan.writes() || team.changed() {
        confirm(
            &format!("Store these secrets in backend {}?", backend.name()),
            a.yes,
        )?;
    }
    bundle.store(backend.as_ref(), &config.project, &plan)?;
    remember_team(&config.root, &config.project, &config.team)?;
    let n = bundle.secrets.len();
    ui::info(&format!(
        "pulled {n} secret{} from {shown} into backend {} ({} added, {} changed, {} unchanged, {} kept)",
        plural(n),
        backend.name(),
        plan.add.len(),
        plan.change.len(),
        plan.unchanged.len(),
        plan.keep.len()
    ));
    if !plan.keep.is_empty() {
        ui::hint(&format!(
            "{} differ from backend {} and kept their values there ({}); pass --force to overwrite them",
            plan.keep.len(),
            backend.name(),
            plan.keep.join(", ")
        ));
    }
    Ok(0)
}

/// age does not sign: anyone can encrypt a file to your key, so show what it would store
/// (names only) before the user says yes.
fn show_plan(shown: &str, backend: &str, plan: &Plan) {
    if !plan.writes() {
        return;
    }
    ui::info(&format!("{shown} would store into backend {backend}:"));
    for (label, keys) in [("add", &plan.add), ("change", &plan.change)] {
        if !keys.is_empty() {
            ui::info(&format!("  {label} ({}): {}", keys.len(), keys.join(", ")));
        }
    }
}

fn report_sender(
    config: &Config,
    shown: &str,
    sender: Option<&str>,
    team: &TeamChange,
    writes: bool,
) {
    match (sender, sender.and_then(|k| team.trusted(&config.team, k))) {
        (Some(k), Some(m)) => ui::info(&format!("{shown} is authenticated as coming from {} ({k}), a team key", m.name)),
        (Some(k), None) => ui::warn(&format!(
            "{shown} is authenticated as coming from {k}, which is not a team key you have synced with; check with your team"
        )),
        (None, _) if writes => ui::warn(&format!(
            "{shown} is not signed: anyone who can commit could have written it; check the keys above with whoever pushed it"
        )),
        (None, _) => {}
    }
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
        return Err(Error::usage(
            "nothing was written: this needs a confirmation, and there is no terminal to ask on",
        )
        .with_hint("review the lines above, then run the command again with --yes"));
    }
    if !ui::confirm(question)? {
        return Err(Error::not_allowed("cancelled; nothing was written"));
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
