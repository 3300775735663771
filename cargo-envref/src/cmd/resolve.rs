//! `resolve` and `run`: the main job. All or nothing by default: when a reference does not
//! resolve, nothing goes to stdout and no child starts.

use std::ffi::OsString;

use clap::Args;
use envref_core::config::Precedence;
use envref_core::evaluate::Var;
use envref_core::output::{self, Format};
use envref_core::project::Project;
use envref_core::reference::Reference;
use envref_core::resolve::{resolve_project, Resolved};
use envref_core::{Error, Result};
use secrecy::SecretString;

use super::format::OutputFormat;
use super::{build_backends, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct ResolveArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Output format
    #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::RESOLVE))]
    pub format: OutputFormat,
    /// Output for direnv's .envrc (same as --format shell)
    #[arg(long, conflicts_with = "format")]
    pub direnv: bool,
    /// Print what resolved even when something did not (still exits 1)
    #[arg(long)]
    pub partial: bool,
    /// Treat ${VAR} of an unset variable as an error
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub precedence: PrecedenceArg,
}

// `--precedence`, shared by `resolve`, `run` and `cargo envref` (a `///` here would become
// the commands' about text).
#[derive(Args, Debug, Clone, Default)]
pub struct PrecedenceArg {
    /// For a variable both exported and in the env files: the env `files` win, or the exported
    /// `environment` value [default: `precedence:` in .envref.yaml, else files]
    #[arg(long, value_name = "WHICH", value_parser = precedence_parser())]
    pub precedence: Option<Precedence>,
}

fn precedence_parser() -> impl clap::builder::TypedValueParser<Value = Precedence> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Precedence::NAMES)
        .map(|s| Precedence::parse(&s).expect("a possible value"))
}

impl PrecedenceArg {
    /// Let the flag (else the config) decide between the env files and the environment.
    pub fn apply(&self, project: &mut Project) {
        print_warnings(&Precedence::apply_to(project, self.precedence));
    }
}

#[derive(Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile)
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Treat ${VAR} of an unset variable as an error
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub precedence: PrecedenceArg,
    #[command(flatten)]
    pub mask: super::mask::MaskArgs,
    /// The command and its arguments (after --)
    #[arg(required = true, value_name = "COMMAND", allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

/// Resolve the project, print warnings, and turn failures into one error (unless partial).
pub fn resolve_or_report(
    project: &Project,
    strict: bool,
    partial: bool,
) -> Result<(Resolved, bool)> {
    let resolved = resolve_project(project, || build_backends(&project.config), strict)?;
    print_warnings(&resolved.warnings);
    let Some(err) = resolved.error() else {
        return Ok((resolved, true));
    };
    if partial {
        ui::error(&err);
        return Ok((resolved, false));
    }
    Err(err)
}

pub fn resolve(g: &Global, a: ResolveArgs) -> Result<i32> {
    let mut project = open_project(g, a.profile.as_deref())?;
    a.precedence.apply(&mut project);
    let format = if a.direnv {
        Format::Shell
    } else {
        a.format.variables()
    };
    if format == Format::Github {
        envref_core::github::env_file()?;
    }
    let (resolved, complete) = resolve_or_report(&project, a.strict, a.partial)?;
    // The parsed files are not needed to print; freeing them first lowers peak memory.
    drop(project);
    let text = output::render(&resolved.vars, format)?;
    if format == Format::Github {
        envref_core::github::append_env(&resolved.vars)?;
    }
    write_stdout(&text)?;
    Ok(if complete { 0 } else { 1 })
}

pub fn run(g: &Global, a: RunArgs) -> Result<i32> {
    let mut project = open_project(g, a.profile.as_deref())?;
    a.precedence.apply(&mut project);
    let (resolved, _) = resolve_or_report(&project, a.strict, false)?;
    if a.command.first().is_some_and(is_cargo) && resolved.vars.iter().any(|v| v.secret) {
        ui::warn("cargo passes these secrets on to rustc, build scripts and proc-macros; `cargo envref` gives them only to the programs cargo runs");
    }
    let mask = a.mask.enabled(&project.config);
    let masked = mask.then_some(resolved.reference_values.as_slice());
    exec(&a.command, &resolved.vars, g.dir.as_deref(), masked)
}

/// `cargo`, by path or not (`cargo +nightly …` too: the toolchain is an argument).
fn is_cargo(program: &OsString) -> bool {
    std::path::Path::new(program)
        .file_name()
        .is_some_and(|n| n == "cargo" || n == "cargo.exe")
}

/// Replace this process with `command` (Unix), so signals and the exit status are the
/// child's own. Elsewhere: run it and pass its status through. `dir` (`-C`) is its cwd.
/// With `mask` (the values references resolved to; and a secret long enough to mask), envref
/// stays its parent and relays its output masked instead.
pub fn exec(
    command: &[OsString],
    vars: &[Var],
    dir: Option<&std::path::Path>,
    mask: Option<&[(Reference, SecretString)]>,
) -> Result<i32> {
    let (program, args) = command.split_first().ok_or_else(|| {
        Error::usage("no command given").with_hint("envref run -- <command> [args…]")
    })?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    if let Some(d) = dir {
        // "As if started in DIR": shells trust $PWD when it names their cwd.
        let abs = std::path::absolute(d).map_err(|e| Error::io(d, e))?;
        cmd.current_dir(&abs).env("PWD", &abs);
    }
    for v in vars {
        cmd.env(&*v.key, &v.value);
    }
    // After the values: not even a .env line named like it brings the passphrase back.
    envref_core::runner::remove_credentials(&mut cmd);
    let not_found = |e: std::io::Error| super::mask::not_started(&program.to_string_lossy(), e);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if let Some(reference_values) = mask {
            if let Some(code) = super::mask::run_masked(&mut cmd, vars, reference_values)? {
                return Ok(code);
            }
        }
        let e = cmd.exec();
        let code = super::mask::exec_failure_code(&e);
        ui::error(&not_found(e));
        Ok(code)
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(not_found)?;
        Ok(status.code().unwrap_or(1))
    }
}
