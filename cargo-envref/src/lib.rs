//! The `envref` command line. Commands are thin: parse flags, call envref-core, print.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

mod cmd;
mod ui;

pub use envref_core::{Error, Result};

#[derive(Parser, Debug)]
#[command(
    name = "envref",
    version,
    about = "Keep secrets out of .env files: commit ref://secrets/<key> references, resolve them at run time",
    long_about = None,
    propagate_version = true,
    after_help = "Quick start:\n  envref init --project my-app\n  envref vault init\n  envref secret set api_key --backend vault\n  echo 'API_KEY=ref://secrets/api_key' >> .env\n  envref run -- printenv API_KEY"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Run as if started in DIR (the project is found from there upward)
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Explain what is happening on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never colour output (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The current directory when there is no `-C`, read once at start-up: an unreadable one
    /// is an error there, not a made-up `.` later.
    #[arg(skip)]
    cwd: Option<PathBuf>,
}

impl Global {
    /// A path given on the command line: relative to `-C DIR` when that is given, else as is
    /// (so messages show it as the user typed it).
    pub fn path(&self, p: &Path) -> PathBuf {
        match &self.dir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p.to_path_buf(),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| self.cwd.clone())
            .expect("parse_and_run reads the current directory")
    }

    fn read_cwd(&mut self) -> Result<()> {
        if self.dir.is_none() {
            let cwd = std::env::current_dir()
                .map_err(|e| Error::io_while("cannot read the current directory", e))?;
            self.cwd = Some(cwd);
        }
        Ok(())
    }
}

#[derive(Subcommand, Debug)]
// Only the invoked subcommand's arguments are built: building all of them was most of start-up.
#[command(defer = true)]
pub enum Command {
    /// Create .envref.yaml, .env and .env.local, and ignore .env.local in git
    Init(cmd::init::InitArgs),
    /// Set KEY=VALUE in .env (or .env.local), changing only that line
    Set(cmd::env::SetArgs),
    /// Print one variable (references are shown, not resolved, unless --resolve)
    Get(cmd::env::GetArgs),
    /// List variables; references are masked unless --show-refs
    List(cmd::env::ListArgs),
    /// Resolve every reference and print the environment
    Resolve(cmd::resolve::ResolveArgs),
    /// Run a command with the resolved environment (secret values masked in its output)
    Run(cmd::resolve::RunArgs),
    /// Render a template's {{ ref://… }} tags into a file (for configs that cannot read env vars)
    Inject(cmd::inject::InjectArgs),
    /// Manage secrets in a backend
    #[command(subcommand)]
    Secret(cmd::secret::SecretCommand),
    /// Manage the local encrypted vault
    #[command(subcommand)]
    Vault(cmd::vault::VaultCommand),
    /// Show the effective configuration
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Print a shell completion script
    Completion(cmd::config::CompletionArgs),
    /// What the project needs and what is missing, with the command that fixes each
    Status(cmd::status::StatusArgs),
    /// Check the setup: env files, git ignores, plaintext secrets, backends, vault, direnv
    Doctor(cmd::doctor::DoctorArgs),
    /// Check the keys against .env.example and the values against .env.schema.json
    Validate(cmd::validate::ValidateArgs),
    /// Find plaintext secrets in committed env files
    Audit(cmd::audit::AuditArgs),
    /// Move plaintext values from .env into a backend, rewriting each line as a reference
    Import(cmd::import::ImportArgs),
    /// Open an env file or .envref.yaml in $VISUAL / $EDITOR
    Edit(cmd::edit::EditArgs),
    /// Profiles: list, switch (active_profile), create, diff, export
    #[command(subcommand)]
    Profile(cmd::profile::ProfileCommand),
    /// The team's age public keys (the recipients of `sync push --to-team`)
    #[command(subcommand)]
    Team(cmd::team::TeamCommand),
    /// Share the project's secrets with the team through an age-encrypted file in git
    #[command(subcommand)]
    Sync(cmd::sync::SyncCommand),
    /// Enter every secret the project needs that no backend has yet (hidden prompts)
    Onboard(cmd::onboard::OnboardArgs),
    /// Trust this project's .envref.yaml to run the programs it names (like `direnv allow`)
    Allow(cmd::allow::AllowArgs),
}

/// Entry point of the `cargo-envref` binary (`cargo envref …`); returns the exit code.
pub fn main_cargo(args: impl IntoIterator<Item = OsString>) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // cargo runs this binary as the target runner that hands secrets to programs (see cmd::cargo).
    if args.get(1).map(OsString::as_os_str)
        == Some(std::ffi::OsStr::new(
            envref_core::cargo_runner::RUNNER_SUBCOMMAND,
        ))
    {
        return cmd::cargo::runner(&args[2..]);
    }
    if let Some(code) = session_subcommand(&args) {
        return code;
    }
    // cargo runs `cargo-envref envref <args…>`; drop the subcommand name it repeats.
    if cmd::cargo::is_cargo_invocation(args.get(1).map(OsString::as_os_str)) {
        args.remove(1);
    }
    parse_and_run(
        args,
        |c: &mut cmd::cargo::CargoCli| &mut c.global,
        cmd::cargo::run,
    )
}

/// Entry point of the `envref` binary; returns the exit code.
pub fn main_envref(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    // The vault agent `vault unlock` starts: hidden, and before clap (it runs for hours).
    #[cfg(unix)]
    if args.get(1).map(OsString::as_os_str)
        == Some(std::ffi::OsStr::new(envref_core::agent::AGENT_SUBCOMMAND))
    {
        return cmd::agent::run();
    }
    if let Some(code) = session_subcommand(&args) {
        return code;
    }
    parse_and_run(args, |c: &mut Cli| &mut c.global, cmd::dispatch)
}

/// A masked run starts its program through this binary on a pseudo-terminal (see cmd::mask).
fn session_subcommand(args: &[OsString]) -> Option<i32> {
    #[cfg(unix)]
    if args.get(1).map(OsString::as_os_str)
        == Some(std::ffi::OsStr::new(envref_core::relay::SESSION_SUBCOMMAND))
    {
        return Some(cmd::mask::session(&args[2..]));
    }
    None
}

/// Parse (usage errors exit 2, help and version 0), set up messages, run, map errors to 1.
fn parse_and_run<C: Parser>(
    args: impl IntoIterator<Item = OsString>,
    global: fn(&mut C) -> &mut Global,
    run: fn(C) -> Result<i32>,
) -> i32 {
    let mut cli = match C::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return code;
        }
    };
    let g = global(&mut cli);
    ui::init(g.quiet, g.verbose, g.no_color);
    if let Err(e) = g.read_cwd() {
        ui::error(&e);
        return 1;
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            ui::error(&e);
            1
        }
    }
}
