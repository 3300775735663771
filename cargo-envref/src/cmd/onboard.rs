//! `envref onboard`: ask for every secret the project references that no backend has (a
//! hidden prompt each), store it, and finish with the project resolving.

use clap::Args;
use envref_core::backend::Backend;
use envref_core::onboard::{MissingSecret, OnboardPlan};
use envref_core::project::Project;
use envref_core::resolve;
use envref_core::{Error, Result};
use secrecy::SecretString;

use super::{build_backends, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct OnboardArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile); secrets are stored in its scope
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Store ref://secrets/… values in this backend (default: the first in .envref.yaml)
    #[arg(short, long)]
    pub backend: Option<String>,
    /// Only list what would be asked for
    #[arg(long)]
    pub dry_run: bool,
}

/// Without a terminal: list what is missing; fail unless all of it is optional.
fn report_without_terminal(
    plan: &OnboardPlan,
    backends: &[Box<dyn envref_core::backend::Backend>],
    scope: &str,
) -> Result<i32> {
    for m in &plan.missing {
        ui::info(&format!("  missing: {}", m.describe(backends)));
    }
    if plan.required_missing().next().is_none() {
        write_stdout(&ok_line(scope, plan.refs.len()))?;
        return Ok(0);
    }
    let n = plan.missing.len();
    Err(Error::usage(format!(
        "{n} secret{} missing, and there is no terminal to ask on",
        plural(n)
    ))
    .with_hint(
        "run `envref onboard` in a terminal, or store each with `envref secret set <key> --stdin`",
    ))
}

pub fn run(g: &Global, a: OnboardArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    print_warnings(project.merged.warnings());
    let config = &project.config;
    if let Some(b) = &a.backend {
        config.require_backend(b)?;
    }
    let backends = if resolve::plan(&project).is_empty() {
        Vec::new()
    } else {
        build_backends(config)?
    };
    let plan = OnboardPlan::new(&project, &backends, a.backend.as_deref());
    print_warnings(&plan.warnings);
    let scope = scope_label(&project);
    let (n, missing) = (plan.missing.len(), plural(plan.missing.len()));
    if plan.missing.is_empty() {
        write_stdout(&ok_line(&scope, plan.refs.len()))?;
        return Ok(0);
    }
    if a.dry_run {
        let out: String = plan
            .missing
            .iter()
            .map(|m| format!("{}\n", m.describe(&backends)))
            .collect();
        write_stdout(&out)?;
        ui::info(&format!(
            "{n} secret{missing} missing ({scope}); `envref onboard` in a terminal asks for each"
        ));
        return Ok(0);
    }
    if !ui::interactive() {
        return report_without_terminal(&plan, &backends, &scope);
    }
    ui::info(&format!(
        "{scope}: {n} secret{missing} missing; enter each (input is hidden, empty skips)"
    ));
    let (stored, skipped) = ask_and_store(&plan.missing, &backends)?;
    ui::info(&format!("stored {stored}, skipped {skipped}"));
    let left = plan.unresolved(&project, &backends);
    if left.is_empty() {
        write_stdout(&ok_line(&scope, plan.refs.len()))?;
        return Ok(0);
    }
    let list: Vec<String> = left.iter().map(|r| r.to_string()).collect();
    Err(Error::unresolved(format!(
        "{} of {} references still do not resolve: {}",
        list.len(),
        plan.refs.len(),
        list.join(", ")
    ))
    .with_hint("run `envref onboard` again to enter them"))
}

/// A hidden prompt for each missing secret; returns how many were stored and skipped.
fn ask_and_store(
    missing: &[MissingSecret],
    backends: &[Box<dyn Backend>],
) -> Result<(usize, usize)> {
    let (mut stored, mut skipped) = (0usize, 0usize);
    for (i, m) in missing.iter().enumerate() {
        let Some(bi) = m.backend else {
            let (r, target) = (&m.reference, &m.reference.target);
            ui::warn(&format!(
                "skipping {r}: no backend named {target} is configured"
            ));
            skipped += 1;
            continue;
        };
        let backend: &dyn Backend = backends[bi].as_ref();
        let prompt = format!(
            "[{}/{}] {} ({} -> {} in {}): ",
            i + 1,
            missing.len(),
            m.label(),
            m.reference,
            m.key,
            backend.name()
        );
        let value = rpassword::prompt_password(prompt)
            .map_err(|e| Error::io_while("cannot read the value", e))?;
        if value.is_empty() {
            ui::info("  skipped");
            skipped += 1;
            continue;
        }
        match backend.set(&m.key, &SecretString::from(value)) {
            Ok(()) => {
                ui::info(&format!("  stored {} in {}", m.key, backend.name()));
                stored += 1;
            }
            Err(e) => {
                ui::error(&e.into());
                skipped += 1;
            }
        }
    }
    Ok((stored, skipped))
}

/// `project NAME[, profile NAME]`, for messages.
fn scope_label(project: &Project) -> String {
    match &project.profile {
        Some(p) => format!("project {}, profile {p}", project.config.project),
        None => format!("project {}", project.config.project),
    }
}

/// The closing line, like `status`'s: every reference resolves.
fn ok_line(scope: &str, n: usize) -> String {
    format!("OK: {scope}: {n}/{n} reference{} resolve\n", plural(n))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
