//! `set`, `get`, `list`: the committed env files, without touching any backend (except
//! `get --resolve`).

use clap::Args;
use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::output;
use envref_core::{Error, Result};

use super::format::OutputFormat;
use super::{open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct SetArgs {
    /// KEY=VALUE; VALUE is .env text, so ${VAR} in it interpolates (use $$ for a literal $)
    #[arg(value_name = "KEY=VALUE", required = true)]
    pub assignments: Vec<String>,
    /// Write to the local file (.env.local) instead of .env
    #[arg(long)]
    pub local: bool,
    /// Write to the env file of this profile (.env.<profile>)
    #[arg(short = 'P', long, conflicts_with = "local")]
    pub profile: Option<String>,
}

pub fn set(g: &Global, a: SetArgs) -> Result<i32> {
    let config = super::load_config(g)?;
    let path = if a.local {
        config.root.join(&config.local_file)
    } else if let Some(p) = &a.profile {
        envref_core::config::check_profile_name(p)
            .map_err(|m| Error::usage(format!("profile {p}: {m}")))?;
        config.profile_file(p)
    } else {
        config.root.join(&config.env_file)
    };
    let mut pairs = Vec::with_capacity(a.assignments.len());
    for (n, assignment) in a.assignments.iter().enumerate() {
        // Not echoed: a pasted secret without `KEY=` would end up in the terminal or CI log.
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(Error::usage(format!("argument {} is not KEY=VALUE", n + 1))
                .with_hint("write it as KEY=VALUE, e.g. `envref set APP_PORT=8080`"));
        };
        envref_core::dotenv::check_key(key.trim())?;
        pairs.push((key.trim(), value));
    }
    // Under the edit lock: a concurrent `set` on the same file waits instead of being lost.
    Document::edit(&path, |doc| {
        pairs
            .iter()
            .try_for_each(|(key, value)| doc.set(key, value))
    })?;
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    ui::info(&format!(
        "set {} in {}",
        keys.join(", "),
        super::display_path(&config.root, &path)
    ));
    Ok(0)
}

#[derive(Args, Debug)]
pub struct GetArgs {
    pub key: String,
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Resolve references through the backends instead of printing them
    #[arg(long)]
    pub resolve: bool,
}

pub fn get(g: &Global, a: GetArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    if project.merged.get(&a.key).is_none() {
        let mut e = Error::not_found(format!(
            "{} is not defined in {}",
            a.key,
            files_list(&project)
        ));
        if let Some(s) = envref_core::suggest::closest(&a.key, project.merged.keys()) {
            e = e.with_hint(format!("did you mean {s}?"));
        }
        return Err(e);
    }
    let value = if a.resolve {
        let resolved = envref_core::resolve::resolve_keys(
            &project,
            &[&a.key],
            || super::build_backends(&project.config),
            false,
        )?;
        print_warnings(&resolved.warnings);
        if let Some(f) = resolved.failures.iter().find(|f| f.key == a.key) {
            return Err(Error::unresolved(f.to_string()));
        }
        resolved
            .vars
            .into_iter()
            .find(|v| *v.key == *a.key)
            .map(|v| v.value)
    } else {
        // No backend is asked here, so a profile known only by its scoped secrets cannot be
        // told from a typo: say so rather than quietly showing the project's values.
        if let Some(Err(e)) = project
            .profile
            .as_deref()
            .map(|p| envref_core::profile::require(&project.config, p))
        {
            ui::warn(&format!(
                "{}{}",
                e.message(),
                e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
            ));
        }
        let ev = evaluate(&project.merged, RefMode::Literal, false);
        print_warnings(project.merged.warnings());
        print_warnings(&ev.warnings);
        if let Some((_, f)) = ev.failures.iter().find(|(k, _)| *k == a.key) {
            return Err(Error::unresolved(f.to_string()));
        }
        ev.get(&a.key).map(|v| v.value.clone())
    };
    write_stdout(&format!("{}\n", value.unwrap_or_default()))?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Show reference URIs instead of ref://*** (never resolved values)
    // `--show-secrets` was its first name, but it never shows secrets; kept as a hidden alias.
    #[arg(long, alias = "show-secrets")]
    pub show_refs: bool,
    /// Output format
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::VARIABLES))]
    pub format: OutputFormat,
}

pub fn list(g: &Global, a: ListArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    let mode = if a.show_refs {
        RefMode::Literal
    } else {
        RefMode::Masked
    };
    let ev = evaluate(&project.merged, mode, false);
    print_warnings(project.merged.warnings());
    print_warnings(&ev.warnings);
    // Interpolation errors (`${X:?…}`, cycles); references are never resolved here.
    if !ev.failures.is_empty() {
        let failures: Vec<_> = ev.failures.iter().map(|(_, f)| f).collect();
        return Err(Error::unresolved(envref_core::dotenv::report_capped(
            &failures,
        )));
    }
    write_stdout(&output::render(&ev.vars, a.format.variables())?)?;
    Ok(0)
}

pub fn files_list(project: &envref_core::project::Project) -> String {
    project
        .paths
        .all()
        .iter()
        .map(|p| super::display_path(&project.config.root, p))
        .collect::<Vec<_>>()
        .join(", ")
}
