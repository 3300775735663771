//! Cargo integration: `cargo envref`, `envref_build::emit()`, `envref!` and the example
//! crate, built by a real cargo.
//!
//! Nested builds are the slow part of the suite, so they share the target directory the
//! outer build already filled (cargo holds its lock only while compiling, not while tests
//! run), build offline with the workspace's Cargo.lock and profiles (so the scratch crates
//! reuse the example's dependencies), and run one at a time ([`nested_cargo_turn`]; the
//! `nested-cargo` test group in .config/nextest.toml does the same under nextest).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{root, Project};

const CARGO_ENVREF: &str = env!("CARGO_BIN_EXE_cargo-envref");

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The target directory this test binary was built in (`<target>/<profile>/deps/<binary>`),
/// which nested builds share.
fn shared_target() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root().join("target"))
}

/// Held by each test that runs a nested build: one at a time, so they neither wait on each
/// other's cargo lock nor build the same dependencies side by side.
fn nested_cargo_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Settings for a nested cargo: the shared target, offline, colourless, no inherited profile.
fn nested(mut c: Command, dir: &Path) -> Command {
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("ENVREF_PROFILE");
    c
}

/// `cargo <args>` in `dir`, as a nested build.
fn cargo_in(dir: &Path, args: &[&str]) -> support::Run {
    let mut c = nested(Command::new(cargo()), dir);
    c.args(args);
    support::run(c)
}

/// `cargo envref <args>` as cargo runs it (`cargo-envref envref …`, with `CARGO` set), as a
/// nested build in `dir` with the trusted configs of `state`.
fn cargo_envref_cmd(dir: &Path, state: &Path, args: &[&str]) -> Command {
    let mut c = nested(Command::new(CARGO_ENVREF), dir);
    c.env("XDG_STATE_HOME", state)
        .env("CARGO", cargo())
        .args(["envref", "--no-mask"])
        .args(args);
    c
}

fn cargo_envref(dir: &Path, state: &Path, args: &[&str]) -> support::Run {
    support::run(cargo_envref_cmd(dir, state, args))
}

#[test]
fn cargo_envref_passes_args_env_profile_and_status() {
    let p = Project::with(
        "project: app\nprofiles:\n  staging: {}\n",
        "API_KEY=config-value\nMODE=base\n",
    );
    p.write(".env.staging", "MODE=staging\n");
    let fake = p.root.join("fake-cargo");
    std::fs::write(&fake, "#!/bin/sh\nprintf '%s|' \"$@\"; echo; echo \"MODE=$MODE PROFILE=$ENVREF_PROFILE\"; exit 7\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut c = p.command(CARGO_ENVREF);
    c.args([
        "envref",
        "-P",
        "staging",
        "run",
        "--release",
        "--",
        "--port",
        "8080",
        "-P",
        "x",
    ])
    .env("CARGO", &fake);
    toolchain_env(&mut c);
    let out = support::run(c).fails(7);
    assert_eq!(
        out.stdout,
        "run|--release|--|--port|8080|-P|x|\nMODE=staging PROFILE=staging\n"
    );
    // A resolution failure stops before cargo starts.
    p.write(".env", "API_KEY=ref://nowhere/k\n");
    let mut c = p.command(CARGO_ENVREF);
    c.args(["envref", "run"]).env("CARGO", &fake);
    toolchain_env(&mut c);
    let out = support::run(c).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("could not be resolved")
            && out.stderr.contains("no backend named nowhere"),
        "{}",
        out.stderr
    );
    // `-C DIR` is "as if started in DIR", for cargo as well.
    p.write(".env", "MODE=base\n");
    std::fs::write(&fake, "#!/bin/sh\necho \"cwd=$(pwd) MODE=$MODE\"\n").unwrap();
    let mut c = p.command(CARGO_ENVREF);
    c.current_dir(&p.root)
        .args(["envref", "-C", "project", "build"])
        .env("CARGO", &fake);
    toolchain_env(&mut c);
    let out = support::run(c).ok();
    assert_eq!(out.stdout, format!("cwd={} MODE=base\n", p.dir.display()));
    // Help reads as a cargo subcommand.
    let mut c = p.command(CARGO_ENVREF);
    c.args(["envref", "--help"]);
    assert!(support::run(c).ok().stdout.contains("Usage: cargo envref"));
}

/// `cargo test` of examples/rust-app's test target, selected with the whole workspace (run in
/// examples/rust-app, where `cargo envref` finds the example's .envref.yaml).
const RUST_APP_TESTS: &[&str] = &["test", "-q", "--workspace", "--test", "secret"];

#[test]
fn example_app_runs_tests_and_keeps_secrets_out_of_target() {
    if !support::available("plugins", support::have("python3")) {
        return;
    }
    let _turn = nested_cargo_turn();
    let ws = root();
    // The example's plugin is named by its .envref.yaml, so it runs only once allowed.
    let state = support::allowed_state(&[&ws.join("examples/rust-app")]);
    let out = cargo_envref(&ws, state.path(), &["run", "-q", "-p", "rust-app"]).ok();
    assert!(out.stdout.contains("APP_PORT=8080\n"), "{}", out.stdout); // env! from build.rs emit()
    assert!(
        out.stdout.contains("API_KEY=sk-rust-app-demo\n"),
        "{}",
        out.stdout
    ); // resolved by cargo envref
    assert!(out.stdout.contains("REGION=us-east-2\n"), "{}", out.stdout);
    // `SENTRY_DSN=` in .env: declared without a value, so envref!(…, optional) is None.
    assert!(
        out.stdout.contains("SENTRY_DSN=(unset)\n"),
        "{}",
        out.stdout
    );
    // The secret went nowhere near target/: not in build-script output, not in the binary.
    let secret = b"sk-rust-app-demo";
    let mut scanned = 0;
    for entry in walk(&shared_target().join("debug")) {
        let name = entry.to_string_lossy();
        if name.contains("rust-app") || name.contains("rust_app") {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "secret found in {}",
                entry.display()
            );
            scanned += 1;
        }
    }
    assert!(scanned > 3, "scanned {scanned} files");
    // The example's test target, selected with the whole workspace: features resolve as in the
    // outer `--workspace` build, so its test binary is reused, not rebuilt (`-p rust-app`
    // would rebuild the backend stack with rust-app's features alone).
    let app = ws.join("examples/rust-app");
    cargo_envref(&app, state.path(), RUST_APP_TESTS).ok();
    // Missing secret: `cargo envref` stops before cargo; the in-process loader fails the test.
    let empty = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(empty.path(), "{}").unwrap();
    let mut c = cargo_envref_cmd(&app, state.path(), RUST_APP_TESTS);
    c.env("ENVREF_PYSTORE", empty.path());
    let out = support::run(c).fails(1);
    assert!(
        out.stderr.contains("API_KEY") && out.stderr.contains("could not be resolved"),
        "{}",
        out.stderr
    );
    let mut c = nested(Command::new(cargo()), &app);
    c.args(RUST_APP_TESTS)
        .env("ENVREF_PYSTORE", empty.path())
        .env_remove("API_KEY");
    let out = support::run(c).fails(101);
    assert!(
        out.stdout.contains("reads_the_api_key") || out.stderr.contains("reads_the_api_key"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

const SEALED_SECRET: &str = "sk-SEALED-canary-4f9d2b";
const SEALED_PASS: &str = "pass-SEALED-canary-77ae1c";
/// The passphrase exported to a plain `cargo build`, which no env file may read into config.
const BUILD_PASS: &str = "pass-BUILD-canary-5e1d0a";

/// Copy tests/fixtures/<name> into the project directory.
fn copy_fixture(name: &str, to: &Path) {
    let from = root().join("tests/fixtures").join(name);
    for file in walk(&from) {
        let dest = to.join(file.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, &dest).unwrap();
    }
}

/// `cargo envref <args>` in the project, with the real toolchain reachable despite the isolated HOME.
fn sealed_cargo_envref(p: &Project, args: &[&str]) -> support::Run {
    let mut c = p.command(CARGO_ENVREF);
    c.args(["envref", "--no-mask"])
        .args(args)
        .env("CARGO", cargo())
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TERM_COLOR", "never");
    toolchain_env(&mut c);
    support::run(c)
}

/// The real toolchain (rustup's rustc proxy) stays reachable under a test's isolated HOME.
fn toolchain_env(c: &mut Command) {
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap());
    for (k, default) in [
        ("RUSTUP_HOME", real_home.join(".rustup")),
        ("CARGO_HOME", real_home.join(".cargo")),
    ] {
        c.env(k, std::env::var_os(k).map(PathBuf::from).unwrap_or(default));
    }
    if let Some(t) = std::env::var_os("RUSTUP_TOOLCHAIN") {
        c.env("RUSTUP_TOOLCHAIN", t);
    }
}

/// Files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect()
}

#[test]
fn secrets_reach_only_the_programs_cargo_runs() {
    let p = Project::with(
        "project: sealed\nbackends:\n  - name: vault\n    type: vault\n",
        "API_KEY=ref://secrets/api_key\nAPP_MODE=sealed-config\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", SEALED_PASS);
    // Its own target directory (scanned for canaries below); still one nested build at a time.
    let _turn = nested_cargo_turn();
    let log = p.root.join("runner.log");
    let runtime = p.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut p = p;
    p.set_env("RUNNER_LOG", log.display().to_string());
    p.set_env("XDG_RUNTIME_DIR", runtime.display().to_string());
    p.envref(&["vault", "init"]).ok();
    p.envref_stdin(&["secret", "set", "api_key", "--stdin"], SEALED_SECRET)
        .ok();
    copy_fixture("sealed-app", &p.dir);

    sealed_cargo_envref(&p, &["build", "-q"]).ok();
    // The program gets the secret at run time, never at compile time; its exit code passes through.
    let out = sealed_cargo_envref(&p, &["run", "-q", "--", "7"]).fails(7);
    assert!(
        out.stdout.contains("compiled API_KEY=None\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("compiled passphrase=None\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("runtime API_KEY={SEALED_SECRET}\n")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("runtime APP_MODE=sealed-config\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("runtime passphrase set=false\n"),
        "{}",
        out.stdout
    );
    // The user's own runner (a cfg table in .cargo/config.toml) still ran, around the program.
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("user runner ran: sealed-app"),
        "runner log: {log:?}"
    );
    let out = sealed_cargo_envref(&p, &["test", "-q", "--", "--nocapture"]).ok();
    assert!(
        out.stdout
            .contains(&format!("test saw API_KEY={SEALED_SECRET}")),
        "{}{}",
        out.stdout,
        out.stderr
    );
    if support::available("nextest", support::have("cargo-nextest")) {
        let out = sealed_cargo_envref(&p, &["nextest", "run", "--no-capture"]).ok();
        assert!(
            format!("{}{}", out.stdout, out.stderr)
                .contains(&format!("test saw API_KEY={SEALED_SECRET}")),
            "{}{}",
            out.stdout,
            out.stderr
        );
    }

    // The build script recorded its environment: config arrived, the secret and passphrase did not.
    let target = p.dir.join("target");
    let recorded = files_containing(&target, "APP_MODE=sealed-config");
    assert!(
        recorded.iter().any(|f| f.ends_with("out/env.txt")),
        "the spy recorded nothing: {recorded:?}"
    );
    assert!(files_containing(&target, "sealed-config")
        .iter()
        .any(|f| f.file_name().is_some_and(|n| n == "sealed-app")));
    for canary in [SEALED_SECRET, SEALED_PASS] {
        let found = files_containing(&target, canary);
        assert!(found.is_empty(), "{canary} found under target/: {found:?}");
    }
    // The channel's private directory is gone once cargo exits.
    let left: Vec<_> = std::fs::read_dir(&runtime)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn interrupted_cargo_envref_removes_its_channel() {
    for (signal, to_group, code) in [
        ("INT", true, 130),
        ("TERM", false, 143),
        ("HUP", false, 129),
    ] {
        let mut p = Project::with("project: app\n", "MODE=x\n");
        let runtime = p.root.join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        p.set_env("XDG_RUNTIME_DIR", runtime.display().to_string());
        let fake = p.root.join("slow-cargo");
        std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut c = p.command(CARGO_ENVREF);
        c.args(["envref", "run"])
            .env("CARGO", &fake)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        toolchain_env(&mut c);
        // Its own process group, as a shell's foreground job: Ctrl-C signals the whole group.
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let mut child = c.spawn().unwrap();
        let started = std::time::Instant::now();
        while std::fs::read_dir(&runtime).unwrap().next().is_none() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "the channel never appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200)); // let cargo (the fake) start
        let target = if to_group {
            format!("-{}", child.id())
        } else {
            child.id().to_string()
        };
        support::run({
            let mut k = Command::new("kill");
            k.args([&format!("-{signal}"), "--", &target]);
            k
        })
        .ok();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "SIG{signal}");
        let left: Vec<_> = std::fs::read_dir(&runtime)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "SIG{signal} left behind: {left:?}");
    }
}

/// A scratch crate depending on the workspace's envref crates by path, with the workspace's
/// Cargo.lock and profiles: it builds offline and reuses the dependencies already built in the
/// shared target. Every scratch crate has the same dependencies (envref-build with `secrets`,
/// and a build script, `build_rs` or an empty one), so after the first one is built the others
/// build only themselves; envref-build without `secrets` is the example's (rust-app's) build.rs.
fn scratch_crate(p: &Project, main: &str, build_rs: Option<&str>) {
    let path = |c: &str| root().join(c).display().to_string();
    let mut manifest = format!(
        concat!(
            "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n",
            "[workspace]\n\n[dependencies]\nenvref-macros = {{ path = {:?} }}\n\n",
            "[build-dependencies]\nenvref-build = {{ path = {:?}, features = [\"secrets\"] }}\n"
        ),
        path("envref-macros"),
        path("envref-build")
    );
    p.write("build.rs", build_rs.unwrap_or("fn main() {}\n"));
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let profiles = workspace
        .find("\n[profile.")
        .expect("the workspace sets profiles");
    manifest.push_str(&workspace[profiles..]);
    p.write("Cargo.toml", &manifest);
    std::fs::copy(root().join("Cargo.lock"), p.dir.join("Cargo.lock")).unwrap();
    p.write("src/main.rs", main);
}

#[test]
fn macro_rejects_undeclared_keys_with_span_and_suggestion() {
    let _turn = nested_cargo_turn();
    let p = Project::with(
        "project: scratch\n",
        "API_KEY=ref://secrets/api_key\nAPP_PORT=1\n",
    );
    scratch_crate(
        &p,
        "use envref_macros::envref;\nfn main() {\n    let k: String =\n        envref!(\"API_KYE\");\n    println!(\"{k}\");\n}\n",
        None,
    );
    let out = cargo_in(&p.dir, &["build", "-q"]).fails(101);
    assert!(
        out.stderr.contains("`API_KYE` is not declared in"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(".env, ") && out.stderr.contains(".env.local"),
        "names the files: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `API_KEY`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("src/main.rs:4:17"),
        "span on the literal: {}",
        out.stderr
    );
    // Fixed: it builds, and reads the value at run time only.
    p.write(
        "src/main.rs",
        "use envref_macros::envref;\nfn main() {\n    let k: String = envref!(\"API_KEY\");\n    println!(\"{k}\");\n}\n",
    );
    cargo_in(&p.dir, &["build", "-q"]).ok();
    let mut run = Command::new(shared_target().join("debug/scratch"));
    run.env_remove("API_KEY");
    let out = support::run(run).fails(101);
    assert!(
        out.stderr.contains("envref run") && out.stderr.contains("API_KEY"),
        "{}",
        out.stderr
    );
    // Removing the key from .env makes the next build fail, without cargo clean; restoring it passes.
    p.write(".env", "APP_PORT=1\n");
    let out = cargo_in(&p.dir, &["build", "-q"]).fails(101);
    assert!(
        out.stderr.contains("`API_KEY` is not declared"),
        "{}",
        out.stderr
    );
    p.write(".env", "API_KEY=ref://secrets/api_key\nAPP_PORT=1\n");
    cargo_in(&p.dir, &["build", "-q"]).ok();
    // A profile layer counts when ENVREF_PROFILE selects it.
    p.write(".env", "APP_PORT=1\n");
    p.write(".env.ci", "API_KEY=x\n");
    let mut c = nested(Command::new(cargo()), &p.dir);
    c.args(["build", "-q"]).env("ENVREF_PROFILE", "ci");
    support::run(c).ok();
}

#[test]
fn build_script_emits_config_and_only_opted_in_secrets() {
    if !support::available("plugins", support::have("python3")) {
        return;
    }
    let _turn = nested_cargo_turn();
    let store = Project::new();
    let store_file = store.root.join("store.json");
    std::fs::write(&store_file, "{\"scratch/token\": \"tok-SECRET-123\"}").unwrap();
    let config = format!(
        "project: scratch\nbackends:\n  - name: demo\n    type: plugin\n    config: {{command: {}}}\n",
        root().join("examples/plugins/envref-backend-pystore").display()
    );
    // BUILT_WITH: an env file cannot read envref's credentials into config (a plain `cargo
    // build` in CI has the passphrase exported).
    let p = Project::with(
        &config,
        "APP_PORT=4242\nTOKEN=ref://secrets/token\nBUILT_WITH=${ENVREF_VAULT_PASSPHRASE}\n",
    );
    let main = "fn main() {\n    println!(\"port={}\", env!(\"APP_PORT\"));\n    println!(\"token={:?}\", option_env!(\"TOKEN\"));\n    println!(\"built_with={}\", env!(\"BUILT_WITH\"));\n}\n";
    scratch_crate(&p, main, Some("fn main() { envref_build::emit(); }\n"));
    // Config only (the `secrets` feature is on, but not asked for): works even though the
    // backend is unreachable (no store configured), and never contacts it.
    let mut c = nested(Command::new(cargo()), &p.dir);
    let log = store.root.join("plugin.log");
    c.args(["run", "-q"])
        .env("ENVREF_PYSTORE", "/nonexistent/dir/store.json")
        .env("ENVREF_FILESTORE_LOG", &log)
        .env("ENVREF_VAULT_PASSPHRASE", BUILD_PASS);
    let out = support::run(c).ok();
    assert_eq!(out.stdout, "port=4242\ntoken=None\nbuilt_with=\n");
    assert!(!out.stderr.contains(BUILD_PASS), "{}", out.stderr);
    let build_dirs = std::fs::read_dir(shared_target().join("debug/build")).unwrap();
    for dir in build_dirs.flatten().map(|e| e.path()) {
        if dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("scratch-")
        {
            let found = files_containing(&dir, BUILD_PASS);
            assert!(found.is_empty(), "the passphrase is in {found:?}");
        }
    }
    assert!(
        !log.exists(),
        "the backend was contacted while emitting config"
    );
    // Opted in: resolved, emitted, and warned about.
    p.write(
        "build.rs",
        "fn main() { envref_build::Builder::new().include_secrets(true).emit().unwrap(); }\n",
    );
    let mut c = nested(Command::new(cargo()), &p.dir);
    c.args(["run"]).env("ENVREF_PYSTORE", &store_file);
    let out = support::run(c).ok();
    assert!(
        out.stdout.contains("token=Some(\"tok-SECRET-123\")"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("secret TOKEN is emitted"),
        "{}",
        out.stderr
    );
}

#[test]
fn macros_crate_pulls_no_backend() {
    let mut c = Command::new(cargo());
    c.current_dir(root()).args([
        "tree",
        "-p",
        "envref-macros",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--offline",
    ]);
    let out = support::run(c).ok();
    assert!(out.stdout.contains("envref-core"), "{}", out.stdout);
    for heavy in ["keyring", "rusqlite", "age ", "dbus"] {
        assert!(
            !out.stdout.lines().any(|l| l.starts_with(heavy)),
            "envref-macros pulls {heavy}:\n{}",
            out.stdout
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
