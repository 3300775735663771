//! `cargo envref <cargo args…>`: resolve the environment of the package being built, then
//! exec cargo with it. envref's own options come before the cargo subcommand; everything
//! from the subcommand on goes to cargo untouched.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::Parser;
use envref_core::config::PROFILE_ENV;
use envref_core::evaluate::Var;
use envref_core::runner::Invocation;
use envref_core::{Error, Result};

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
    pub global: Global,
    /// The cargo subcommand and its arguments, passed to cargo untouched
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CARGO_ARGS")]
    pub cargo: Vec<OsString>,
}

pub fn run(cli: CargoCli) -> Result<i32> {
    let start = match package_dir(&cli.cargo)? {
        Some(d) => d,
        None => cli.global.dir(),
    };
    let mut global = cli.global.clone();
    global.dir = Some(start);
    let project = super::open_project(&global, cli.profile.as_deref())?;
    let (resolved, _) = super::resolve::resolve_or_report(&project, cli.strict, false)?;
    let mut vars: Vec<Var> = resolved.vars;
    vars.retain(|v| v.key != PROFILE_ENV);
    if let Some(p) = &project.profile {
        vars.push(Var { key: PROFILE_ENV.into(), value: p.clone(), secret: false });
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = vec![cargo];
    command.extend(cli.cargo);
    ui::verbose(&format!("exec cargo with {} variables from {}", vars.len(), project.config.file.display()));
    super::resolve::exec(&command, &vars)
}

/// The directory of the package cargo will build: from `--manifest-path`, or from `-p NAME`
/// through `cargo metadata --no-deps`. `None`: the current directory.
fn package_dir(args: &[OsString]) -> Result<Option<PathBuf>> {
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
        } else if let Some(v) = a.strip_prefix("-p").filter(|v| !v.is_empty() && !a.starts_with("--")) {
            package = Some(v.to_string());
        }
    }
    let Some(package) = package else {
        return Ok(manifest.and_then(|m| m.parent().map(Path::to_path_buf)).map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        }));
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut inv = Invocation::new(cargo).args(["metadata", "--no-deps", "--format-version", "1", "--offline"]);
    if let Some(m) = &manifest {
        inv = inv.arg("--manifest-path").arg(m.as_os_str());
    }
    let out = inv.timeout(std::time::Duration::from_secs(120)).run().map_err(|e| Error::new(format!("cargo metadata: {e}")))?;
    if !out.success() {
        return Err(Error::new(format!("cargo metadata failed: {}", out.stderr_summary())));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| Error::new(format!("cargo metadata printed unexpected output: {e}")))?;
    let name = package.split('@').next().unwrap_or(&package);
    let found = meta["packages"].as_array().into_iter().flatten().find(|p| p["name"].as_str() == Some(name));
    match found.and_then(|p| p["manifest_path"].as_str()) {
        Some(m) => Ok(Path::new(m).parent().map(Path::to_path_buf)),
        None => Err(Error::new(format!("package {name} is not in this workspace"))
            .with_hint("check the name given to -p (cargo metadata --no-deps lists the members)")),
    }
}

pub fn is_cargo_invocation(arg: Option<&OsStr>) -> bool {
    arg == Some(OsStr::new("envref"))
}
