//! `envref inject -i config.tpl [-o config]`: render a template's `{{ ref://… }}` tags with
//! the resolved values (envref-core's `inject`). All or nothing; the output file is written
//! atomically with mode 0600.

use std::path::{Path, PathBuf};

use clap::Args;
use envref_core::inject::Template;
use envref_core::resolve::lookup;
use envref_core::{Error, Result};
use secrecy::ExposeSecret;

use super::{build_backends, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  envref inject -i config.yml.tpl -o config.yml\n  envref inject -i compose.tpl > /dev/null   # check that every tag resolves\n\nA tag is {{ ref://secrets/<key> }} (blanks inside the braces optional); \\{{ is a literal {{."
)]
pub struct InjectArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// The template
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Write here (atomically, mode 0600) instead of stdout
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(g: &Global, a: InjectArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    let input = relative_to_dir(g, &a.input);
    let text = std::fs::read_to_string(&input).map_err(|e| Error::io(&input, e))?;
    let template = Template::parse(&input, &text)?;
    let mut refs = template.references();
    refs.sort();
    refs.dedup();
    let lookups = if refs.is_empty() {
        Default::default()
    } else {
        lookup(
            &refs,
            &build_backends(&project.config)?,
            &project.namespace(),
        )
    };
    print_warnings(&lookups.warnings);
    let rendered = template.render(&lookups.secrets).map_err(|missing| {
        let lines: Vec<String> = missing
            .iter()
            .map(|(pos, r)| {
                let why = lookups.failures.get(r).map(|w| w.join("; "));
                format!(
                    "  {}:{pos}: {r}: {}",
                    input.display(),
                    why.unwrap_or_else(|| "not found".into())
                )
            })
            .collect();
        let mut hints = lookups.hints.clone();
        hints.push("store a missing secret with `envref secret set <key>`".into());
        Error::new(format!(
            "{} tag(s) could not be resolved, nothing was written:\n{}",
            missing.len(),
            lines.join("\n")
        ))
        .with_hint(hints.join("\n      "))
    })?;
    match &a.output {
        Some(out) => {
            let out = relative_to_dir(g, out);
            write_private(&out, rendered.expose_secret().as_bytes())?;
            ui::info(&format!(
                "wrote {} ({} tag(s) from {})",
                out.display(),
                template.references().len(),
                input.display()
            ));
        }
        None => write_stdout(rendered.expose_secret())?,
    }
    Ok(0)
}

/// Replace `path` atomically with `bytes`, readable by the owner only, even when it existed
/// with a wider mode (narrowed first, so no moment shows the new content to others).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    #[cfg(unix)]
    if let Ok(target) = envref_core::atomic::write_target(path) {
        use std::os::unix::fs::PermissionsExt;
        if target.exists() {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(&target, e))?;
        }
    }
    envref_core::atomic::write_atomic(path, bytes, Some(0o600))
}

/// A path given on the command line, relative to `-C DIR` when one was given.
fn relative_to_dir(g: &Global, p: &Path) -> PathBuf {
    match &g.dir {
        Some(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    }
}
