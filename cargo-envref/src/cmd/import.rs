//! `envref import`: move plaintext values from a `.env` into a backend, rewriting each line as
//! a reference (envref_core::import does the work; this parses flags and renders the plan).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use envref_core::backend::Namespace;
use envref_core::config::Config;
use envref_core::dotenv::Document;
use envref_core::import::{self, Existing, Import, Plan, Selection};
use envref_core::reference::CHAIN;
use envref_core::scope::SecretScope;
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{choose_backend, display_path, load_config, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
#[command(after_help = "\
Each moved value is stored as <project>/<key> (<project>/<profile>/<key> with -P), <key> being
the variable's name in lower case, and its line becomes KEY=ref://secrets/<key> (ref://<backend>/<key>
when --backend names a backend other than the first). Every other byte of the file is kept.

All or nothing: the secrets are stored first, then the file is replaced atomically; on any failure
the secrets this run stored are deleted (and values replaced with --force put back).

Examples:
  envref import --detect --dry-run        # what audit flags, and where it would go
  envref import --detect                  # move it
  envref import --keys DB_URL,API_TOKEN --backend vault")]
pub struct ImportArgs {
    /// The env file to rewrite (default: the project's env file, usually .env)
    pub file: Option<PathBuf>,
    /// Backend to store in, by its configured name (default: the first in .envref.yaml)
    #[arg(short, long)]
    pub backend: Option<String>,
    /// Store in this profile's scope (<project>/<profile>/<key>) instead of the project's
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// The variables to move, comma-separated
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "K1,K2",
        conflicts_with = "detect"
    )]
    pub keys: Vec<String>,
    /// Move every value `envref audit` flags as a plaintext secret
    #[arg(long)]
    pub detect: bool,
    /// Replace a different value already stored under a key (default: refuse, change nothing)
    #[arg(short, long)]
    pub force: bool,
    /// Show the plan (values masked) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Output format of the plan
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
    pub format: OutputFormat,
}

pub fn run(g: &Global, a: ImportArgs) -> Result<i32> {
    let config = load_config(g)?;
    let file = match &a.file {
        Some(f) => g.dir().join(f),
        None => config.root.join(&config.env_file),
    };
    let selection = selection(&a, &file)?;
    let scope = open_scope(&config, &a)?;
    let target = reference_target(&config, &scope);
    let imp = Import {
        file: &file,
        selection: &selection,
        target: &target,
        force: a.force,
    };
    let plan = if a.dry_run {
        import::dry_run(&imp, &scope)?
    } else {
        import::run(&imp, &scope)?
    };
    let shown = display_path(&config.root, &file);
    for s in &plan.skipped {
        ui::info(&format!(
            "note: {shown}:{}: {} skipped: {}",
            s.line, s.key, s.reason
        ));
    }
    write_stdout(&render(&plan, &shown, a.format, a.dry_run))?;
    ui::info(&summary(&plan, &shown, a.dry_run));
    Ok(0)
}

/// `--detect` or `--keys`; with neither, an error whose hint names what `--detect` would move.
fn selection(a: &ImportArgs, file: &std::path::Path) -> Result<Selection> {
    let keys: Vec<String> = a.keys.iter().filter(|k| !k.is_empty()).cloned().collect();
    if a.detect {
        return Ok(Selection::Detect);
    }
    if !keys.is_empty() {
        return Ok(Selection::Keys(keys));
    }
    let detected = Document::load(file)
        .map(|doc| import::detect(&doc))
        .unwrap_or_default();
    let hint = match detected.as_slice() {
        [] => "`envref audit` finds nothing to move here; name the keys with --keys".to_string(),
        keys => format!(
            "--detect would move {} (what `envref audit` flags); add --dry-run to see the plan first",
            keys.join(", ")
        ),
    };
    Err(
        Error::usage("envref import: name the values to move with --keys K1,K2, or pass --detect")
            .with_hint(hint),
    )
}

/// The chosen backend in the project's scope, or `-P`'s profile scope. Not the active profile
/// (as `secret set` does): the base file is shared by every profile, so its values belong to all.
fn open_scope(config: &Config, a: &ImportArgs) -> Result<SecretScope> {
    if let Some(p) = &a.profile {
        envref_core::config::check_profile_name(p)
            .map_err(|m| Error::usage(format!("--profile {p:?}: {m}")))?;
    }
    let backend = choose_backend(config, a.backend.as_deref())?;
    Ok(SecretScope::new(
        backend,
        Namespace::new(&config.project, a.profile.clone()),
    ))
}

/// `secrets` when the backend is the chain's first (it answers first), else its own name, so
/// the reference cannot be answered by an earlier backend holding the same key.
fn reference_target(config: &Config, scope: &SecretScope) -> String {
    let name = scope.backend.name();
    match config.backends.first() {
        Some(first) if first.name == name => CHAIN.to_string(),
        _ => name.to_string(),
    }
}

fn render(plan: &Plan, file: &str, format: OutputFormat, dry_run: bool) -> String {
    if format == OutputFormat::Json {
        return render_json(plan, file, dry_run);
    }
    let mut out = String::new();
    for m in &plan.moves {
        let (line, key, reference) = (m.line, &m.key, &m.reference);
        let (stored, preview, note) = (&m.stored_key, &m.preview, existing_note(m.existing));
        let _ = writeln!(
            out,
            "{file}:{line}: {key} -> {reference} (stored as {stored}, value {preview}){note}"
        );
    }
    out
}

fn existing_note(e: Existing) -> &'static str {
    match e {
        Existing::Absent => "",
        Existing::Same => " [already stored with this value]",
        Existing::Different => " [replaces the stored value]",
    }
}

fn existing_code(e: Existing) -> &'static str {
    match e {
        Existing::Absent => "absent",
        Existing::Same => "same",
        Existing::Different => "different",
    }
}

fn render_json(plan: &Plan, file: &str, dry_run: bool) -> String {
    let moves: Vec<serde_json::Value> = plan
        .moves
        .iter()
        .map(|m| {
            serde_json::json!({
                "key": m.key, "line": m.line, "secret_key": m.secret_key,
                "stored_key": m.stored_key, "reference": m.reference, "preview": m.preview,
                "existing": existing_code(m.existing),
            })
        })
        .collect();
    let skipped: Vec<serde_json::Value> = plan
        .skipped
        .iter()
        .map(|s| serde_json::json!({ "key": s.key, "line": s.line, "reason": s.reason }))
        .collect();
    let doc = serde_json::json!({
        "file": file, "backend": plan.backend, "dry_run": dry_run,
        "moved": moves, "skipped": skipped,
    });
    format!("{}\n", serde_json::to_string_pretty(&doc).expect("json"))
}

fn summary(plan: &Plan, file: &str, dry_run: bool) -> String {
    let (n, backend) = (plan.moves.len(), &plan.backend);
    match (n, dry_run) {
        (0, _) => format!("nothing to import from {file}"),
        (_, true) => format!(
            "dry run: would move {n} value(s) from {file} into backend {backend}; nothing was changed"
        ),
        (_, false) => format!(
            "moved {n} value(s) from {file} into backend {backend}; rotate any that were ever committed"
        ),
    }
}
