//! The keychain backend against a real Secret Service (gnome-keyring), through the real binary.
//!
//! Run inside a private session bus with an unlocked keyring:
//!
//!     dbus-run-session -- bash tests/support/start-keyring.sh \
//!         cargo test -p cargo-envref --test suite keychain::
//!
//! Tests that need the keyring skip with a notice when no Secret Service answers, unless
//! `ENVREF_TEST_REQUIRE` names `keychain`. The "no session bus" tests run everywhere.
//! Every test uses its own project name, so they share one keyring without colliding.
use crate::support;

use std::process::Command;

use support::{available, have, root, run, Project, Run, ENVREF};

/// Whether a Secret Service owns its bus name on the session bus this test process sees.
fn secret_service() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() || !have("dbus-send") {
        return false;
    }
    Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        .unwrap_or(false)
}

fn keychain() -> bool {
    available("keychain", secret_service())
}

fn keychain_and_secret_tool() -> bool {
    available("keychain", secret_service() && have("secret-tool"))
}

/// A project name no other test (or earlier run in the same keyring) uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("kc-{name}-{}-{nanos}", std::process::id())
}

/// A project whose chain is the default (no `backends:`): the keychain alone.
fn project(name: &str) -> (Project, String) {
    let ns = unique(name);
    (Project::with(&format!("project: {ns}\n"), ""), ns)
}

/// Run `cmd` without any session bus: no address, and a runtime dir with no `bus` socket in it
/// (libdbus falls back to `$XDG_RUNTIME_DIR/bus`).
fn without_bus(p: &Project, mut cmd: Command) -> Run {
    let runtime = p.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    cmd.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("DISPLAY");
    run(cmd)
}

fn secret_tool(p: &Project, args: &[&str]) -> Run {
    let mut c = p.command("secret-tool");
    c.args(args);
    run(c)
}

/// `secret-tool store` with the value on stdin (no trailing newline).
fn secret_tool_store(p: &Project, user: &str, value: &str) {
    use std::io::Write;
    use std::process::Stdio;
    let mut c = p.command("secret-tool");
    c.args([
        "store",
        "--label",
        "stored by secret-tool",
        "service",
        "envref",
        "username",
        user,
    ]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "secret-tool store: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn set_get_overwrite_list_delete() {
    if !keychain() {
        return;
    }
    let (p, ns) = project("roundtrip");
    let r = p
        .envref(&["secret", "set", "api_key", "--value", "first-value-1"])
        .ok();
    assert!(
        r.stderr
            .contains(&format!("stored {ns}/api_key in backend keychain")),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("first-value-1"),
        "a value in a message: {}",
        r.stderr
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout,
        "first-value-1\n"
    );

    // Overwrite: one item, the new value.
    p.envref(&[
        "secret",
        "set",
        "api_key",
        "--value",
        "second value, with spaces & $ymbols",
    ])
    .ok();
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout,
        "second value, with spaces & $ymbols\n"
    );
    p.envref_stdin(&["secret", "set", "token", "--stdin"], "multi\nline\n")
        .ok();
    assert_eq!(
        p.envref(&["secret", "get", "token"]).ok().stdout,
        "multi\nline\n"
    );

    // Another project's key in the same keychain is not listed.
    let (other, _) = project("roundtrip-other");
    other
        .envref(&["secret", "set", "api_key", "--value", "x"])
        .ok();

    let r = p.envref(&["secret", "list"]).ok();
    assert_eq!(lines(&r.stdout), ["api_key", "token"]);
    assert!(!r.stdout.contains("second value") && !r.stderr.contains("second value"));

    let r = p.envref(&["secret", "delete", "api_key", "--force"]).ok();
    assert!(
        r.stderr.contains(&format!("deleted {ns}/api_key")),
        "{}",
        r.stderr
    );
    assert_eq!(lines(&p.envref(&["secret", "list"]).ok().stdout), ["token"]);
    let r = p
        .envref(&["secret", "delete", "api_key", "--force"])
        .fails(1);
    assert!(
        r.stderr.contains("keychain: secret not found"),
        "{}",
        r.stderr
    );

    // A missing key: the troubleshooting text and the fix, exit 1.
    let r = p.envref(&["secret", "get", "api_key"]).fails(1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("error: keychain: secret not found: api_key"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("envref secret set api_key"),
        "{}",
        r.stderr
    );

    // With a profile, the profile scope is its own namespace.
    p.envref(&[
        "secret",
        "set",
        "token",
        "--value",
        "staging-token",
        "-P",
        "staging",
    ])
    .ok();
    assert_eq!(
        p.envref(&["secret", "get", "token", "-P", "staging"])
            .ok()
            .stdout,
        "staging-token\n"
    );
    assert_eq!(
        p.envref(&["secret", "get", "token"]).ok().stdout,
        "multi\nline\n"
    );
    assert_eq!(
        lines(&p.envref(&["secret", "list", "-P", "staging"]).ok().stdout),
        ["token"]
    );
}

#[test]
fn secret_tool_reads_what_envref_stored_and_back() {
    if !keychain_and_secret_tool() {
        return;
    }
    let (p, ns) = project("crosscheck");
    p.envref(&["secret", "set", "api_key", "--value", "from-envref"])
        .ok();
    let r = secret_tool(
        &p,
        &[
            "lookup",
            "service",
            "envref",
            "username",
            &format!("{ns}/api_key"),
        ],
    )
    .ok();
    assert_eq!(r.stdout, "from-envref");

    secret_tool_store(&p, &format!("{ns}/db_password"), "from secret-tool");
    assert_eq!(
        p.envref(&["secret", "get", "db_password"]).ok().stdout,
        "from secret-tool\n"
    );
    assert_eq!(
        lines(&p.envref(&["secret", "list"]).ok().stdout),
        ["api_key", "db_password"]
    );

    // Resolution reads it too, and deleting through envref removes the item secret-tool sees.
    p.write(".env", "DB_PASSWORD=ref://secrets/db_password\n");
    assert_eq!(
        p.envref(&["resolve"]).ok().stdout,
        "DB_PASSWORD=from secret-tool\n"
    );
    p.envref(&["secret", "delete", "db_password", "--force"])
        .ok();
    let r = secret_tool(
        &p,
        &[
            "lookup",
            "service",
            "envref",
            "username",
            &format!("{ns}/db_password"),
        ],
    );
    assert_ne!(r.code, Some(0), "still there: {r:?}");
    assert!(r.stdout.is_empty());
}

/// The spec's keychain quickstart, verbatim, in a project `envref init` made (no backends section).
#[test]
fn spec_quickstart_with_the_default_chain() {
    if !keychain() {
        return;
    }
    let p = Project::new();
    let ns = unique("quickstart");
    let r = p.envref(&["init", "--project", &ns]).ok();
    assert!(!r.stderr.contains("vault first"), "{}", r.stderr);
    let config = p.read(".envref.yaml");
    assert!(
        !config.lines().any(|l| l.starts_with("backends")),
        "init wrote a backends section:\n{config}"
    );
    p.write(".env", "");

    p.envref(&[
        "secret",
        "set",
        "database_url",
        "--value",
        "postgres://user:pass@localhost/mydb",
    ])
    .ok();
    let r = p.envref(&["secret", "get", "database_url"]).ok();
    assert_eq!(r.stdout, "postgres://user:pass@localhost/mydb\n");
    let mut echo = p.command("sh");
    echo.args([
        "-c",
        "echo 'DATABASE_URL=ref://secrets/database_url' >> .env",
    ]);
    run(echo).ok();
    let r = p.envref(&["resolve"]).ok();
    assert_eq!(
        r.stdout,
        "DATABASE_URL=postgres://user:pass@localhost/mydb\n"
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
}

#[test]
fn no_session_bus_is_unavailable_with_the_vault_hint() {
    let (p, _) = project("nobus");
    for args in [
        &["secret", "get", "api_key"][..],
        &["secret", "set", "api_key", "--value", "v-1"],
        &["secret", "list"],
    ] {
        let r = without_bus(&p, p.envref_cmd(args)).fails(1);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert!(
            r.stderr
                .contains("error: keychain: unavailable (no Secret Service on this machine)"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("hint:") && r.stderr.contains("envref vault init"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("`vault` first"), "{args:?}: {}", r.stderr);
        assert!(
            !r.stderr.contains("PlatformFailure") && !r.stderr.contains("v-1"),
            "{args:?}: {}",
            r.stderr
        );
    }
    p.write(".env", "API_KEY=ref://secrets/api_key\n");
    let r = without_bus(&p, p.envref_cmd(&["resolve"])).fails(1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("keychain: unavailable (no Secret Service on this machine)"),
        "{}",
        r.stderr
    );
}

/// A locked keyring, in a private bus and keyring of its own (locking the shared one would
/// disturb the other tests).
#[test]
fn locked_keyring_says_locked_and_how_to_unlock() {
    let tools = [
        "dbus-run-session",
        "dbus-send",
        "gnome-keyring-daemon",
        "timeout",
    ];
    if !available(
        "keychain",
        secret_service() && tools.iter().all(|t| have(t)),
    ) {
        return;
    }
    let (p, _) = project("locked");
    let script = r#"
        "$1" secret set a --value locked-value-1 || exit 10
        dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
            org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null || exit 11
        "$1" secret get a
    "#;
    let start = root().join("tests/support/start-keyring.sh");
    let mut c = p.command("timeout");
    c.args(["60", "dbus-run-session", "--", "bash"])
        .arg(start)
        .args(["bash", "-c", script, "locked"])
        .arg(ENVREF);
    let r = run(c).fails(1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("error: keychain: locked\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("hint: unlock (or create) the login keyring"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("locked-value-1") && !r.stderr.contains("NoStorageAccess"),
        "{}",
        r.stderr
    );
}

/// A session bus on which nothing provides org.freedesktop.secrets (no service files to
/// activate one): the same "unavailable" as no bus at all.
#[test]
fn bus_without_a_secret_service_is_unavailable() {
    if !available("keychain", have("dbus-run-session")) {
        return;
    }
    let (p, _) = project("noprovider");
    let conf = p.root.join("session.conf");
    std::fs::write(
        &conf,
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
         <busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>\
         <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
         <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
    )
    .unwrap();
    for args in [&["secret", "get", "api_key"][..], &["secret", "list"]] {
        let mut c = p.command("timeout");
        c.args(["60", "dbus-run-session"])
            .arg(format!("--config-file={}", conf.display()))
            .arg("--")
            .arg(ENVREF)
            .args(args);
        let r = run(c).fails(1);
        assert!(
            r.stderr
                .contains("error: keychain: unavailable (no Secret Service on this machine)"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("envref vault init"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("ServiceUnknown"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn init_without_a_secret_service_puts_the_vault_first() {
    let p = Project::new();
    let r = without_bus(&p, p.envref_cmd(&["init", "--project", "nobus-init"])).ok();
    assert!(
        r.stderr
            .contains("keychain: unavailable (no Secret Service on this machine)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("vault first"), "{}", r.stderr);
    assert!(r.stderr.contains("envref vault init"), "{}", r.stderr);
    let config = p.read(".envref.yaml");
    assert!(
        config.contains("backends:\n  - name: vault\n    type: vault\n"),
        "{config}"
    );
    // The file it wrote is valid and its chain is the vault.
    let r = p.envref(&["secret", "get", "x"]).fails(1);
    assert!(r.stderr.contains("vault"), "{}", r.stderr);
}

#[test]
fn init_with_a_secret_service_keeps_the_keychain_default() {
    if !keychain() {
        return;
    }
    let p = Project::new();
    let r = p.envref(&["init", "--project", &unique("init")]).ok();
    assert!(!r.stderr.contains("unavailable"), "{}", r.stderr);
    let config = p.read(".envref.yaml");
    assert!(
        !config.lines().any(|l| l.starts_with("backends")),
        "{config}"
    );
    assert!(config.contains("# backends:"), "{config}");
}

#[test]
fn unavailable_keychain_falls_through_to_the_vault_with_one_warning() {
    let ns = unique("chain");
    let p = Project::with(
        // `staging` is registered: an unknown profile would add its own warning.
        &format!("project: {ns}\nprofiles:\n  staging: {{}}\nbackends:\n  - name: keychain\n    type: keychain\n  - name: vault\n    type: vault\n"),
        "A=ref://secrets/a\nB=ref://secrets/b\nC=ref://secrets/c\nD=${C}-${A}\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", "correct horse battery staple");
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    for (k, v) in [("a", "va"), ("b", "vb"), ("c", "vc")] {
        p.envref(&["secret", "set", k, "--value", v, "--backend", "vault"])
            .ok();
    }
    let r = without_bus(&p, p.envref_cmd(&["resolve"])).ok();
    assert_eq!(lines(&r.stdout), ["A=va", "B=vb", "C=vc", "D=vc-va"]);
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].contains("keychain: unavailable (no Secret Service on this machine)"),
        "{}",
        r.stderr
    );

    // With a profile both scopes are tried; still one warning.
    let r = without_bus(&p, p.envref_cmd(&["resolve", "-P", "staging"])).ok();
    assert_eq!(lines(&r.stdout), ["A=va", "B=vb", "C=vc", "D=vc-va"]);
    assert_eq!(
        r.stderr
            .lines()
            .filter(|l| l.starts_with("warning:"))
            .count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn two_processes_storing_50_keys_each_are_all_listed() {
    if !keychain() {
        return;
    }
    let (p, _) = project("concurrent");
    let p = &p;
    std::thread::scope(|s| {
        for writer in ["a", "b"] {
            s.spawn(move || {
                for i in 0..50 {
                    let key = format!("{writer}_{i:02}");
                    p.envref(&["secret", "set", &key, "--value", &format!("value of {key}")])
                        .ok();
                }
            });
        }
    });
    let r = p.envref(&["secret", "list"]).ok();
    let listed = lines(&r.stdout);
    let mut expected: Vec<String> = ["a", "b"]
        .iter()
        .flat_map(|w| (0..50).map(move |i| format!("{w}_{i:02}")))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        p.envref(&["secret", "get", "b_49"]).ok().stdout,
        "value of b_49\n"
    );
}
