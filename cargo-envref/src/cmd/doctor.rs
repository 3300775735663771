//! `envref doctor`: is the project set up soundly? Every finding comes with its fix; exit 1
//! when any finding is an error.

use std::fmt::Write as _;

use clap::Args;
use envref_core::health::{self, Severity};
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{build_backends, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Profile whose files to check too (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Output format
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
    pub format: OutputFormat,
}

pub fn run(g: &Global, a: DoctorArgs) -> Result<i32> {
    let findings = health::doctor(&g.dir(), a.profile.as_deref(), build_backends);
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    if a.format == OutputFormat::Json {
        let doc = serde_json::json!({ "ok": errors == 0, "errors": errors, "warnings": warnings, "findings": findings });
        write_stdout(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("json")
        ))?;
    } else {
        let mut o = String::new();
        for f in &findings {
            let label = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let at = f
                .location
                .as_deref()
                .map(|l| format!("{l}: "))
                .unwrap_or_default();
            let mut lines = f.message.lines();
            let _ = writeln!(
                o,
                "{label:<8} [{}] {at}{}",
                f.check,
                lines.next().unwrap_or_default()
            );
            for l in lines {
                let _ = writeln!(o, "           {l}");
            }
            if let Some(fix) = &f.fix {
                let _ = writeln!(o, "         fix: {fix}");
            }
        }
        write_stdout(&o)?;
    }
    if errors > 0 {
        ui::error(&Error::check(format!(
            "doctor: {errors} error(s), {warnings} warning(s)"
        )));
        return Ok(1);
    }
    if warnings > 0 {
        ui::info(&format!("doctor: no errors, {warnings} warning(s)"));
    } else {
        ui::info("doctor: no problems found");
    }
    Ok(0)
}
