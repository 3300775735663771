//! `envref audit`: scan committed env files for values that look like plaintext secrets.
//! Exit 1 when something is found. Values are never printed, only a masked preview.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use envref_core::audit;
use envref_core::config::Config;
use envref_core::dotenv::Document;
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{display_path, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Files to scan (default: the project's committed env files: the env file, profile
    /// files and other .env.<name> files; never the local file)
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
    pub format: OutputFormat,
}

pub fn run(g: &Global, a: AuditArgs) -> Result<i32> {
    let (root, files) = files_to_audit(&g.dir(), &a.files)?;
    let mut findings = Vec::new();
    for f in &files {
        let doc = Document::load(f).map_err(|e| e.context("cannot audit"))?;
        findings.extend(audit::scan(&doc));
    }
    let shown = |p: &std::path::Path| display_path(&root, p);
    let names: Vec<String> = files.iter().map(|f| shown(f)).collect();
    if a.format == OutputFormat::Json {
        write_stdout(&render_json(&findings, &names, shown))?;
    } else {
        let mut o = String::new();
        for f in &findings {
            let (file, line, key) = (shown(&f.path), f.line, &f.key);
            let (reason, preview) = (f.evidence.reason(), &f.preview);
            let _ = writeln!(o, "{file}:{line}: {key}: {reason} ({preview})");
        }
        write_stdout(&o)?;
    }
    if findings.is_empty() {
        let names = if names.is_empty() {
            "(no files)".into()
        } else {
            names.join(", ")
        };
        ui::info(&format!("audit: no plaintext secrets found in {names}"));
        return Ok(0);
    }
    report_failure(&findings);
    Ok(1)
}

/// The files given (relative to `dir`), else the project's committed env files; with the root
/// that paths are shown relative to.
fn files_to_audit(dir: &Path, given: &[PathBuf]) -> Result<(PathBuf, Vec<PathBuf>)> {
    if given.is_empty() {
        let config = Config::discover(dir)?;
        let files = audit::committed_env_files(&config);
        return Ok((config.root, files));
    }
    let files = given.iter().map(|f| {
        if f.is_absolute() {
            f.clone()
        } else {
            dir.join(f)
        }
    });
    Ok((dir.to_path_buf(), files.collect()))
}

fn render_json(
    findings: &[audit::SuspectValue],
    names: &[String],
    shown: impl Fn(&Path) -> String,
) -> String {
    let items: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "file": shown(&f.path), "line": f.line, "key": f.key,
                "kind": f.evidence.code(), "reason": f.evidence.reason(), "preview": f.preview,
            })
        })
        .collect();
    let doc = serde_json::json!({ "files": names, "findings": items });
    format!("{}\n", serde_json::to_string_pretty(&doc).expect("json"))
}

/// One error that counts each sort of finding, with the fix for each.
fn report_failure(findings: &[audit::SuspectValue]) {
    let unresolved = findings
        .iter()
        .filter(|f| matches!(f.evidence, audit::Evidence::Unresolved(_)))
        .count();
    let secrets = findings.len() - unresolved;
    let mut what = Vec::new();
    let mut fixes = Vec::new();
    if secrets > 0 {
        what.push(format!("{secrets} value(s) look like plaintext secrets"));
        fixes.push("store each with `envref secret set <key>` and replace the value with ref://secrets/<key>; rotate any real secret that was committed");
    }
    if unresolved > 0 {
        what.push(format!(
            "{unresolved} value(s) look like references that are not resolved"
        ));
        fixes.push("write ${ref://<backend>/<key>} inside text, or make ref://<backend>/<key> the whole value");
    }
    ui::error(
        &Error::check(format!("audit: {}", what.join(", "))).with_hint(fixes.join("\n      ")),
    );
}
