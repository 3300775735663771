//! Backend failures keep their cause, through the real binary: the keychain's open failure
//! and a plugin's invalid JSON say why (and where), never a value.
use crate::support;

use support::{run, Project};

/// No session bus: the keychain is unavailable, and the message says what the platform said
/// (here: the bus socket that is not there), not just "unavailable".
#[test]
fn keychain_open_failure_shows_its_cause() {
    let p = Project::with("project: nobus-cause\n", "");
    let missing = p.root.join("no-such-bus");
    let mut cmd = p.envref_cmd(&["secret", "list"]);
    cmd.env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", missing.display()),
    );
    let r = run(cmd).fails(1);
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: keychain: unavailable"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let cause = line
        .strip_prefix("error: keychain: unavailable (no Secret Service on this machine): ")
        .unwrap_or_else(|| panic!("no cause: {line}"));
    assert!(cause.contains("no-such-bus"), "{line}");
    assert!(r.stderr.contains("envref vault init"), "{}", r.stderr);
}

/// A plugin that prints `out` and exits 0.
fn plugin_project(out: &str) -> Project {
    let p = Project::new();
    let script = p.root.join("plugin.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat >/dev/null\nprintf '%s' '{out}'\n"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    p.write(
        ".envref.yaml",
        &format!(
            "project: app\nbackends:\n  - name: pl\n    type: plugin\n    config:\n      command: {}\n",
            script.display()
        ),
    );
    p.write(".env", "API_KEY=ref://pl/api_key\n");
    p.allow();
    p
}

#[test]
fn plugin_json_errors_say_why_and_where_without_the_output() {
    for (out, why) in [
        (
            r#"{"value": "CANARY-s3cret"#,
            "EOF while parsing a string at line 1 column 24",
        ),
        (
            r#"{"value": ["CANARY-s3cret"]}"#,
            "a field is not of the protocol's type",
        ),
    ] {
        let p = plugin_project(out);
        let r = p.envref(&["resolve"]).fails(1);
        assert!(
            r.stderr
                .contains("get: the response is not the JSON object the protocol expects: ")
                && r.stderr.contains(why),
            "{out}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("CANARY") && !r.stdout.contains("CANARY"),
            "{}",
            r.stderr
        );
    }
}
