//! What envref's children get and what becomes of them, through the real binary:
//! - envref's own variables (the vault passphrase above all) reach no child: not `envref run`'s
//!   program, not a plugin, not the vendor CLIs (`aws`, `op`, `vault`, `oci`);
//! - SIGINT, SIGTERM and SIGHUP during a CLI write or a plugin call kill the child's whole
//!   process group, remove the secret request file and exit 130, 143 or 129;
//! - a backend's `timeout:` is absolute, even when a grandchild keeps stdout open.
//!
//! The children are fake executables found on PATH under the vendor names (trusted names, no
//! `command:`); they dump their environment, or record their pid, sleep and then "write".
#![cfg(unix)]

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::Project;

const PASSPHRASE: &str = "canary-passphrase-Zq7";

/// A project whose PATH starts with its own `bin/` (for fakes) and whose TMPDIR is its own.
fn project(config: &str, env: &str) -> Project {
    let mut p = Project::with(config, env);
    std::fs::create_dir_all(p.root.join("bin")).unwrap();
    std::fs::create_dir_all(p.root.join("tmp")).unwrap();
    let path = format!(
        "{}:{}",
        p.root.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    p.set_env("PATH", path);
    p.set_env("TMPDIR", p.root.join("tmp").display().to_string());
    p
}

/// An executable `bin/<name>` running `script` (sh).
fn fake(p: &Project, name: &str, script: &str) {
    let path = p.root.join("bin").join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every variable envref reads for itself, set to recognisable values.
fn with_own_variables(p: Project) -> Project {
    let config_dir = p.root.join("global-config");
    std::fs::create_dir_all(&config_dir).unwrap();
    p.env("ENVREF_VAULT_PASSPHRASE", PASSPHRASE)
        .env("ENVREF_PROFILE", "staging")
        .env("ENVREF_CONFIG_DIR", config_dir.display().to_string())
        .env("AGE_IDENTITY", "/canary/age-identity.txt")
}

/// A dumped environment (`env` output) as lines.
fn dumped(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

#[track_caller]
fn assert_no_own_variables(who: &str, env: &[String]) {
    for name in [
        "ENVREF_VAULT_PASSPHRASE",
        "ENVREF_PROFILE",
        "ENVREF_CONFIG_DIR",
        "AGE_IDENTITY",
    ] {
        assert!(
            !env.iter().any(|l| l.starts_with(&format!("{name}="))),
            "{who} got {name}"
        );
    }
    assert!(
        !env.iter().any(|l| l.contains(PASSPHRASE)),
        "{who} got the passphrase under another name"
    );
    // The rest of the user's environment is still there.
    assert!(
        env.iter().any(|l| l.starts_with("HOME=")),
        "{who} lost HOME: {env:?}"
    );
}

// --- 2. envref's own credentials never reach a child -------------------------------------------

/// A vault project (the passphrase exported) with `env` and one secret, `key` = `value`.
fn vault_project(env: &str, key: &str, value: &str) -> Project {
    let p = project(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        env,
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASSPHRASE);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", key, "--value", value]).ok();
    p
}

#[test]
fn run_child_gets_the_secrets_but_not_the_passphrase() {
    let p = vault_project(
        "API_KEY=ref://secrets/api_key\n",
        "api_key",
        "sk-run-canary",
    );
    // The passphrase opened the vault (the secret is there) and stopped at envref.
    let out = p.envref(&["run", "--no-mask", "--", "env"]).ok();
    assert!(
        out.stdout.contains("API_KEY=sk-run-canary"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("ENVREF_VAULT_PASSPHRASE") && !out.stdout.contains(PASSPHRASE),
        "{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("warning"),
        "no cargo, no warning: {}",
        out.stderr
    );
    // Not even when a .env line is named like it.
    p.write(
        ".env",
        "API_KEY=ref://secrets/api_key\nENVREF_VAULT_PASSPHRASE=from-the-file\n",
    );
    let out = p.envref(&["run", "--", "env"]).ok();
    assert!(
        !out.stdout.contains("ENVREF_VAULT_PASSPHRASE"),
        "{}",
        out.stdout
    );
    // The identity file that unlocks a vault instead is a credential too (empty: not used, so
    // the passphrase still opens the vault, but the variable is there to leak).
    let out = p
        .command(support::ENVREF)
        .env("ENVREF_VAULT_IDENTITY", "")
        .args(["run", "--no-mask", "--", "env"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("API_KEY=sk-run-canary"),
        "{stdout}"
    );
    assert!(!stdout.contains("ENVREF_VAULT_IDENTITY"), "{stdout}");
}

#[test]
fn run_cargo_warns_and_names_cargo_envref() {
    let p = project(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        "API_KEY=ref://secrets/api_key\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASSPHRASE);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", "api_key", "--value", "sk-cargo-canary"])
        .ok();
    let dump = p.root.join("cargo.env");
    fake(&p, "cargo", &format!("env > '{}'\n", dump.display()));
    let fake_cargo = p.root.join("bin/cargo").display().to_string();
    for command in [
        vec!["cargo", "build"],
        vec!["cargo", "+nightly", "test"],
        vec![fake_cargo.as_str(), "run"],
    ] {
        let mut args = vec!["run", "--"];
        args.extend(&command);
        let out = p.envref(&args).ok();
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .collect();
        assert_eq!(warnings.len(), 1, "{command:?}: {}", out.stderr);
        assert!(warnings[0].contains("`cargo envref`"), "{}", warnings[0]);
        assert!(!out.stderr.contains("sk-cargo-canary"), "{}", out.stderr);
        let env = dumped(&dump);
        assert!(
            env.contains(&"API_KEY=sk-cargo-canary".to_string()),
            "the warning does not change what runs"
        );
        assert!(
            !env.iter().any(|l| l.contains(PASSPHRASE)),
            "cargo got the passphrase"
        );
    }
    // No secret, nothing to warn about.
    p.write(".env", "PLAIN=1\n");
    let out = p.envref(&["run", "--", "cargo", "build"]).ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[test]
fn plugins_get_none_of_envrefs_own_variables() {
    let p = project(
        "project: app\nprofiles:\n  staging: {}\nbackends:\n  - name: dump\n    type: plugin\n",
        "K=ref://secrets/k\n",
    );
    let dump = p.root.join("plugin.env");
    fake(
        &p,
        "envref-backend-dump",
        &format!(
            "cat >/dev/null\nenv > '{}'\necho '{{\"value\": \"from-plugin\"}}'\n",
            dump.display()
        ),
    );
    let p = with_own_variables(p).env("PLUGIN_OWN_SETTING", "kept");
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "K=from-plugin\n");
    let env = dumped(&dump);
    assert_no_own_variables("the plugin", &env);
    assert!(
        env.contains(&"PLUGIN_OWN_SETTING=kept".to_string()),
        "{env:?}"
    );
}

#[test]
fn vendor_clis_get_none_of_envrefs_own_variables() {
    let backends = [
        ("aws", "aws-ssm", ""),
        ("op", "1password", ""),
        ("vault", "hashicorp-vault", ""),
        (
            "oci",
            "oci-vault",
            "\n    config: {vault_id: v, compartment_id: c, key_id: k}",
        ),
    ];
    for (program, kind, config) in backends {
        let p = project(
            &format!("project: app\nprofiles:\n  staging: {{}}\nbackends:\n  - name: cloud\n    type: {kind}{config}\n"),
            "K=ref://secrets/k\n",
        );
        let dump = p.root.join(format!("{program}.env"));
        fake(
            &p,
            program,
            &format!(
                "env > '{}'\necho 'fake {program}: refusing' >&2\nexit 1\n",
                dump.display()
            ),
        );
        let p = with_own_variables(p);
        // The fake fails every call; what matters is what it saw.
        let out = p.envref(&["resolve"]).fails(1);
        assert!(
            out.stderr.contains(&format!("fake {program}: refusing")),
            "{program} was not called: {}",
            out.stderr
        );
        assert_no_own_variables(program, &dumped(&dump));
    }
}

// --- 5. Interrupts and timeouts leave nothing behind -------------------------------------------

const SIGNALS: [(&str, i32); 3] = [("INT", 130), ("TERM", 143), ("HUP", 129)];

/// How long a fake CLI "works" before it writes: long enough to be interrupted, short enough
/// to wait out and prove the write never happens.
const WORK: Duration = Duration::from_secs(3);

/// Whether a process runs (a zombie waiting to be reaped by its new parent does not).
fn alive(pid: &str) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "));
    }
    let out = std::process::Command::new("ps")
        .args(["-o", "stat=", "-p", pid])
        .output()
        .unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    !stat.trim().is_empty() && !stat.trim().starts_with('Z')
}

#[track_caller]
fn wait_for_file(path: &Path, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = std::fs::read_to_string(path)
            .ok()
            .filter(|s| s.ends_with('\n'))
        {
            return s.trim().to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!(
                "envref ended ({status}) before {} appeared: {err}",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Send envref SIG`signal` and check that it exits with `code` (128 + the signal).
#[track_caller]
fn interrupt(envref: &mut Child, signal: &str, code: i32) {
    std::process::Command::new("kill")
        .args(["-s", signal, &envref.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(
        wait_exit(envref, Duration::from_secs(10)),
        Some(code),
        "SIG{signal}"
    );
}

#[track_caller]
fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("envref still running {within:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn envref_temp_files(p: &Project) -> Vec<PathBuf> {
    files_starting(&p.root.join("tmp"), "envref-")
}

/// The files in `dir` whose names start with `prefix`.
fn files_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

/// The script of a fake CLI call that writes: record its pid, "work", then record the write.
fn slow_write(p: &Project) -> String {
    format!(
        "echo $$ > '{pid}'\nsleep {secs}\necho written > '{written}'\necho '{{}}'\n",
        pid = p.root.join("cli.pid").display(),
        secs = WORK.as_secs(),
        written = p.root.join("written").display()
    )
}

/// Interrupt `secret set` while the fake CLI works, with each signal in turn, and check what
/// is left: the exit code, the request file, the CLI process, the write.
fn interrupt_secret_set(p: &Project) {
    for (signal, code) in SIGNALS {
        let _ = std::fs::remove_file(p.root.join("cli.pid"));
        let mut c = p.envref_cmd(&[
            "secret",
            "set",
            "api_key",
            "--value",
            "sk-interrupted-canary",
        ]);
        let mut envref = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = wait_for_file(&p.root.join("cli.pid"), &mut envref);
        let started = Instant::now();
        // The test sees the request file, so that its absence afterwards means something.
        assert_eq!(
            envref_temp_files(p).len(),
            1,
            "SIG{signal}: the request file is not in TMPDIR"
        );
        interrupt(&mut envref, signal, code);
        assert_eq!(
            envref_temp_files(p),
            Vec::<PathBuf>::new(),
            "SIG{signal}: the request file stayed"
        );
        let gone = Instant::now() + Duration::from_secs(5);
        while alive(&pid) && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(&pid), "SIG{signal}: the CLI ({pid}) survived");
        std::thread::sleep((WORK + Duration::from_millis(500)).saturating_sub(started.elapsed()));
        assert!(
            !p.root.join("written").exists(),
            "SIG{signal}: the CLI completed the write after the interrupt"
        );
    }
}

#[test]
fn interrupted_aws_ssm_write_leaves_nothing() {
    let p = project(
        "project: app\nbackends:\n  - name: ssm\n    type: aws-ssm\n",
        "",
    );
    fake(&p, "aws", &slow_write(&p));
    interrupt_secret_set(&p);
}

#[test]
fn interrupted_1password_write_leaves_nothing() {
    let p = project(
        "project: app\nbackends:\n  - name: op\n    type: 1password\n",
        "",
    );
    // The item exists, so the value goes to `op item edit` in a template file.
    let item = r#"{"id": "abc", "title": "app/api_key", "fields": [{"id": "notesPlain", "value": "old"}]}"#;
    fake(
        &p,
        "op",
        &format!(
            "case \"$2\" in\n  get) echo '{item}' ;;\n  *) {} ;;\nesac\n",
            slow_write(&p)
        ),
    );
    interrupt_secret_set(&p);
}

#[test]
fn interrupted_oci_write_leaves_nothing() {
    let p = project(
        "project: app\nbackends:\n  - name: oci\n    type: oci-vault\n    config: {vault_id: v, compartment_id: c, key_id: k}\n",
        "",
    );
    // No secret by that name yet (the CLI prints nothing), so `create-base64` with a request file.
    fake(
        &p,
        "oci",
        &format!(
            "case \"$3\" in\n  list) ;;\n  *) {} ;;\nesac\n",
            slow_write(&p)
        ),
    );
    interrupt_secret_set(&p);
}

#[test]
fn interrupted_plugin_and_its_children_are_killed() {
    let p = project(
        "project: app\nbackends:\n  - name: hang\n    type: plugin\n",
        "K=ref://secrets/k\n",
    );
    let pids = p.root.join("plugin.pids");
    fake(
        &p,
        "envref-backend-hang",
        &format!("sleep 60 &\necho \"$$ $!\" > '{}'\nwait\n", pids.display()),
    );
    for (signal, code) in SIGNALS {
        let _ = std::fs::remove_file(&pids);
        let mut envref = p
            .envref_cmd(&["resolve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let line = wait_for_file(&pids, &mut envref);
        interrupt(&mut envref, signal, code);
        let gone = Instant::now() + Duration::from_secs(5);
        for pid in line.split_whitespace() {
            while alive(pid) && Instant::now() < gone {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                !alive(pid),
                "SIG{signal}: {pid} (plugin or its child) survived"
            );
        }
        let mut stdout = String::new();
        std::io::Read::read_to_string(envref.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        assert_eq!(
            stdout, "",
            "SIG{signal}: nothing is printed after an interrupt"
        );
    }
}

#[test]
fn timeout_is_absolute_when_a_grandchild_holds_stdout() {
    if !support::available("setsid", support::have("setsid")) {
        return;
    }
    let p = project(
        "project: app\nbackends:\n  - name: slow\n    type: plugin\n    config: {timeout: 1s}\n",
        "K=ref://secrets/k\n",
    );
    let pid = p.root.join("grandchild.pid");
    // The grandchild leaves the plugin's process group (a daemon would) and keeps stdout.
    fake(
        &p,
        "envref-backend-slow",
        &format!(
            "cat >/dev/null\nsetsid sh -c 'echo $$ > {pid}; exec sleep 60' &\nwhile [ ! -s {pid} ]; do sleep 0.05; done\necho '{{\"value\": \"v\"}}'\n",
            pid = pid.display()
        ),
    );
    let start = Instant::now();
    let out = p.envref(&["resolve"]).fails(1);
    let elapsed = start.elapsed();
    let grandchild = std::fs::read_to_string(&pid).unwrap();
    let _ = std::process::Command::new("kill")
        .arg(grandchild.trim())
        .status();
    assert!(out.stderr.contains("timed out after 1s"), "{}", out.stderr);
    assert!(
        elapsed < Duration::from_secs(5),
        "resolve took {elapsed:?} with `timeout: 1s`"
    );

    // A plugin that itself waits on its child: both are killed at the deadline.
    let pids = p.root.join("plugin.pids");
    fake(
        &p,
        "envref-backend-slow",
        &format!(
            "cat >/dev/null\nsleep 60 &\necho \"$$ $!\" > '{}'\nwait\n",
            pids.display()
        ),
    );
    let start = Instant::now();
    let out = p.envref(&["resolve"]).fails(1);
    assert!(out.stderr.contains("timed out after 1s"), "{}", out.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "resolve took {:?}",
        start.elapsed()
    );
    let gone = Instant::now() + Duration::from_secs(5);
    for pid in std::fs::read_to_string(&pids).unwrap().split_whitespace() {
        while alive(pid) && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(pid), "{pid} survived the timeout");
    }
}

/// `inject -o` writes the rendered file (secrets in it) to a temp file next to the output, then
/// renames it. Interrupted before the rename, envref removes the temp file and exits 128 + the
/// signal. The template is large (64 MiB) so that the write and its fsync take long enough to
/// be interrupted; the test signals as soon as the temp file appears.
#[test]
fn interrupted_inject_leaves_no_rendered_file() {
    let p = vault_project("", "token", "sk-inject-canary");
    let filler = format!("{}\n", "x".repeat(1023)).repeat(64 * 1024);
    p.write(
        "big.tpl",
        &format!("TOKEN={{{{ ref://secrets/token }}}}\n{filler}"),
    );
    let temp_files = || files_starting(&p.dir, ".out.yml.");
    for (signal, code) in SIGNALS {
        let mut envref = p
            .envref_cmd(&["inject", "-i", "big.tpl", "-o", "out.yml"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while temp_files().is_empty() {
            if let Some(status) = envref.try_wait().unwrap() {
                panic!("SIG{signal}: inject ended ({status}) before its temp file appeared");
            }
            assert!(Instant::now() < deadline, "SIG{signal}: no temp file");
            std::thread::sleep(Duration::from_micros(200)); // leave the core to envref
        }
        interrupt(&mut envref, signal, code);
        assert_eq!(
            temp_files(),
            Vec::<PathBuf>::new(),
            "SIG{signal}: the temp file stayed"
        );
        assert!(
            !p.dir.join("out.yml").exists(),
            "SIG{signal}: the rename happened"
        );
    }
}
