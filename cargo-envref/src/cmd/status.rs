//! `envref status`: does every reference resolve (profile scope first, as `resolve` does)?
//! Each missing one comes with the command that stores it. Exit 0 when all resolve.

use std::fmt::Write as _;

use clap::Args;
use envref_core::health::{self, Status};
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{build_backends, display_path, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Output format
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
    pub format: OutputFormat,
}

pub fn run(g: &Global, a: StatusArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    let backends = build_backends(&project.config)?;
    let profile_warning = match &project.profile {
        Some(p) => envref_core::profile::check_selected(&project.config, p, &backends)?,
        None => None,
    };
    print_warnings(profile_warning.as_slice());
    let status = health::status(&project, &backends);
    print_warnings(&status.warnings);
    if a.format == OutputFormat::Json {
        write_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&status).expect("status serializes")
        ))?;
    } else {
        let named = envref_core::trust::named(
            &project.config,
            &project.config.backends.iter().collect::<Vec<_>>(),
        );
        write_stdout(&render(&status, &project.config.root, &named))?;
    }
    let missing = status.missing().count();
    if status.ok {
        ui::info("status: ok");
        return Ok(0);
    }
    let mut parts = Vec::new();
    if missing > 0 {
        parts.push(format!(
            "{missing} of {} secret(s) missing",
            status.secrets.len()
        ));
    }
    if !status.problems.is_empty() {
        parts.push(format!("{} variable(s) with errors", status.problems.len()));
    }
    let mut e = Error::check(format!("status: {}", parts.join(", ")));
    if missing > 0 {
        e = e.with_hint(
            "run the `fix:` command of each missing secret (or `envref onboard` for all of them)",
        );
    }
    ui::error(&e);
    Ok(1)
}

/// `named`: the programs this (allowed) config names, for the `Trust:` line.
fn render(s: &Status, root: &std::path::Path, named: &[envref_core::trust::Named]) -> String {
    let mut o = String::new();
    render_project(&mut o, s, root);
    render_secrets(&mut o, s);
    render_trust(&mut o, named);
    render_backends(&mut o, s);
    o
}

fn render_project(o: &mut String, s: &Status, root: &std::path::Path) {
    let shown = display_path(root, &s.config_file);
    let _ = writeln!(o, "Project:  {} ({shown})", s.project);
    let _ = writeln!(o, "Profile:  {}", s.profile.as_deref().unwrap_or("(none)"));
    let _ = writeln!(o, "Files:");
    for f in &s.files {
        let state = if f.present { "ok" } else { "missing" };
        let _ = writeln!(
            o,
            "  {state:<8} {} ({})",
            display_path(root, &f.path),
            f.role
        );
    }
    let k = &s.keys;
    let _ = writeln!(
        o,
        "Keys:     {} ({} config, {} secret)",
        k.total, k.config, k.secret
    );
}

fn render_secrets(o: &mut String, s: &Status) {
    let resolved = s.secrets.iter().filter(|x| x.resolved).count();
    let optional = s.secrets.iter().filter(|x| x.optional).count();
    let also = if optional > 0 {
        format!(", {optional} optional")
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "Secrets:  {resolved} of {} resolved{also}",
        s.secrets.len()
    );
    let w = s.secrets.iter().map(|x| x.key.len()).max().unwrap_or(0);
    for x in &s.secrets {
        let used = x.variables.join(", ");
        if x.resolved {
            let backend = x.backend.as_deref().unwrap_or("?");
            let stored_as = x.stored_as.as_deref().unwrap_or("?");
            let _ = writeln!(
                o,
                "  ok       {:<w$}  {backend} ({stored_as})  used by {used}",
                x.key
            );
            continue;
        }
        let state = if x.optional { "optional" } else { "missing" };
        let _ = writeln!(o, "  {state:<8} {:<w$}  used by {used}", x.key);
        for r in &x.reasons {
            let _ = writeln!(o, "           {r}");
        }
        if x.optional {
            let value = if x.has_default {
                "its default"
            } else {
                "an empty value"
            };
            let _ = writeln!(
                o,
                "           not a failure: declared \"required\": false in .env.schema.json, so it gets {value}"
            );
        }
        if let Some(fix) = &x.fix {
            // The description after `#`: the line still pastes into a shell as it is.
            let about = x.description.as_deref().map(|d| format!("  # {d}"));
            let _ = writeln!(o, "           fix: {fix}{}", about.unwrap_or_default());
        }
    }
}

fn render_trust(o: &mut String, named: &[envref_core::trust::Named]) {
    if named.is_empty() {
        let _ = writeln!(
            o,
            "Trust:    not needed (the config names no program of its own)"
        );
        return;
    }
    let _ = writeln!(
        o,
        "Trust:    allowed (`envref allow --revoke` withdraws it) to run:"
    );
    for n in named {
        let _ = writeln!(o, "  {n}");
    }
}

fn render_backends(o: &mut String, s: &Status) {
    let _ = writeln!(o, "Backends:");
    for b in &s.backends {
        let state = if b.available { "ok" } else { "down" };
        let _ = writeln!(o, "  {state:<8} {} ({}): {}", b.name, b.kind, b.detail);
        if let Some(h) = &b.hint {
            let _ = writeln!(o, "           hint: {h}");
        }
    }
    if !s.problems.is_empty() {
        let _ = writeln!(o, "Problems:");
        for p in &s.problems {
            let _ = writeln!(o, "  {p}");
        }
    }
}
