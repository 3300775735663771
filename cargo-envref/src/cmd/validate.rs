//! `envref validate`: the project's keys against `.env.example` (missing and extra keys) and
//! `.env.schema.json` (typed rules). Any error exits 1.

use std::path::{Path, PathBuf};

use clap::Args;
use envref_core::dotenv::Document;
use envref_core::validate::{self, Problem, Schema};
use envref_core::{Error, Result};

use super::{display_path, open_project, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Schema of typed rules (default: .env.schema.json in the project root, if present)
    #[arg(short, long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Example file listing every expected key (default: .env.example in the project root, if present)
    #[arg(short, long, value_name = "FILE")]
    pub example: Option<PathBuf>,
    /// CI mode: one `path:line:col: KEY: message` line per error (GitHub annotations under
    /// GitHub Actions), nothing on success
    #[arg(long)]
    pub ci: bool,
}

pub fn run(g: &Global, a: ValidateArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    let root = project.config.root.clone();
    let (example_path, schema_path) = references(g, &root, &a)?;
    let example = example_path.as_deref().map(Document::load).transpose()?;
    let schema = schema_path.as_deref().map(Schema::load).transpose()?;
    let report = validate::validate(&project.merged, example.as_ref(), schema.as_ref());

    let github = a.ci && std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
    for p in report.problems() {
        if github {
            write_stdout(&format!("{}\n", annotation(&root, p)))?;
        }
        ui::error(&Error::check(describe(&root, p)));
    }
    let against: Vec<String> = [example_path.as_deref(), schema_path.as_deref()]
        .into_iter()
        .flatten()
        .map(|p| shown(&root, p))
        .collect();
    let against = against.join(" and ");
    let n = report.error_count();
    if n > 0 {
        let (missing, extra, invalid) = (
            report.missing.len(),
            report.extra.len(),
            report.invalid.len(),
        );
        let mut e = Error::check(format!(
            "validation failed: {n} error(s) ({missing} missing, {extra} extra, {invalid} invalid) against {against}"
        ));
        if !a.ci {
            e = e.with_hint("set the missing keys, add extra keys to .env.example (or remove them), and fix the values");
        }
        ui::error(&e);
        return Ok(1);
    }
    if !a.ci {
        for key in &report.unchecked_secrets {
            ui::verbose(&format!(
                "{key}: type not checked (its value is a secret, resolved only at run time)"
            ));
        }
        ui::info(&format!(
            "ok: {} key(s) valid against {against}",
            report.keys_checked
        ));
    }
    Ok(0)
}

/// `--example` and `--schema` (relative to the current directory), else `.env.example` and
/// `.env.schema.json` in the project root when they exist; an error when there is neither.
fn references(
    g: &Global,
    root: &Path,
    a: &ValidateArgs,
) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    let given = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            g.dir().join(p)
        }
    };
    let default = |name: &str| Some(root.join(name)).filter(|p| p.is_file());
    let example = a
        .example
        .as_ref()
        .map(given)
        .or_else(|| default(".env.example"));
    let schema = a
        .schema
        .as_ref()
        .map(given)
        .or_else(|| default(".env.schema.json"));
    if example.is_none() && schema.is_none() {
        return Err(Error::not_found("nothing to validate against: no .env.example and no .env.schema.json in the project root")
            .with_hint("create .env.example (every expected key) or .env.schema.json, or pass --example/--schema"));
    }
    Ok((example, schema))
}

fn shown(root: &Path, p: &Path) -> String {
    display_path(root, p)
}

fn describe(root: &Path, p: &Problem) -> String {
    match &p.location {
        Some(l) => format!(
            "{}:{}: {}: {}",
            shown(root, &l.path),
            l.pos,
            p.key,
            p.message
        ),
        None => format!("{}: {}", p.key, p.message),
    }
}

/// A GitHub Actions workflow command, so the error shows on the file's line in the PR.
fn annotation(root: &Path, p: &Problem) -> String {
    let msg = format!("{}: {}", p.key, p.message)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    match &p.location {
        Some(l) => format!(
            "::error file={},line={},col={}::{msg}",
            shown(root, &l.path),
            l.pos.line,
            l.pos.col
        ),
        None => format!("::error::{msg}"),
    }
}
