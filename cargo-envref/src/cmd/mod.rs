//! One module per command. Shared here: opening the project and choosing backends.

use std::path::Path;

use envref_core::backend::{self, Backend, BuildContext};
use envref_core::config::Config;
use envref_core::project::Project;
use envref_core::{Error, Result};

use crate::{ui, Cli, Command, Global};

#[cfg(unix)]
pub mod agent;
pub mod allow;
pub mod audit;
pub mod cargo;
pub mod config;
pub mod doctor;
pub mod edit;
pub mod env;
pub mod format;
pub mod import;
pub mod init;
pub mod inject;
pub mod mask;
pub mod onboard;
pub mod profile;
pub mod resolve;
pub mod secret;
pub mod status;
pub mod sync;
pub mod team;
pub mod validate;
pub mod vault;

pub fn dispatch(cli: Cli) -> Result<i32> {
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, a),
        Command::Set(a) => env::set(g, a),
        Command::Get(a) => env::get(g, a),
        Command::List(a) => env::list(g, a),
        Command::Resolve(a) => resolve::resolve(g, a),
        Command::Run(a) => resolve::run(g, a),
        Command::Inject(a) => inject::run(g, a),
        Command::Secret(c) => secret::run(g, c),
        Command::Vault(c) => vault::run(g, c),
        Command::Config(c) => config::run(g, c),
        Command::Completion(a) => config::completion(a),
        Command::Status(a) => status::run(g, a),
        Command::Doctor(a) => doctor::run(g, a),
        Command::Validate(a) => validate::run(g, a),
        Command::Audit(a) => audit::run(g, a),
        Command::Edit(a) => edit::run(g, a),
        Command::Profile(c) => profile::run(g, c),
        Command::Team(c) => team::run(g, c),
        Command::Sync(c) => sync::run(g, c),
        Command::Onboard(a) => onboard::run(g, a),
        Command::Allow(a) => allow::run(g, a),
        Command::Import(a) => import::run(g, a),
    }
}

/// Open the project for `profile` and print the layers' warnings (duplicate keys).
pub fn open_project(g: &Global, profile: Option<&str>) -> Result<Project> {
    let project = Project::open(&g.dir(), profile)?;
    ui::verbose(&format!(
        "project {} from {}",
        project.config.project,
        project.config.file.display()
    ));
    if let Some(p) = &project.profile {
        ui::verbose(&format!("profile {p}"));
    }
    Ok(project)
}

pub fn load_config(g: &Global) -> Result<Config> {
    Config::discover(&g.dir())
}

pub fn build_context() -> BuildContext {
    BuildContext {
        passphrase: vault::terminal_prompt(),
        in_project_code: false,
    }
}

pub fn build_backends(config: &Config) -> Result<Vec<Box<dyn Backend>>> {
    backend::build_all(config, &build_context())
}

/// The backend `--backend` names, else the first of the chain.
pub fn choose_backend(config: &Config, name: Option<&str>) -> Result<Box<dyn Backend>> {
    let spec = match name {
        Some(n) => config.require_backend(n)?,
        None => config
            .backends
            .first()
            .ok_or_else(|| Error::config("no backends configured"))?,
    };
    backend::build(config, spec, &build_context())
}

pub fn print_warnings(warnings: &[String]) {
    for w in warnings {
        ui::warn(w);
    }
}

pub fn write_stdout(data: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(data.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io_while("cannot write to stdout", e)),
    }
}

/// The file path shown to the user: relative to the project root when inside it.
pub fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
