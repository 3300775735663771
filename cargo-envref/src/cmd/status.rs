//! `envref status`: does every reference resolve (profile scope first, as `resolve` does)?
//! Each missing one comes with the command that stores it. Exit 0 when all resolve.

use std::fmt::Write as _;

use clap::Args;
use envref_core::health::{self, Status};
use envref_core::{Error, Result};

use super::{build_backends, display_path, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Output format: text or json
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
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
    if a.format == "json" {
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
    let _ = writeln!(
        o,
        "Project:  {} ({})",
        s.project,
        display_path(root, &s.config_file)
    );
    let _ = writeln!(o, "Profile:  {}", s.profile.as_deref().unwrap_or("(none)"));
    let _ = writeln!(o, "Files:");
    for f in &s.files {
        let _ = writeln!(
            o,
            "  {:<8} {} ({})",
            if f.present { "ok" } else { "missing" },
            display_path(root, &f.path),
            f.role
        );
    }
    let _ = writeln!(
        o,
        "Keys:     {} ({} config, {} secret)",
        s.keys.total, s.keys.config, s.keys.secret
    );
    let resolved = s.secrets.iter().filter(|x| x.resolved).count();
    let _ = writeln!(o, "Secrets:  {resolved} of {} resolved", s.secrets.len());
    let w = s.secrets.iter().map(|x| x.key.len()).max().unwrap_or(0);
    for x in &s.secrets {
        let used = x.variables.join(", ");
        if x.resolved {
            let from = format!(
                "{} ({})",
                x.backend.as_deref().unwrap_or("?"),
                x.stored_as.as_deref().unwrap_or("?")
            );
            let _ = writeln!(o, "  ok       {:<w$}  {from}  used by {used}", x.key);
        } else {
            let _ = writeln!(o, "  missing  {:<w$}  used by {used}", x.key);
            for r in &x.reasons {
                let _ = writeln!(o, "           {r}");
            }
            if let Some(fix) = &x.fix {
                let _ = writeln!(o, "           fix: {fix}");
            }
        }
    }
    if named.is_empty() {
        let _ = writeln!(
            o,
            "Trust:    not needed (the config names no program of its own)"
        );
    } else {
        let _ = writeln!(
            o,
            "Trust:    allowed (`envref allow --revoke` withdraws it) to run:"
        );
        for n in named {
            let _ = writeln!(o, "  {n}");
        }
    }
    let _ = writeln!(o, "Backends:");
    for b in &s.backends {
        let _ = writeln!(
            o,
            "  {:<8} {} ({}): {}",
            if b.available { "ok" } else { "down" },
            b.name,
            b.kind,
            b.detail
        );
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
    o
}
