//! `config show` and `completion`.

use clap::{Args, CommandFactory, Subcommand};
use envref_core::config::Config;
use envref_core::Result;

use super::format::OutputFormat;
use super::write_stdout;
use crate::{Cli, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum ConfigCommand {
    /// Print the effective configuration (tokens, passphrases and URL credentials as ***)
    Show {
        /// Output format
        #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
        format: OutputFormat,
    },
}

pub fn run(g: &Global, c: ConfigCommand) -> Result<i32> {
    let ConfigCommand::Show { format } = c;
    let config = super::load_config(g)?;
    let out = match format {
        OutputFormat::Json => show_json(&config),
        _ => show_text(&config),
    };
    write_stdout(&out)?;
    Ok(0)
}

fn show_json(config: &Config) -> String {
    let backends: Vec<serde_json::Value> = config
        .backends
        .iter()
        .map(|b| serde_json::json!({"name": b.name, "type": b.kind, "config": b.display_options()}))
        .collect();
    let profiles: serde_json::Map<String, serde_json::Value> = config
        .profiles
        .keys()
        .map(|p| {
            (
                p.clone(),
                config.profile_file(p).display().to_string().into(),
            )
        })
        .collect();
    let doc = serde_json::json!({
        "config_file": config.file.display().to_string(),
        "global_config_file": config.global_file.as_ref().map(|p| p.display().to_string()),
        "project": config.project,
        "env_file": config.env_file,
        "local_file": config.local_file,
        "active_profile": config.active_profile,
        "profiles": profiles,
        "backends": backends,
        "backends_default": !config.backends_configured,
    });
    format!("{}\n", serde_json::to_string_pretty(&doc).expect("json"))
}

fn show_text(config: &Config) -> String {
    let mut out = String::new();
    out += &format!("config:          {}\n", config.file.display());
    if let Some(gf) = &config.global_file {
        out += &format!("global config:   {}\n", gf.display());
    }
    out += &format!("project:         {}\n", config.project);
    out += &format!("env_file:        {}\n", config.env_file);
    out += &format!("local_file:      {}\n", config.local_file);
    out += &format!(
        "active_profile:  {}\n",
        config.active_profile.as_deref().unwrap_or("(none)")
    );
    if !config.profiles.is_empty() {
        out += "profiles:\n";
        for p in config.profiles.keys() {
            out += &format!("  {p}: {}\n", config.profile_file(p).display());
        }
    }
    out += if config.backends_configured {
        "backends (in order):\n"
    } else {
        "backends (default):\n"
    };
    for b in &config.backends {
        out += &format!("  - {} (type {})\n", b.name, b.kind);
        for (k, v) in b.display_options() {
            out += &format!("      {k}: {v}\n");
        }
    }
    out
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    pub shell: clap_complete::Shell,
}

pub fn completion(a: CompletionArgs) -> Result<i32> {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "envref", &mut buf);
    write_stdout(&String::from_utf8_lossy(&buf))?;
    Ok(0)
}
