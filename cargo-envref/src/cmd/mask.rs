//! `--mask` / `--no-mask` for `run` and `cargo envref`: the program's output with every secret
//! value concealed (envref-core's `mask` and `relay`), and the hidden session subcommand the
//! relay starts programs through on a pseudo-terminal.

use std::ffi::OsString;
use std::process::Command;

use clap::Args;
use envref_core::config::Config;
use envref_core::evaluate::Var;
use envref_core::mask::{self, MARKER, MIN_LENGTH};
use envref_core::reference::Reference;
use envref_core::{Error, Result};
use secrecy::SecretString;

use crate::ui;

#[derive(Args, Debug, Clone)]
pub struct MaskArgs {
    /// Conceal secret values in the program's output (the default; `mask: false` in
    /// .envref.yaml turns it off for the project)
    #[arg(long, overrides_with = "no_mask")]
    pub mask: bool,
    /// Let the program's output through untouched; envref execs the program
    #[arg(long, overrides_with = "mask")]
    pub no_mask: bool,
}

impl MaskArgs {
    /// The flags win over the project's `mask:` setting.
    pub fn enabled(&self, config: &Config) -> bool {
        if self.no_mask {
            false
        } else {
            self.mask || config.mask
        }
    }
}

/// Run `command` with `vars`' secrets masked in its output and return its status; `Ok(None)`
/// when no secret is long enough to mask (the caller then runs it unmasked, as usual).
pub fn run_masked(
    command: &mut Command,
    vars: &[Var],
    reference_values: &[(Reference, SecretString)],
) -> Result<Option<i32>> {
    let plan = mask::plan(vars, reference_values);
    if !plan.too_short.is_empty() {
        ui::info(&format!(
            "not masking {} in the output: shorter than {MIN_LENGTH} characters",
            plan.too_short.join(", ")
        ));
    }
    let Some(secrets) = plan.secrets else {
        return Ok(None);
    };
    ui::verbose(&format!(
        "secret values in the output are shown as {MARKER}"
    ));
    let program = command.get_program().to_string_lossy().into_owned();
    match envref_core::relay::run_masked(command, &secrets) {
        Ok(code) => Ok(Some(code)),
        Err(e) => {
            let code = exec_failure_code(&e);
            ui::error(&not_started(&program, e));
            Ok(Some(code))
        }
    }
}

/// Why a program did not start, for the user.
pub fn not_started(program: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::program(format!("command not found: {program}"))
            .with_source(e)
            .with_hint("check the spelling and that it is on PATH")
    } else {
        let reason = envref_core::error::io_reason(&e);
        Error::program(format!("cannot run {program}: {reason}")).with_source(e)
    }
}

/// A shell's status for a program that could not be run: 127 not found, 126 not executable.
pub fn exec_failure_code(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// `envref __envref-session <program> <args…>`: lead a new session on the pseudo-terminal the
/// relay gave as stdout, then become the program.
pub fn session(args: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = args.split_first() else {
        ui::error(&Error::usage("the session subcommand needs a program"));
        return 2;
    };
    if let Err(e) = envref_core::relay::become_terminal_leader() {
        ui::warn(&format!(
            "the program does not control its terminal (Ctrl-C may not reach it): {e}"
        ));
    }
    let e = Command::new(program).args(rest).exec();
    let code = exec_failure_code(&e);
    ui::error(&not_started(&program.to_string_lossy(), e));
    code
}
