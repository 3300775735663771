//! Which value a variable gets when it is both exported and defined in the env files: the
//! files (default) or, with `--precedence environment` / `precedence: environment`, the
//! process environment; the same for `resolve`, `run` and `cargo envref`.

use crate::support;

use std::path::PathBuf;

use support::{run, Project};

const ENV: &str = "APP_PORT=3000\nURL=http://localhost:${APP_PORT}/\nMODE=dev\n";

fn project(config_extra: &str) -> Project {
    Project::with(&format!("project: app\n{config_extra}"), ENV).env("APP_PORT", "9999")
}

fn printenv(p: &Project, flags: &[&str]) -> String {
    let mut args = vec!["run", "--no-mask"];
    args.extend_from_slice(flags);
    args.extend(["--", "printenv", "APP_PORT", "URL", "MODE"]);
    p.envref(&args).ok().stdout
}

#[test]
fn the_env_files_win_by_default() {
    let p = project("");
    assert_eq!(printenv(&p, &[]), "3000\nhttp://localhost:3000/\ndev\n");
    assert_eq!(
        p.envref(&["resolve"]).ok().stdout,
        "APP_PORT=3000\nURL=http://localhost:3000/\nMODE=dev\n"
    );
}

#[test]
fn the_flag_lets_the_exported_value_win_in_interpolation_too() {
    let p = project("");
    let flag = ["--precedence", "environment"];
    assert_eq!(printenv(&p, &flag), "9999\nhttp://localhost:9999/\ndev\n");
    assert_eq!(
        p.envref(&["resolve", "--precedence", "environment"])
            .ok()
            .stdout,
        "APP_PORT=9999\nURL=http://localhost:9999/\nMODE=dev\n"
    );
    // Exported but empty is exported.
    let p = project("").env("APP_PORT", "");
    assert_eq!(printenv(&p, &flag), "\nhttp://localhost:/\ndev\n");
}

#[test]
fn the_config_option_sets_it_and_the_flag_overrides_the_config() {
    let p = project("precedence: environment\n");
    assert_eq!(printenv(&p, &[]), "9999\nhttp://localhost:9999/\ndev\n");
    assert_eq!(
        printenv(&p, &["--precedence", "files"]),
        "3000\nhttp://localhost:3000/\ndev\n"
    );
    assert_eq!(
        p.envref(&["resolve", "--format", "json"]).ok().stdout,
        p.envref(&["resolve", "--format", "json", "--precedence", "environment"])
            .ok()
            .stdout
    );
}

/// With the environment winning, an exported variable's reference is never looked up: the
/// backend it names need not exist.
#[test]
fn an_exported_variable_skips_its_reference() {
    let p = Project::with("project: app\n", "API_KEY=ref://nowhere/api_key\nA=1\n")
        .env("API_KEY", "from-the-shell");
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("no backend named nowhere"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["resolve", "--precedence", "environment"]).ok();
    assert_eq!(out.stdout, "API_KEY=from-the-shell\nA=1\n");
}

#[test]
fn bad_values_are_refused_with_the_choices() {
    let p = project("precedence: env\n");
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains(".envref.yaml")
            && out
                .stderr
                .contains("precedence: \"env\" is not one of: files, environment"),
        "{}",
        out.stderr
    );
    let p = project("");
    let out = p
        .envref(&["run", "--precedence", "shell", "--", "true"])
        .fails(2);
    assert!(
        out.stderr.contains("[possible values: files, environment]"),
        "{}",
        out.stderr
    );
}

#[test]
fn cargo_envref_follows_the_same_precedence() {
    let p = project("");
    let fake = p.root.join("fake-cargo");
    std::fs::write(&fake, "#!/bin/sh\necho \"APP_PORT=$APP_PORT URL=$URL\"\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cargo_envref = |flags: &[&str]| {
        let mut c = p.command(env!("CARGO_BIN_EXE_cargo-envref"));
        c.arg("envref").args(flags).arg("build").env("CARGO", &fake);
        // The real toolchain (rustup's proxy) stays reachable under the isolated HOME.
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        for (k, d) in [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")] {
            c.env(
                k,
                std::env::var_os(k)
                    .map(PathBuf::from)
                    .unwrap_or(home.join(d)),
            );
        }
        if let Some(t) = std::env::var_os("RUSTUP_TOOLCHAIN") {
            c.env("RUSTUP_TOOLCHAIN", t);
        }
        run(c).ok().stdout
    };
    assert_eq!(
        cargo_envref(&[]),
        "APP_PORT=3000 URL=http://localhost:3000/\n"
    );
    assert_eq!(
        cargo_envref(&["--precedence", "environment"]),
        "APP_PORT=9999 URL=http://localhost:9999/\n"
    );
}
