//! `cargo envref <cargo args…>`: resolve the environment of the package being built, then
//! exec cargo with it. envref's own options come before the cargo subcommand; everything
//! from the subcommand on goes to cargo untouched.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::Parser;
use envref_core::cargo_runner::{self, CargoConfig, Channel, Payload};
use envref_core::config::PROFILE_ENV;
use envref_core::evaluate::Var;
use envref_core::runner::Invocation;
use envref_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};

use crate::{ui, Global};

#[derive(Parser, Debug)]
#[command(
    name = "cargo envref",
    bin_name = "cargo envref",
    version,
    about = "Run a cargo command with the project's envref environment resolved",
    after_help = "Examples:\n  cargo envref run -- --port 8080\n  cargo envref test -p api\n  cargo envref -P staging run --release\n  cargo envref nextest run"
)]
pub struct CargoCli {
    /// Profile (default: $ENVREF_PROFILE, else active_profile); also passed to build scripts
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Treat ${VAR} of an unset variable as an error
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub precedence: super::resolve::PrecedenceArg,
    #[command(flatten)]
    pub mask: super::mask::MaskArgs,
    #[command(flatten)]
    pub global: Global,
    /// The cargo subcommand and its arguments, passed to cargo untouched
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CARGO_ARGS"
    )]
    pub cargo: Vec<OsString>,
}

pub fn run(cli: CargoCli) -> Result<i32> {
    let start = match package_dir(&cli.cargo, cli.global.dir.as_deref())? {
        Some(d) => d,
        None => cli.global.dir(),
    };
    let mut global = cli.global.clone();
    global.dir = Some(start);
    let mut project = super::open_project(&global, cli.profile.as_deref())?;
    cli.precedence.apply(&mut project);
    let (resolved, _) = super::resolve::resolve_or_report(&project, cli.strict, false)?;
    let vars = with_profile_var(resolved.vars, project.profile.as_deref());
    // `-C DIR` means "as if started in DIR", for cargo too.
    let cwd = cli.global.dir();
    let cargo_config = CargoConfig::discover(&cwd)?;
    let host = cargo_runner::host_triple()?;
    let triples = cargo_runner::target_triples(&cli.cargo, &cargo_config, &host);
    let user_runners = user_runners(&cargo_config, &cwd, &triples)?;
    let payload = Payload {
        vars: vars
            .iter()
            .map(|v| (v.key.to_string(), SecretString::from(v.value.clone())))
            .collect(),
        user_runners,
    };
    let channel = Channel::serve(payload)?;
    let exe = runner_exe(&channel)?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let runner = format!(
        "{exe} {} {}",
        cargo_runner::RUNNER_SUBCOMMAND,
        channel.socket().display()
    );
    let mut command = cargo_command(&cargo, &cli.cargo, &cwd, &vars, &triples, &runner);
    let secrets = vars.iter().filter(|v| v.secret).count();
    ui::verbose(&format!(
        "running cargo with {} config variables; {secrets} secrets go only to the programs it runs ({})",
        vars.len() - secrets,
        triples.join(", ")
    ));
    // Masked: cargo's output and that of the programs it runs, which inherit it.
    let masked = if cli.mask.enabled(&project.config) {
        super::mask::run_masked(&mut command, &vars, &resolved.reference_values)?
    } else {
        None
    };
    let code = match masked {
        Some(code) => code,
        None => exit_code(wait_forwarding_signals(command, &cargo)?),
    };
    drop(channel);
    Ok(code)
}

/// `vars` with `ENVREF_PROFILE` set to the profile in effect (or removed without one), so the
/// build scripts, `envref!` and the programs cargo runs read the same profile.
fn with_profile_var(mut vars: Vec<Var>, profile: Option<&str>) -> Vec<Var> {
    vars.retain(|v| &*v.key != PROFILE_ENV);
    if let Some(p) = profile {
        vars.push(Var {
            key: PROFILE_ENV.into(),
            value: p.to_string(),
            secret: false,
        });
    }
    vars
}

/// The path cargo runs as the runner. Cargo splits the variable on whitespace, so a path with
/// blanks is reached through a link inside the channel's private directory.
fn runner_exe(channel: &Channel) -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io_while("cannot find cargo-envref's own path", e))?;
    let text = exe.display().to_string();
    if !text.contains(char::is_whitespace) {
        return Ok(text);
    }
    let link = channel.dir().join("cargo-envref");
    std::os::unix::fs::symlink(&exe, &link).map_err(|e| Error::io(&link, e))?;
    Ok(link.display().to_string())
}

/// Wait for cargo. Ctrl-C reaches cargo from the terminal by itself; SIGTERM and SIGHUP sent to
/// us are passed on, and the runner's interrupt handler removes the channel before we exit.
fn wait_forwarding_signals(
    mut command: std::process::Command,
    cargo: &OsStr,
) -> Result<std::process::ExitStatus> {
    let mut child = command.spawn().map_err(|e| {
        Error::program(format!(
            "cannot run {}: {}",
            cargo.to_string_lossy(),
            envref_core::error::io_reason(&e)
        ))
        .with_hint("is cargo installed? `cargo envref` runs $CARGO, else `cargo` from PATH")
        .with_source(e)
    })?;
    let _forward = envref_core::runner::ForwardSignals::to(child.id());
    child
        .wait()
        .map_err(|e| Error::io_while("waiting for cargo", e))
}

/// Cargo's status, or 128 + the signal that killed it, as a shell reports it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// `cargo-envref __envref-runner <socket> <triple> <program> <args…>`: what cargo runs for each
/// binary, test or bench. Fetch the environment from the parent, then exec the user's runner
/// (if any) or the program.
/// The runners cargo's configuration names for each target triple, which envref's runner
/// chains to.
fn user_runners(
    cargo_config: &CargoConfig,
    cwd: &Path,
    triples: &[String],
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut user_runners = BTreeMap::new();
    for t in triples {
        let runner = cargo_config.user_runner(cwd, t, &mut || cargo_runner::rustc_cfgs(t))?;
        // An enclosing `cargo envref` is not a user runner: its environment must not win over ours.
        if let Some(r) =
            runner.filter(|r| r.get(1).map(String::as_str) != Some(cargo_runner::RUNNER_SUBCOMMAND))
        {
            ui::verbose(&format!(
                "chaining to the configured runner for {t}: {}",
                r.join(" ")
            ));
            user_runners.insert(t.clone(), r);
        }
    }
    Ok(user_runners)
}

/// cargo with the configuration variables, without the secrets (they reach only the programs
/// it runs, through `runner`, set as the target runner of each triple).
fn cargo_command(
    cargo: &OsString,
    args: &[OsString],
    cwd: &Path,
    vars: &[Var],
    triples: &[String],
    runner: &str,
) -> std::process::Command {
    let mut command = std::process::Command::new(cargo);
    command.args(args).current_dir(cwd);
    envref_core::runner::remove_credentials(&mut command);
    // Secrets stay out of cargo's environment (and so out of rustc, build scripts and target/).
    for v in vars.iter().filter(|v| !v.secret) {
        command.env(&*v.key, &v.value);
    }
    for v in vars.iter().filter(|v| v.secret) {
        command.env_remove(&*v.key);
    }
    for t in triples {
        command.env(cargo_runner::runner_env_var(t), format!("{runner} {t}"));
    }
    command
}

pub fn runner(args: &[OsString]) -> i32 {
    match runner_command(args) {
        Ok(mut command) => {
            use std::os::unix::process::CommandExt;
            let e = command.exec();
            let program = command.get_program().to_string_lossy().into_owned();
            let code = super::mask::exec_failure_code(&e);
            let reason = envref_core::error::io_reason(&e);
            ui::error(&Error::program(format!("cannot run {program}: {reason}")).with_source(e));
            code
        }
        Err(e) => {
            ui::error(&e);
            1
        }
    }
}

fn runner_command(args: &[OsString]) -> Result<std::process::Command> {
    let [socket, triple, program, rest @ ..] = args else {
        return Err(Error::usage(
            "cargo-envref's runner expects <socket> <triple> <program> [args…]",
        )
        .with_hint(
            "it is set up by `cargo envref`; run `cargo envref run` or `cargo envref test`",
        ));
    };
    let payload = cargo_runner::fetch(Path::new(socket))?;
    let mut command = match payload.user_runners.get(&*triple.to_string_lossy()) {
        Some(r) => {
            let mut c = std::process::Command::new(&r[0]);
            c.args(&r[1..]).arg(program);
            c
        }
        None => std::process::Command::new(program),
    };
    command.args(rest);
    for (k, v) in &payload.vars {
        command.env(k, v.expose_secret());
    }
    Ok(command)
}

/// The directory of the package cargo will build: from `--manifest-path`, or from `-p NAME`
/// through `cargo metadata --no-deps`. `None`: the current directory.
fn package_dir(args: &[OsString], cwd: Option<&Path>) -> Result<Option<PathBuf>> {
    let (manifest, package) = manifest_and_package(args);
    let manifest = manifest.map(|m| match cwd {
        Some(d) => d.join(m),
        None => m,
    });
    let Some(package) = package else {
        return Ok(manifest
            .and_then(|m| m.parent().map(Path::to_path_buf))
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            }));
    };
    let member = package_manifest(&package, manifest.as_deref(), cwd)?;
    Ok(member.parent().map(Path::to_path_buf))
}

/// `--manifest-path` and `-p`/`--package` from cargo's arguments (up to `--`).
fn manifest_and_package(args: &[OsString]) -> (Option<PathBuf>, Option<String>) {
    let mut manifest: Option<PathBuf> = None;
    let mut package: Option<String> = None;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--manifest-path" {
            manifest = it.next().map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--manifest-path=") {
            manifest = Some(PathBuf::from(v));
        } else if a == "-p" || a == "--package" {
            package = it.next();
        } else if let Some(v) = a.strip_prefix("--package=") {
            package = Some(v.to_string());
        } else if let Some(v) = a
            .strip_prefix("-p")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            package = Some(v.to_string());
        }
    }
    (manifest, package)
}

/// The manifest of workspace member `package` (`name` or `name@version`), from `cargo metadata`.
fn package_manifest(package: &str, manifest: Option<&Path>, cwd: Option<&Path>) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut inv = Invocation::new(cargo).args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ]);
    if let Some(m) = manifest {
        inv = inv.arg("--manifest-path").arg(m.as_os_str());
    }
    if let Some(d) = cwd {
        inv = inv.current_dir(d);
    }
    let out = inv
        .timeout(std::time::Duration::from_secs(120))
        .run()
        .map_err(|e| Error::program(format!("cargo metadata: {e}")))?;
    if !out.success() {
        return Err(Error::program(format!(
            "cargo metadata failed: {}",
            out.stderr_summary()
        )));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::program(format!("cargo metadata printed unexpected output: {e}")).with_source(e)
    })?;
    let name = package.split('@').next().unwrap_or(package);
    let found = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"].as_str() == Some(name));
    match found.and_then(|p| p["manifest_path"].as_str()) {
        Some(m) => Ok(PathBuf::from(m)),
        None => Err(
            Error::not_found(format!("package {name} is not in this workspace")).with_hint(
                "check the name given to -p (cargo metadata --no-deps lists the members)",
            ),
        ),
    }
}

pub fn is_cargo_invocation(arg: Option<&OsStr>) -> bool {
    arg == Some(OsStr::new("envref"))
}
