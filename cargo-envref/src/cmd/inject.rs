//! `envref inject -i config.tpl [-o config]`: render a template's `{{ ref://… }}` tags with
//! the resolved values (envref-core's `inject`). All or nothing; the output file is written
//! atomically with mode 0600.

use std::path::PathBuf;

use clap::Args;
use envref_core::inject::Template;
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
    let input = g.path(&a.input);
    let text = std::fs::read_to_string(&input).map_err(|e| Error::io(&input, e))?;
    let template = Template::parse(&input, &text)?;
    let rendered = envref_core::inject::render_with_project(&template, &input, &project, || {
        build_backends(&project.config)
    });
    let rendered = rendered?;
    print_warnings(&rendered.warnings);
    match &a.output {
        Some(out) => {
            let out = g.path(out);
            envref_core::atomic::write_private(&out, rendered.text.expose_secret().as_bytes())?;
            ui::info(&format!(
                "wrote {} ({} tag(s) from {})",
                out.display(),
                rendered.tags,
                input.display()
            ));
        }
        None => write_stdout(rendered.text.expose_secret())?,
    }
    Ok(0)
}
