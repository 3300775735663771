//! End-to-end tests of issue 10 §8 ("small leaks of trust") and doctor's half of §7, through
//! the real binary: one check of keys and values for every way in (`secret set`, `vault
//! import`, `secret copy`), reserved rotation-history names, rotate/generate/import that never
//! create or replace silently, audit's reviewed heuristics, and doctor's findings about
//! credentials in `.envref.yaml` and an open vault directory.

use crate::support;

use support::Project;

const PASS: &str = "correct horse battery";
/// A value that must never show up in a message.
const CANARY: &str = "CANARY-9f2c1e7b";

fn vault_project() -> Project {
    let p = Project::with(
        "project: my-app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p
}

fn secrets(p: &Project) -> serde_json::Value {
    let out = p.envref(&["vault", "export"]).ok().stdout;
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["secrets"].clone()
}

fn import_doc(entries: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    serde_json::json!({"version": 1, "secrets": map}).to_string()
}

fn no_canary(out: &support::Run) {
    assert!(
        !out.stdout.contains(CANARY) && !out.stderr.contains(CANARY),
        "the value leaked:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

// ------------------------------------------------------------------ one check for every entry

#[test]
fn import_refuses_what_secret_set_refuses_and_imports_nothing() {
    let p = vault_project();
    p.envref(&["secret", "set", "kept", "--value", "kept-value"])
        .ok();
    let before = secrets(&p);
    // (key, value, what the error says)
    let bad: &[(&str, &str, &str)] = &[
        ("", CANARY, "\"\": the secret key is empty"),
        (
            "../etc",
            CANARY,
            "\"../etc\": the secret key has an empty, `.` or `..` path segment",
        ),
        ("my-app/../etc", CANARY, "`..` path segment"),
        ("app//x", CANARY, "\"app//x\": the secret key has an empty"),
        (
            "my-app/a\nb",
            CANARY,
            "\"my-app/a\\nb\": the secret key contains '\\n'",
        ),
        (
            "my-app/a\0b",
            CANARY,
            "\"my-app/a\\0b\": the secret key contains '\\0'",
        ),
        (
            "nokey",
            CANARY,
            "\"nokey\": a stored key is <project>/<key>",
        ),
        (
            "my-app/x.__history.0",
            CANARY,
            "reserved for the old values",
        ),
        ("my-app/empty", "", "\"my-app/empty\": the value is empty"),
        (
            "my-app/nul",
            "CANARY-9f2c1e7b\0tail",
            "\"my-app/nul\": the value contains a NUL byte",
        ),
    ];
    for (key, value, says) in bad {
        let doc = import_doc(&[("my-app/good", "good-value"), (key, value)]);
        let out = p
            .envref_stdin(&["vault", "import", "--force"], &doc)
            .fails(1);
        assert!(out.stderr.contains(says), "{key:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("nothing was imported")
                && out.stderr.contains("hint: fix or remove these entries"),
            "{}",
            out.stderr
        );
        no_canary(&out);
    }
    // Every problem at once, still nothing stored.
    let out = p
        .envref_stdin(
            &["vault", "import"],
            &import_doc(&[("../a", "x"), ("b//c", "y"), ("my-app/ok", "z")]),
        )
        .fails(1);
    assert!(
        out.stderr.contains("2 invalid entr(ies)")
            && out.stderr.contains("\"../a\"")
            && out.stderr.contains("\"b//c\""),
        "{}",
        out.stderr
    );
    assert_eq!(secrets(&p), before, "a refused import changed the vault");

    // `secret set` refuses the same keys and values.
    for key in ["", "../etc", "app//x", "a\nb", "x.__history.1"] {
        p.envref(&["secret", "set", key, "--value", "v"]).fails(1);
    }
    let out = p
        .envref_stdin(
            &["secret", "set", "nul", "--stdin"],
            "CANARY-9f2c1e7b\0tail",
        )
        .fails(1);
    assert!(out.stderr.contains("NUL"), "{}", out.stderr);
    no_canary(&out);
    assert_eq!(secrets(&p), before);
}

#[test]
fn import_round_trips_rotation_history() {
    let p = vault_project();
    p.envref(&["secret", "set", "api_key", "--value", "v0"])
        .ok();
    p.envref(&["secret", "rotate", "api_key", "--keep", "2"])
        .ok();
    p.envref(&["secret", "rotate", "api_key", "--keep", "2"])
        .ok();
    let exported = p.envref(&["vault", "export"]).ok().stdout;
    let q = vault_project();
    q.envref_stdin(&["vault", "import"], &exported).ok();
    assert_eq!(secrets(&q), secrets(&p));
    assert_eq!(
        q.envref(&["secret", "get", "api_key.__history.2"])
            .ok()
            .stdout,
        "v0\n"
    );
}

#[test]
fn import_replacing_existing_secrets_needs_force() {
    let p = vault_project();
    p.envref(&["secret", "set", "a", "--value", "old-a"]).ok();
    p.envref(&["secret", "set", "b", "--value", "same-b"]).ok();
    let doc = import_doc(&[
        ("my-app/a", CANARY),
        ("my-app/b", "same-b"),
        ("my-app/c", "new-c"),
    ]);
    let out = p.envref_stdin(&["vault", "import"], &doc).fails(1);
    // Names the one key whose value would change (b is unchanged), and the fix.
    assert!(
        out.stderr
            .contains("import would replace 1 existing secret(s)")
            && out.stderr.contains(": my-app/a;"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was imported") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    no_canary(&out);
    assert_eq!(p.envref(&["secret", "get", "a"]).ok().stdout, "old-a\n");
    p.envref(&["secret", "get", "c"]).fails(1);
    // Only new or identical values: no question.
    p.envref_stdin(
        &["vault", "import"],
        &import_doc(&[("my-app/b", "same-b"), ("my-app/c", "new-c")]),
    )
    .ok();
    let out = p.envref_stdin(&["vault", "import", "--force"], &doc).ok();
    no_canary(&out);
    assert_eq!(
        p.envref(&["secret", "get", "a"]).ok().stdout,
        format!("{CANARY}\n")
    );
}

#[test]
fn copy_refuses_path_tricks_in_the_source() {
    let p = vault_project();
    // What a traversal would reach: `<project>/<profile>/<key>` of other names.
    p.envref_stdin(
        &["vault", "import"],
        &import_doc(&[("other/k", "other-value"), ("my-app/other/k", "x")]),
    )
    .ok();
    for (flags, says) in [
        (
            vec!["--from", "../other"],
            "--from \"../other\": a project name is one name",
        ),
        (vec!["--from", ".."], "--from \"..\""),
        (vec!["--from", "other/x"], "without `/`"),
        (vec!["--from", ""], "--from \"\""),
        (
            vec!["--from", "other", "--from-profile", "../other"],
            "--from-profile \"../other\"",
        ),
        (
            vec!["--from", "other", "--from-profile", ".."],
            "--from-profile \"..\"",
        ),
    ] {
        let mut args = vec!["secret", "copy", "k"];
        args.extend(flags);
        let out = p.envref(&args).fails(1);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    p.envref(&["secret", "get", "k"]).fails(1);
    // The plain form works, and does not replace an existing secret without --force.
    p.envref(&["secret", "copy", "k", "--from", "other"]).ok();
    assert_eq!(
        p.envref(&["secret", "get", "k"]).ok().stdout,
        "other-value\n"
    );
    p.envref(&["secret", "set", "k", "--value", "mine"]).ok();
    let out = p
        .envref(&["secret", "copy", "k", "--from", "other"])
        .fails(1);
    assert!(
        out.stderr.contains("already exists") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, "mine\n");
    p.envref(&["secret", "copy", "k", "--from", "other", "--force"])
        .ok();
    assert_eq!(
        p.envref(&["secret", "get", "k"]).ok().stdout,
        "other-value\n"
    );
}

#[test]
fn project_name_cannot_climb_out_of_its_namespace() {
    for name in ["..", "."] {
        let p = Project::with(
            &format!("project: \"{name}\"\nbackends:\n  - name: vault\n    type: vault\n"),
            "",
        )
        .env("ENVREF_VAULT_PASSPHRASE", PASS);
        for args in [vec!["secret", "set", "k", "--value", "v"], vec!["status"]] {
            let out = p.envref(&args).fails(1);
            assert!(
                out.stderr.contains("project: must not be `.` or `..`"),
                "{name} {args:?}: {}",
                out.stderr
            );
        }
    }
}

// ------------------------------------------------------------------ rotate, history, generate

#[test]
fn rotate_of_a_missing_key_fails_and_creates_nothing() {
    let p = vault_project();
    let out = p.envref(&["secret", "rotate", "nope"]).fails(1);
    assert!(
        out.stderr
            .contains("secret not found: my-app/nope; there is nothing to rotate"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("envref secret set nope")
            && out.stderr.contains("envref secret generate nope"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("rotated"), "{}", out.stderr);
    assert_eq!(p.envref(&["secret", "list"]).ok().stdout, "");
    // A profile scope is its own: the project-scope secret is not rotated through it.
    p.envref(&["secret", "set", "k", "--value", "project-k"])
        .ok();
    p.envref(&["secret", "rotate", "k", "-P", "staging"])
        .fails(1);
    assert_eq!(
        p.envref(&["secret", "list", "-P", "staging"]).ok().stdout,
        ""
    );
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, "project-k\n");
}

#[test]
fn history_names_are_reserved_for_rotate() {
    let p = vault_project();
    p.envref(&["secret", "set", "a", "--value", "a0"]).ok();
    for args in [
        vec!["secret", "set", "a.__history.1", "--value", "mine"],
        vec!["secret", "generate", "a.__history.1"],
        vec!["secret", "rotate", "a.__history.1"],
        vec!["secret", "copy", "a.__history.1", "--from", "my-app"],
        vec!["secret", "set", "x.__history.notanumber", "--value", "mine"],
    ] {
        let out = p.envref(&args).fails(1);
        assert!(
            out.stderr.contains(
                "are reserved for the old values `secret rotate` keeps; choose another name"
            ),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(p.envref(&["secret", "list"]).ok().stdout, "a\n");
    // Rotate still archives, and the archive is readable.
    p.envref(&["secret", "rotate", "a"]).ok();
    assert_eq!(
        p.envref(&["secret", "get", "a.__history.1"]).ok().stdout,
        "a0\n"
    );
}

#[test]
fn generate_over_an_existing_secret_needs_force() {
    let p = vault_project();
    p.envref(&["secret", "set", "k", "--value", "original"])
        .ok();
    let out = p.envref(&["secret", "generate", "k"]).fails(1);
    assert!(
        out.stderr
            .contains("my-app/k in backend vault already exists; generate would replace it"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("pass --force") && out.stderr.contains("envref secret rotate k"),
        "{}",
        out.stderr
    );
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, "original\n");
    let new = p
        .envref(&["secret", "generate", "k", "--force", "--print"])
        .ok()
        .stdout;
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, new);
    assert_ne!(new, "original\n");
    // A new key needs nothing.
    p.envref(&["secret", "generate", "fresh"]).ok();
    let help = p.envref(&["secret", "generate", "--help"]).ok().stdout;
    assert!(
        help.contains("--force") && help.contains("secret rotate"),
        "{help}"
    );
}

// ------------------------------------------------------------------ audit

#[test]
fn audit_flags_pins_slash_led_and_placeholder_lookalike_secrets() {
    let p = Project::with(
        "project: my-app\n",
        "DB_PASSWORD=48213579\nAPI_TOKEN=/xK9#mP2q!Lw\nAPI_KEY=replaceXk29mQ7vL\n\
         SECRET_FILE=/run/secrets/x\nMAX_TOKENS=4096\nAPI_SECRET=replace-me\nTLS_PRIVATE_KEY=./certs/server.key\n",
    );
    let out = p.envref(&["audit", "--format", "json"]).fails(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let keys: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["DB_PASSWORD", "API_TOKEN", "API_KEY"],
        "{}",
        out.stdout
    );
    for v in ["48213579", "xK9#mP2q", "replaceXk29mQ7vL"] {
        assert!(
            !out.stdout.contains(v) && !out.stderr.contains(v),
            "{v} printed"
        );
    }
}

// ------------------------------------------------------------------ doctor

#[test]
fn doctor_flags_credentials_in_the_project_config() {
    let p = Project::with(
        &format!(
            "project: my-app\nbackends:\n  - name: vault\n    type: vault\n  - name: hc\n    type: hashicorp-vault\n    config:\n      \
             addr: https://ops:{CANARY}@127.0.0.1:9\n      token: {CANARY}\n      timeout: 2s\n"
        ),
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        out.stdout.contains(
            "error    [credential] .envref.yaml:8: backend hc: `addr:` holds a URL with a password"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            "error    [credential] .envref.yaml:9: backend hc: `token:` holds a credential"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: remove `token:` from .envref.yaml and set VAULT_TOKEN"),
        "{}",
        out.stdout
    );
    no_canary(&out);
    let out = p.envref(&["doctor", "--format", "json"]).fails(1);
    no_canary(&out);
    // Without them, no such finding.
    p.write(
        ".envref.yaml",
        "project: my-app\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: {addr: \"https://127.0.0.1:9\", timeout: 2s}\n",
    );
    assert!(!p.envref(&["doctor"]).stdout.contains("[credential]"));
}

#[cfg(unix)]
#[test]
fn doctor_reports_a_vault_directory_open_to_others() {
    use std::os::unix::fs::PermissionsExt;
    let p = vault_project();
    let dir = p.home.join(".config/envref");
    let chmod = |m| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).unwrap();
    let line = |out: &support::Run, level: &str| {
        out.stdout.lines().any(|l| {
            l.starts_with(level)
                && l.contains(&format!("[vault] {}: the vault directory", dir.display()))
        })
    };
    let fix = format!("fix: chmod 700 {}", dir.display());
    assert!(!p.envref(&["doctor"]).stdout.contains("vault directory"));
    chmod(0o755);
    let out = p.envref(&["doctor"]);
    assert!(
        line(&out, "warning") && out.stdout.contains("mode 755") && out.stdout.contains(&fix),
        "{}",
        out.stdout
    );
    chmod(0o777);
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        line(&out, "error")
            && out.stdout.contains("writable by other users")
            && out.stdout.contains(&fix),
        "{}",
        out.stdout
    );
    chmod(0o700);
}

// ------------------------------------------------------------------ on a terminal

/// Run envref on a pseudo-terminal (util-linux `script`), answering `answer` to its question.
fn on_terminal(p: &Project, args: &[&str], answer: &str) -> support::Run {
    use std::io::Write;
    let quoted: Vec<String> = std::iter::once(support::ENVREF)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let mut c = p.command("script");
    c.args(["-qec", &quoted.join(" "), "/dev/null"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    support::Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        output: out,
    }
}

#[test]
fn replacing_asks_on_a_terminal() {
    if !support::available("script (util-linux)", support::have("script")) {
        return;
    }
    let p = vault_project();
    p.envref(&["secret", "set", "k", "--value", "original"])
        .ok();
    // generate: "n" keeps the value, "y" replaces it.
    let out = on_terminal(&p, &["secret", "generate", "k"], "n\n").fails(1);
    assert!(
        out.stdout.contains(
            "my-app/k in backend vault already exists; replace it (the old value is lost)? [y/N]"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, "original\n");
    on_terminal(&p, &["secret", "generate", "k"], "y\n").ok();
    assert_ne!(p.envref(&["secret", "get", "k"]).ok().stdout, "original\n");
    // vault import --file: names the keys, then "n" imports nothing, "y" imports all.
    p.envref(&["secret", "set", "k", "--value", "original"])
        .ok();
    let file = p.root.join("backup.json");
    std::fs::write(
        &file,
        import_doc(&[("my-app/k", CANARY), ("my-app/new", "n1")]),
    )
    .unwrap();
    let args = ["vault", "import", "--file", file.to_str().unwrap()];
    let out = on_terminal(&p, &args, "n\n").fails(1);
    assert!(
        out.stdout
            .contains("import would replace 1 existing secret(s)")
            && out.stdout.contains(": my-app/k. Replace them? [y/N]"),
        "{}",
        out.stdout
    );
    no_canary(&out);
    assert_eq!(p.envref(&["secret", "get", "k"]).ok().stdout, "original\n");
    p.envref(&["secret", "get", "new"]).fails(1);
    on_terminal(&p, &args, "y\n").ok();
    assert_eq!(p.envref(&["secret", "get", "new"]).ok().stdout, "n1\n");
    assert_eq!(
        p.envref(&["secret", "get", "k"]).ok().stdout,
        format!("{CANARY}\n")
    );
}

/// A cloned repository's `.env` cannot read envref's own credentials out of the environment
/// and hand them on under another name (`${ENVREF_VAULT_PASSPHRASE}` in a value, or the
/// exported value winning under `--precedence environment`): to envref's evaluation they are
/// not set, as they are not for its children.
#[test]
fn a_dotenv_cannot_read_envrefs_own_credentials() {
    let p = Project::with(
        "project: my-app\n",
        "LEAK=${ENVREF_VAULT_PASSPHRASE}\nPATH_OF_KEY=${ENVREF_VAULT_IDENTITY:-none}\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", CANARY)
    .env("ENVREF_VAULT_IDENTITY", format!("/tmp/{CANARY}.txt"));
    let out = p
        .envref(&[
            "run",
            "--no-mask",
            "--",
            "sh",
            "-c",
            "echo \"[$LEAK][$PATH_OF_KEY][${ENVREF_VAULT_PASSPHRASE-}]\"",
        ])
        .ok();
    assert_eq!(out.stdout, "[][none][]\n");
    no_canary(&out);
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, "LEAK=\nPATH_OF_KEY=none\n");
    assert!(out.stderr.contains("is not set"), "{}", out.stderr);
    no_canary(&out);

    std::fs::write(p.dir.join(".env"), "ENVREF_VAULT_PASSPHRASE=placeholder\n").unwrap();
    let out = p.envref(&["resolve", "--precedence", "environment"]).ok();
    assert_eq!(out.stdout, "ENVREF_VAULT_PASSPHRASE=placeholder\n");
    no_canary(&out);

    // The library too (the binaries also take the variables out of their environment first):
    // the loader in a program that has the passphrase exported.
    std::fs::write(
        p.dir.join(".env"),
        "LEAK=${ENVREF_VAULT_PASSPHRASE}\nENVREF_VAULT_IDENTITY=placeholder\n",
    )
    .unwrap();
    let mut c = p.command(std::env::current_exe().unwrap());
    c.args([
        "hardening::loader_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let out = support::run(c).ok();
    assert!(
        out.stdout
            .contains("LOADED LEAK=\nLOADED ENVREF_VAULT_IDENTITY=placeholder\n"),
        "{}",
        out.stdout
    );
    no_canary(&out);
}

/// The loader, as a program using envref's library runs it, exported values winning: run by
/// a_dotenv_cannot_read_envrefs_own_credentials in a child process with the project's
/// environment (ignored in a plain run).
#[test]
#[ignore = "run by a_dotenv_cannot_read_envrefs_own_credentials in a child process"]
fn loader_child() {
    let vars = envref_core::loader::Loader::new()
        .precedence(envref_core::config::Precedence::Environment)
        .load()
        .expect("the loader resolves");
    for v in vars {
        println!("LOADED {}={}", v.key, v.value);
    }
}

/// The environment envref started with stays in `/proc/<pid>/environ` after it took its
/// credentials out; a program it runs as the same user (here uid 12345, as root reads any
/// process's) cannot read the passphrase there while envref waits on it.
#[test]
fn a_child_cannot_read_the_passphrase_from_envrefs_start_environment() {
    if !support::available(
        "root and setpriv (a second uid)",
        crate::agent::current_uid() == 0 && support::have("setpriv"),
    ) {
        return;
    }
    let p = crate::agent::other_users_project();
    let as_other = |args: &[&str]| {
        let mut c = p.command("setpriv");
        c.args(["--reuid=12345", "--regid=12345", "--clear-groups"])
            .arg(support::ENVREF)
            .args(args)
            .env("ENVREF_VAULT_PASSPHRASE", CANARY);
        support::run(c)
    };
    as_other(&["vault", "init", "--work-factor", "10"]).ok();
    as_other(&["secret", "set", "api_key", "--value", "sk-masked"]).ok();
    // Masked (the default), envref stays the program's parent for as long as it runs.
    let out = as_other(&[
        "run",
        "--",
        "sh",
        "-c",
        "cat /proc/$PPID/comm; tr '\\0' '\\n' < /proc/$PPID/environ; echo done",
    ])
    .ok();
    assert!(out.stdout.starts_with("envref\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with("done\n"), "{}", out.stdout);
    no_canary(&out);
}
