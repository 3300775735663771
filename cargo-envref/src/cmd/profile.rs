//! `envref profile list|use|create|diff|export`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use envref_core::atomic::write_atomic;
use envref_core::config::Config;
use envref_core::config_edit::ConfigEditor;
use envref_core::output;
use envref_core::profile;
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{display_path, load_config, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Subcommand, Debug)]
#[command(defer = true)] // built only when invoked (start-up)
pub enum ProfileCommand {
    /// List profiles: registered under `profiles:` and `.env.<name>` files (* = in effect)
    List,
    /// Set `active_profile` in .envref.yaml (or remove it with --clear)
    Use {
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        name: Option<String>,
        /// Remove `active_profile`: no profile unless -P or ENVREF_PROFILE says so
        #[arg(long)]
        clear: bool,
    },
    /// Create a profile's env file (.env.<name>)
    Create(CreateArgs),
    /// Show how two profiles' environments differ (references as written, not resolved)
    Diff {
        a: String,
        b: String,
        /// plain (`- only in A`, `+ only in B`, `~ changed`) or json
        #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
        format: OutputFormat,
    },
    /// Print a profile's merged environment (references as written, not resolved)
    Export {
        name: String,
        /// Output format
        #[arg(long, default_value = "json", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::VARIABLES))]
        format: OutputFormat,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Start from a copy of this file (path relative to the current directory)
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Also add the profile under `profiles:` in .envref.yaml
    #[arg(long)]
    pub register: bool,
    /// The env file to create, relative to the project root (default .env.<name>)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<String>,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
}

pub fn run(g: &Global, c: ProfileCommand) -> Result<i32> {
    let config = load_config(g)?;
    match c {
        ProfileCommand::List => list(&config)?,
        ProfileCommand::Use { name, clear } => use_profile(&config, name, clear)?,
        ProfileCommand::Create(a) => create(g, &config, a)?,
        ProfileCommand::Diff { a, b, format } => diff(&config, &a, &b, format)?,
        ProfileCommand::Export { name, format } => {
            profile::require(&config, &name)?;
            let vars = evaluated(&config, &name)?;
            write_stdout(&output::render(&vars, format.variables())?)?;
        }
    }
    Ok(0)
}

fn list(config: &Config) -> Result<()> {
    let effective = config.select_profile(None)?;
    let all = profile::list(config)?;
    if all.is_empty() {
        ui::info("no profiles found");
        ui::hint("create one with `envref profile create <name>`");
        return Ok(());
    }
    let w = all.iter().map(|p| p.name.len()).max().unwrap_or(0).max(12);
    let mut out = String::new();
    for p in &all {
        let mark = if effective.as_deref() == Some(p.name.as_str()) {
            "*"
        } else {
            " "
        };
        let status = match (p.registered, p.file_exists) {
            (true, true) => "config, file",
            (true, false) => "config, no file",
            _ => "file",
        };
        let file = display_path(&config.root, &p.file);
        out.push_str(&format!("{mark} {:w$}  {file} ({status})\n", p.name));
    }
    write_stdout(&out)
}

fn use_profile(config: &Config, name: Option<String>, clear: bool) -> Result<()> {
    let editor = ConfigEditor::open(&config.file)?;
    if clear {
        editor.set_active_profile(None)?.write()?;
        ui::info("cleared active_profile");
    } else {
        let name = name.expect("clap requires NAME without --clear");
        profile::require(config, &name)?;
        editor.set_active_profile(Some(&name))?.write()?;
        ui::info(&format!("active profile: {name}"));
    }
    let env = envref_core::config::PROFILE_ENV;
    if let Some(p) = std::env::var(env).ok().filter(|s| !s.is_empty()) {
        ui::warn(&format!(
            "{env} is set to {p} and takes precedence over active_profile"
        ));
    }
    Ok(())
}

fn diff(config: &Config, a: &str, b: &str, format: OutputFormat) -> Result<()> {
    profile::require(config, a)?;
    profile::require(config, b)?;
    let va = evaluated(config, a)?;
    let vb = evaluated(config, b)?;
    let entries = profile::diff(&va, &vb);
    let out = if format == OutputFormat::Json {
        profile::render_diff_json(&entries)
    } else {
        profile::render_diff_plain(&entries)
    };
    write_stdout(&out)?;
    if entries.is_empty() {
        ui::info(&format!(
            "profiles {a} and {b} are identical ({} keys)",
            va.len()
        ));
    } else {
        ui::info(&profile::summary(&entries, a, b));
    }
    Ok(())
}

/// The profile's environment with references as written; interpolation errors fail.
fn evaluated(
    config: &envref_core::config::Config,
    name: &str,
) -> Result<Vec<envref_core::evaluate::Var>> {
    let (merged, ev) = profile::evaluate_literal(config, name)?;
    print_warnings(merged.warnings());
    print_warnings(&ev.warnings);
    let errors: Vec<String> = ev.failures.iter().map(|(_, f)| f.to_string()).collect();
    if !errors.is_empty() {
        return Err(Error::unresolved(format!(
            "profile {name}: {}",
            errors.join("\n")
        )));
    }
    Ok(ev.vars)
}

fn create(g: &Global, config: &envref_core::config::Config, a: CreateArgs) -> Result<()> {
    envref_core::config::check_profile_name(&a.name)
        .map_err(|m| Error::usage(format!("cannot create profile {}: {m}", a.name)))?;
    let rel = match &a.env_file {
        Some(f) if std::path::Path::new(f).is_absolute() => {
            return Err(Error::usage(format!(
                "--env-file {f}: must be relative to the project root"
            )))
        }
        Some(f) => f.clone(),
        None => display_path(&config.root, &config.profile_file(&a.name)),
    };
    let target = config.root.join(&rel);
    if target.exists() && !a.force {
        return Err(Error::usage(format!(
            "{} already exists",
            display_path(&config.root, &target)
        ))
        .with_hint("pass --force to overwrite it, or `envref profile use` to switch to it"));
    }
    let content = match &a.from {
        Some(from) => {
            let path = if from.is_absolute() {
                from.clone()
            } else {
                g.dir().join(from)
            };
            std::fs::read(&path).map_err(|e| Error::io(&path, e))?
        }
        None => profile::file_template(config, &a.name).into_bytes(),
    };
    // Check the config edit before writing anything, so a refused edit leaves no file behind.
    let pending = if a.register {
        let pending = ConfigEditor::open(&config.file)?.register_profile(&a.name, &rel)?;
        if pending.is_none() {
            ui::warn(&format!(
                "profile {} is already registered in {}",
                a.name,
                display_path(&config.root, &config.file)
            ));
        }
        pending
    } else {
        None
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(&target, &content, Some(0o644))?;
    ui::info(&format!("created {}", display_path(&config.root, &target)));
    if let Some(p) = pending {
        p.write()?;
        ui::info(&format!(
            "registered profile {} in {}",
            a.name,
            display_path(&config.root, &config.file)
        ));
    }
    Ok(())
}
