//! End-to-end tests of the `envref` binary: the .env engine, the chain with real plugin
//! processes, output formats evaluated by a real bash, `run`, and the local vault.

use crate::support;

use std::collections::BTreeMap;
use std::process::Stdio;

use support::{plugin, Project};

/// A config with two file-backed plugin backends, `first` (bash) and `second` (python).
fn two_plugins() -> Project {
    let config = format!(
        "project: my-app\nbackends:\n  - name: first\n    type: plugin\n    config:\n      command: {}\n  - name: second\n    type: plugin\n    config:\n      command: {}\n",
        plugin("envref-backend-filestore").display(),
        plugin("envref-backend-pystore").display()
    );
    let p = Project::with(&config, "");
    p.allow();
    let log = p.root.join("plugin.log");
    let first = p.root.join("first.json");
    let second = p.root.join("second.json");
    p.env("ENVREF_FILESTORE_LOG", log.display().to_string())
        .env("ENVREF_FILESTORE", first.display().to_string())
        .env("ENVREF_PYSTORE", second.display().to_string())
}

/// Put values straight into a plugin's store file.
fn store(p: &Project, file: &str, values: &[(&str, &str)]) {
    let map: BTreeMap<&str, &str> = values.iter().copied().collect();
    std::fs::write(p.root.join(file), serde_json::to_string(&map).unwrap()).unwrap();
}

fn plugin_log(p: &Project) -> Vec<String> {
    std::fs::read_to_string(p.root.join("plugin.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn have_plugins() -> bool {
    support::available(
        "plugins",
        support::have("jq") && support::have("python3") && support::have("flock"),
    )
}

#[test]
fn spec_examples_resolve() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    p.write(
        ".env",
        "# Simple secret reference\nAPI_KEY=ref://secrets/api_key\nDATABASE_URL=ref://secrets/database_url\nDB_DISPLAY=${DATABASE_URL}\nFULL_URL=postgres://${ref://secrets/db_user}:${ref://secrets/db_pass}@localhost/app\nPLAIN=hello\n",
    );
    store(
        &p,
        "first.json",
        &[("my-app/api_key", "sk-abc123"), ("my-app/db_user", "admin")],
    );
    store(
        &p,
        "second.json",
        &[
            ("my-app/database_url", "postgres://u:p@h/db"),
            ("my-app/db_pass", "s3cr$t"),
        ],
    );
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(
        out.stdout,
        "API_KEY=sk-abc123\nDATABASE_URL=postgres://u:p@h/db\nDB_DISPLAY=postgres://u:p@h/db\nFULL_URL=postgres://admin:s3cr$t@localhost/app\nPLAIN=hello\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.envref(&["resolve", "--format", "json"]).ok().stdout).unwrap();
    assert_eq!(json["FULL_URL"], "postgres://admin:s3cr$t@localhost/app");
}

#[test]
fn chain_order_fallback_and_one_lookup_per_key() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    p.write(".env", "A=ref://secrets/a\nA2=ref://secrets/a\nA3=${A}\nB=ref://secrets/b\nC=ref://second/c\nD=x${ref://secrets/a}\n");
    // `a` in both: the first wins. `b` only in the second. `c` asked of the second only.
    store(
        &p,
        "first.json",
        &[("my-app/a", "from-first"), ("my-app/c", "wrong-backend")],
    );
    store(
        &p,
        "second.json",
        &[
            ("my-app/a", "from-second"),
            ("my-app/b", "bee"),
            ("my-app/c", "sea"),
        ],
    );
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(
        out.stdout,
        "A=from-first\nA2=from-first\nA3=from-first\nB=bee\nC=sea\nD=xfrom-first\n"
    );
    let log = plugin_log(&p);
    // Every key asked for, by `get` or in a batch (`get_many k1 k2 …`).
    let asked: Vec<&str> = log
        .iter()
        .filter(|l| l.starts_with("get ") || l.starts_with("get_many "))
        .flat_map(|l| l.split(' ').skip(1))
        .collect();
    let count = |line: &str| {
        let key = line.strip_prefix("get ").unwrap();
        asked.iter().filter(|k| **k == key).count()
    };
    // Both plugins write to the same log. `a`: found in the first, so the second is never
    // asked; `b`: asked of the first (not found), then of the second.
    assert_eq!(count("get my-app/a"), 1, "{log:?}");
    assert_eq!(count("get my-app/b"), 2, "{log:?}");
    assert_eq!(count("get my-app/c"), 1, "{log:?}");
}

#[test]
fn erroring_backend_falls_through_with_one_warning() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    let bad = p.root.join("bad-plugin");
    std::fs::write(
        &bad,
        "#!/bin/sh\ncat >/dev/null\necho '{\"error\": \"vault sealed\"}'\n",
    )
    .unwrap();
    chmod_x(&bad);
    let config = format!(
        "project: my-app\nbackends:\n  - name: bad\n    type: plugin\n    config: {{command: {}}}\n  - name: second\n    type: plugin\n    config: {{command: {}}}\n",
        bad.display(),
        plugin("envref-backend-pystore").display()
    );
    p.write_allowed_config(&config);
    p.write(".env", "A=ref://secrets/a\nB=ref://secrets/b\n");
    store(&p, "second.json", &[("my-app/a", "1"), ("my-app/b", "2")]);
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, "A=1\nB=2\n");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("bad")
            && warnings[0].contains("vault sealed")
            && warnings[0].contains("trying the next backend")
    );
}

#[test]
fn profile_scope_before_project_scope_across_backends() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    p.write(".env", "K=ref://secrets/k\nONLY=ref://secrets/only\n");
    store(
        &p,
        "first.json",
        &[
            ("my-app/k", "first-project"),
            ("my-app/only", "project-value"),
        ],
    );
    store(&p, "second.json", &[("my-app/staging/k", "second-staging")]);
    let out = p.envref(&["resolve", "-P", "staging"]).ok();
    assert_eq!(out.stdout, "K=second-staging\nONLY=project-value\n");
    // ENVREF_PROFILE selects it too; no profile → project scope.
    assert_eq!(
        p.envref(&["resolve"]).ok().stdout,
        "K=first-project\nONLY=project-value\n"
    );
    let mut q = two_plugins();
    q.set_env("ENVREF_PROFILE", "staging");
    q.write_allowed_config(&p.read(".envref.yaml"));
    q.write(".env", "K=ref://secrets/k\n");
    store(&q, "second.json", &[("my-app/staging/k", "via-env")]);
    assert_eq!(q.envref(&["resolve"]).ok().stdout, "K=via-env\n");
}

#[test]
fn all_or_nothing_and_partial() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    p.write(
        ".env",
        "OK=ref://secrets/present\nMISSING=ref://secrets/absent\nPLAIN=1\n",
    );
    store(&p, "first.json", &[("my-app/present", "yes")]);
    let out = p.envref(&["resolve"]).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains(".env:2:1: MISSING: ref://secrets/absent: first: not found as my-app/absent; second: not found as my-app/absent"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("envref secret set absent"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["resolve", "--partial"]).fails(1);
    assert_eq!(out.stdout, "OK=yes\nPLAIN=1\n");
    // run refuses to start the child.
    let out = p
        .envref(&["run", "--", "sh", "-c", "echo started"])
        .fails(1);
    assert_eq!(out.stdout, "");
}

#[test]
fn plugin_failures_are_one_clear_line() {
    let p = Project::new();
    let cases = [
        ("hang", "#!/bin/sh\nsleep 30\n", "timed out after 1s"),
        (
            "garbage",
            "#!/bin/sh\ncat >/dev/null\necho 'hello there'\n",
            "not the JSON object",
        ),
        (
            "crash",
            "#!/bin/sh\ncat >/dev/null\necho 'db down' >&2\nexit 3\n",
            "db down",
        ),
        (
            "huge",
            "#!/bin/sh\ncat >/dev/null\nhead -c 3000000 /dev/zero | tr '\\0' a\n",
            "more than 1 MiB",
        ),
        (
            "notfound",
            "#!/bin/sh\ncat >/dev/null\necho '{\"error\": \"Key NOT FOUND here\"}'\n",
            "not found as app/k",
        ),
    ];
    for (name, script, expect) in cases {
        let path = p.root.join(name);
        std::fs::write(&path, script).unwrap();
        chmod_x(&path);
        p.write_allowed_config(&format!(
            "project: app\nbackends:\n  - name: {name}\n    type: plugin\n    config: {{command: {}, timeout: 1s}}\n",
            path.display()
        ));
        p.write(".env", "K=ref://secrets/k\n");
        let start = std::time::Instant::now();
        let out = p.envref(&["resolve"]).fails(1);
        assert!(out.stderr.contains(expect), "{name}: {}", out.stderr);
        assert!(out.stderr.contains(name), "{name} named: {}", out.stderr);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{name} took too long"
        );
    }
    // Discovery on PATH as envref-backend-<name>, and a clear error when absent.
    p.write(
        ".envref.yaml",
        "project: app\nbackends:\n  - name: nowhere\n    type: plugin\n",
    );
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("envref-backend-nowhere")
            && out.stderr.contains("executable not found"),
        "{}",
        out.stderr
    );
    let bin = p.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("envref-backend-nowhere"),
        "#!/bin/sh\ncat >/dev/null\necho '{\"value\": \"found-on-path\"}'\n",
    )
    .unwrap();
    chmod_x(&bin.join("envref-backend-nowhere"));
    let mut c = p.envref_cmd(&["resolve"]);
    c.env(
        "PATH",
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    let out = support::run(c).ok();
    assert_eq!(out.stdout, "K=found-on-path\n");
}

#[test]
fn parse_errors_have_positions_and_hide_values() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    );
    let cases = [
        ("OK=1\nJUSTAKEY\n", ".env:2:1: expected KEY=VALUE"),
        ("A=1\n  9BAD=hunter2\n", ".env:2:3: invalid key"),
        (
            "A=\"hunter2\" trailing\n",
            ".env:1:13: unexpected text after the closing quote of A",
        ),
        (
            "A=1\nB='hunter2\n",
            ".env:2:3: unterminated single-quoted value for key B",
        ),
        ("A=${hunter2\n", ".env:1:3: A: unterminated `${`"),
        (
            "A=ref://secrets/hunter2 x\n",
            ".env:1:3: A: invalid reference",
        ),
        ("A=1\nB-C D=hunter2\n", ".env:2:5: invalid character"),
    ];
    for (text, expect) in cases {
        p.write(".env", text);
        let out = p.envref(&["list"]).fails(1);
        assert!(out.stderr.contains(expect), "{text:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("hunter2"),
            "value leaked: {}",
            out.stderr
        );
    }
}

#[test]
fn set_changes_exactly_one_line() {
    let p = Project::with("project: app\n", "");
    let original = "# header comment\n\nexport HOST = 'db.internal'   # where\nPORT=5432\nQUOTED=\"a \\\"b\\\" c\"\n# trailing comment\nMULTI=\"line1\nline2\"\nLAST=`tick`\n";
    p.write(".env", original);
    p.envref(&["set", "PORT=6543"]).ok();
    let after = p.read(".env");
    let changed: Vec<(&str, &str)> = original
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed, [("PORT=5432", "PORT=6543")]);
    assert_eq!(after.lines().count(), original.lines().count());
    p.envref(&["set", "HOST=new host"]).ok();
    assert!(p
        .read(".env")
        .contains("export HOST = \"new host\"   # where\n"));
    p.envref(&["set", "NEW=x", "--local"]).ok();
    assert_eq!(p.read(".env.local"), "NEW=x\n");
    assert_eq!(p.envref(&["get", "NEW"]).ok().stdout, "x\n");
    assert_eq!(p.envref(&["get", "HOST"]).ok().stdout, "new host\n");
    let out = p.envref(&["get", "HOTS"]).fails(1);
    assert!(out.stderr.contains("did you mean HOST?"), "{}", out.stderr);
    let out = p.envref(&["set", "NOEQUALS"]).fails(1);
    assert!(
        out.stderr.contains("argument 1 is not KEY=VALUE"),
        "{}",
        out.stderr
    );
}

#[test]
fn list_masks_references() {
    let p = Project::with(
        "project: app\n",
        "A=1\nS=ref://secrets/s\nE=pre-${ref://secrets/t}\n",
    );
    assert_eq!(
        p.envref(&["list"]).ok().stdout,
        "A=1\nS=ref://***\nE=pre-ref://***\n"
    );
    // `--show-secrets`, its old name, is a hidden alias.
    for flag in ["--show-refs", "--show-secrets"] {
        assert_eq!(
            p.envref(&["list", flag]).ok().stdout,
            "A=1\nS=ref://secrets/s\nE=pre-ref://secrets/t\n"
        );
    }
    let help = p.envref(&["list", "--help"]).ok().stdout;
    assert!(
        help.contains("--show-refs") && !help.contains("show-secrets"),
        "{help}"
    );
    // No reference: resolve needs no backend at all (the default keychain is never asked).
    let q = Project::with("project: app\n", "A=1\nB=${A}2\n");
    assert_eq!(q.envref(&["resolve"]).ok().stdout, "A=1\nB=12\n");
}

#[test]
fn run_passes_exit_codes_and_signals() {
    let p = Project::with("project: app\n", "GREETING=hi there\n");
    for code in [0, 1, 42] {
        let out = p
            .envref(&[
                "run",
                "--",
                "sh",
                "-c",
                &format!("printf %s \"$GREETING\"; exit {code}"),
            ])
            .fails(code);
        assert_eq!(out.stdout, "hi there");
    }
    // envref execs, so the shell sees the child's own death by signal: 128 + 15.
    let mut c = p.command("bash");
    c.args([
        "-c",
        &format!("{} run -- sh -c 'kill -TERM $$'; echo $?", support::ENVREF),
    ]);
    assert_eq!(support::run(c).stdout.trim(), "143");
    let out = p
        .envref(&["run", "--", "envref-no-such-command"])
        .fails(127);
    assert!(out
        .stderr
        .contains("command not found: envref-no-such-command"));
}

#[test]
fn shell_format_survives_eval_byte_for_byte() {
    if !have_plugins() {
        return;
    }
    let p = two_plugins();
    let mut values: Vec<String> = vec![
        "it's".into(),
        "say \"hi\"".into(),
        "$HOME and ${PATH}".into(),
        "`whoami` $(id)".into(),
        "back\\slash\\".into(),
        "line1\nline2\n".into(),
        "ünïcødé 🔑".into(),
        "-n".into(),
        "--flag=1".into(),
        "".into(),
        "trailing space ".into(),
        "'''".into(),
        "\t tab".into(),
        "!history !!".into(),
        "a=b;c|d&e>f<g".into(),
    ];
    // A generated corpus: every printable ASCII character and the awkward ones, mixed.
    let alphabet: Vec<char> = (0x20u8..0x7f)
        .map(char::from)
        .chain(['\n', '\t', '\r', 'é', '€'])
        .collect();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..40 {
        let mut s = String::new();
        for _ in 0..(seed % 24) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        values.push(s);
    }
    let mut env = String::new();
    let mut stored = Vec::new();
    for (i, v) in values.iter().enumerate() {
        env.push_str(&format!("V{i}=ref://secrets/v{i}\n"));
        stored.push((format!("my-app/v{i}"), v.clone()));
    }
    p.write(".env", &env);
    let map: BTreeMap<&str, &str> = stored
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    std::fs::write(
        p.root.join("first.json"),
        serde_json::to_string(&map).unwrap(),
    )
    .unwrap();
    let shell = p.envref(&["resolve", "--format", "shell"]).ok().stdout;
    let script = format!(
        "{shell}\nfor i in $(seq 0 {}); do n=V$i; printf '%s\\0' \"${{!n}}\"; done",
        values.len() - 1
    );
    let mut c = p.command("bash");
    c.args(["-c", &script]);
    let out = support::run(c).ok();
    let got: Vec<&str> = out.stdout.split('\0').collect();
    for (i, v) in values.iter().enumerate() {
        assert_eq!(got[i], v, "value {i}");
    }
    // --direnv is the same output.
    assert_eq!(p.envref(&["resolve", "--direnv"]).ok().stdout, shell);
}

// ---------------------------------------------------------------- the local vault

const PASS: &str = "correct horse";

fn vault_project() -> Project {
    Project::with(
        "project: my-app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS)
}

fn init_vault(p: &Project) {
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
}

fn vault_file(p: &Project) -> std::path::PathBuf {
    p.home.join(".config/envref/vault.db")
}

#[test]
fn vault_round_trip() {
    let p = vault_project();
    // Not initialised: the exact message and its fix.
    p.write(".env", "API_KEY=ref://secrets/api_key\n");
    let out = p.envref(&["secret", "get", "api_key"]).fails(1);
    assert!(
        out.stderr.contains("vault: not initialized") && out.stderr.contains("envref vault init"),
        "{}",
        out.stderr
    );
    init_vault(&p);
    let out = p.envref(&["vault", "init"]).fails(1);
    assert!(out.stderr.contains("already initialized"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&vault_file(&p)), 0o600);
        assert_eq!(mode(vault_file(&p).parent().unwrap()), 0o700);
    }
    p.envref(&[
        "secret",
        "set",
        "api_key",
        "--backend",
        "vault",
        "--value",
        "sk-abc123",
    ])
    .ok();
    p.envref_stdin(&["secret", "set", "token", "--stdin"], "tok-from-stdin\n")
        .ok();
    p.envref(&[
        "secret",
        "set",
        "api_key",
        "--profile",
        "staging",
        "--value",
        "sk-staging",
    ])
    .ok();
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout,
        "sk-abc123\n"
    );
    assert_eq!(
        p.envref(&["secret", "get", "token"]).ok().stdout,
        "tok-from-stdin\n"
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key", "--profile", "staging"])
            .ok()
            .stdout,
        "sk-staging\n"
    );
    assert_eq!(
        p.envref(&["secret", "get", "token", "--profile", "staging"])
            .ok()
            .stdout,
        "tok-from-stdin\n"
    );
    assert_eq!(
        p.envref(&["secret", "list"]).ok().stdout,
        "api_key\nstaging/api_key\ntoken\n"
    );
    assert_eq!(
        p.envref(&["secret", "list", "--profile", "staging"])
            .ok()
            .stdout,
        "api_key\n"
    );
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "API_KEY=sk-abc123\n");
    assert_eq!(
        p.envref(&["resolve", "-P", "staging"]).ok().stdout,
        "API_KEY=sk-staging\n"
    );
    // Missing key.
    let out = p.envref(&["secret", "get", "nope"]).fails(1);
    assert!(
        out.stderr.contains("vault: secret not found: nope")
            && out.stderr.contains("envref secret set nope"),
        "{}",
        out.stderr
    );
    // Delete: refuses without a terminal, works with --force, then not found.
    let out = p.envref(&["secret", "delete", "token"]).fails(1);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    p.envref(&["secret", "delete", "token", "--force"]).ok();
    let out = p.envref(&["secret", "delete", "token", "--force"]).fails(1);
    assert!(
        out.stderr.contains("secret not found: my-app/token"),
        "{}",
        out.stderr
    );
    // Generate.
    let out = p
        .envref(&[
            "secret",
            "generate",
            "session",
            "--length",
            "64",
            "--charset",
            "hex",
            "--print",
        ])
        .ok();
    let v = out.stdout.trim();
    assert!(
        v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()),
        "{v}"
    );
    assert_eq!(
        p.envref(&["secret", "get", "session"]).ok().stdout.trim(),
        v
    );
    assert!(!out.stderr.contains(v));
    for (length, code, message) in [
        ("0", 1, "length 0 is out of range"),
        ("1025", 1, "length 1025 is out of range"),
    ] {
        let out = p
            .envref(&["secret", "generate", "x", "--length", length])
            .fails(code);
        assert!(out.stderr.contains(message), "{}", out.stderr);
    }
    let out = p
        .envref(&["secret", "generate", "x", "--charset", "emoji"])
        .fails(2);
    assert!(
        out.stderr.contains("invalid value 'emoji' for '--charset"),
        "{}",
        out.stderr
    );
    // Copy from another project.
    p.envref(&[
        "secret",
        "copy",
        "api_key",
        "--from",
        "my-app",
        "--from-profile",
        "staging",
        "--profile",
        "prod",
    ])
    .ok();
    assert_eq!(
        p.envref(&["secret", "get", "api_key", "-P", "prod"])
            .ok()
            .stdout,
        "sk-staging\n"
    );
    p.envref(&["secret", "copy", "api_key", "--from", "other-project"])
        .fails(1);
    // Rotate with history.
    let mut seen = vec!["sk-abc123".to_string()];
    for _ in 0..3 {
        let out = p
            .envref(&["secret", "rotate", "api_key", "--keep", "2", "--print"])
            .ok();
        seen.push(out.stdout.trim().to_string());
    }
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout.trim(),
        seen[3]
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key.__history.1"])
            .ok()
            .stdout
            .trim(),
        seen[2]
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key.__history.2"])
            .ok()
            .stdout
            .trim(),
        seen[1]
    );
    let out = p.envref(&["secret", "get", "api_key.__history.3"]).fails(1);
    assert!(
        out.stderr.contains("secret not found: api_key.__history.3"),
        "{}",
        out.stderr
    );
    // Wrong passphrase.
    let mut c = p.envref_cmd(&["secret", "get", "api_key"]);
    c.env("ENVREF_VAULT_PASSPHRASE", "wrong");
    let out = support::run(c).fails(1);
    assert!(
        out.stderr.contains("vault: wrong passphrase"),
        "{}",
        out.stderr
    );
    // No passphrase and no terminal.
    let mut c = p.envref_cmd(&["secret", "get", "api_key"]);
    c.env_remove("ENVREF_VAULT_PASSPHRASE");
    let out = support::run(c).fails(1);
    assert!(
        out.stderr.contains("ENVREF_VAULT_PASSPHRASE"),
        "{}",
        out.stderr
    );
    // Lock and unlock.
    p.envref(&["vault", "lock"]).ok();
    let out = p.envref(&["secret", "get", "api_key"]).fails(1);
    assert!(
        out.stderr.contains("vault: locked") && out.stderr.contains("envref vault unlock"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["resolve"]).fails(1);
    assert!(out.stderr.contains("vault: locked"), "{}", out.stderr);
    let mut c = p.envref_cmd(&["vault", "unlock"]);
    c.env("ENVREF_VAULT_PASSPHRASE", "wrong");
    let out = support::run(c).fails(1);
    assert!(
        out.stderr.contains("vault: wrong passphrase"),
        "{}",
        out.stderr
    );
    p.envref(&["vault", "unlock"]).ok();
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout.trim(),
        seen[3]
    );
}

#[test]
fn vault_values_never_in_clear() {
    let p = vault_project();
    init_vault(&p);
    let secret = "PLAINTEXT-CANARY-7f3a9";
    p.envref(&["secret", "set", "canary", "--value", secret])
        .ok();
    p.write(".env", "C=ref://secrets/canary\n");
    let db = std::fs::read(vault_file(&p)).unwrap();
    let wal = std::fs::read(vault_file(&p).with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    for args in [
        vec!["secret", "list"],
        vec!["list"],
        vec!["list", "--show-refs"],
        vec!["config", "show"],
        vec!["secret", "set", "canary2", "--value", secret],
        vec!["secret", "rotate", "canary2"],
        vec!["secret", "delete", "canary2", "--force"],
        vec!["-v", "resolve", "--format", "json"],
    ] {
        let out = p.envref(&args);
        let leaked_out =
            out.stdout.contains(secret) && args != ["-v", "resolve", "--format", "json"];
        assert!(!leaked_out, "{args:?} printed the value on stdout");
        assert!(
            !out.stderr.contains(secret),
            "{args:?} printed the value on stderr"
        );
    }
    // Errors about the value's key do not carry the value either.
    let mut c = p.envref_cmd(&["resolve"]);
    c.env("ENVREF_VAULT_PASSPHRASE", "wrong");
    let out = support::run(c).fails(1);
    assert!(!out.stderr.contains(secret));
}

#[test]
fn vault_export_import_round_trip_and_go_format() {
    let p = vault_project();
    init_vault(&p);
    p.envref(&["secret", "set", "a", "--value", "line1\nline2 \"q\" $x"])
        .ok();
    p.envref(&["secret", "set", "b", "--value", "bee"]).ok();
    let exported = p.envref(&["vault", "export"]).ok().stdout;
    let doc: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(doc["version"], 1);
    assert!(doc["exported_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(doc["secrets"]["my-app/a"], "line1\nline2 \"q\" $x");
    // Into a fresh vault.
    let q = vault_project();
    init_vault(&q);
    q.envref_stdin(&["vault", "import"], &exported).ok();
    assert_eq!(
        q.envref(&["secret", "get", "a"]).ok().stdout,
        "line1\nline2 \"q\" $x\n"
    );
    // To a file only its owner reads (a shell's `>` would make it 0644), and back.
    let out = p.envref(&["vault", "export", "-o", "backup.json"]).ok();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("to backup.json (mode 0600)"),
        "{}",
        out.stderr
    );
    let backup = p.dir.join("backup.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&backup).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&backup).unwrap()).unwrap();
    assert_eq!(doc["secrets"]["my-app/b"], "bee");
    // With -C, the file is relative to that directory, as `inject -o`'s is.
    let mut c = p.envref_cmd(&[
        "-C",
        &p.dir.display().to_string(),
        "vault",
        "export",
        "-o",
        "copy.json",
    ]);
    c.current_dir(&p.root);
    support::run(c).ok();
    assert!(p.dir.join("copy.json").is_file());
    q.envref(&["secret", "delete", "b", "--force"]).ok();
    q.envref(&[
        "vault",
        "import",
        "--force",
        "--file",
        &backup.display().to_string(),
    ])
    .ok();
    assert_eq!(q.envref(&["secret", "get", "b"]).ok().stdout, "bee\n");
    // A file written by the Go envref.
    let go = "{\n  \"version\": 1,\n  \"exported_at\": \"2026-04-22T10:00:00Z\",\n  \"secrets\": {\n    \"my-app/go_key\": \"from-go\"\n  }\n}\n";
    q.envref_stdin(&["vault", "import"], go).ok();
    assert_eq!(
        q.envref(&["secret", "get", "go_key"]).ok().stdout,
        "from-go\n"
    );
    // Malformed: nothing changes.
    let before = q.envref(&["vault", "export"]).ok().stdout;
    let out = q
        .envref_stdin(
            &["vault", "import"],
            "{\"version\": 1, \"secrets\": {\"my-app/z\": \"ok\", \"my-app/y\": 5}}",
        )
        .fails(1);
    assert!(out.stderr.contains("not a string"), "{}", out.stderr);
    let out = q
        .envref_stdin(&["vault", "import"], "{\"version\": 2, \"secrets\": {}}")
        .fails(1);
    assert!(
        out.stderr.contains("stdin: unsupported export version 2"),
        "{}",
        out.stderr
    );
    let out = q.envref_stdin(&["vault", "import"], "{not json").fails(1);
    assert!(
        out.stderr
            .contains("stdin: line 1 column 2: not valid JSON"),
        "{}",
        out.stderr
    );
    let after = q.envref(&["vault", "export"]).ok().stdout;
    let strip = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["secrets"].clone();
    assert_eq!(strip(&before), strip(&after));
}

#[test]
fn vault_concurrent_writers_lose_nothing() {
    let p = vault_project();
    init_vault(&p);
    let mut children = Vec::new();
    for w in 0..8 {
        let mut c = p.command("bash");
        let script = format!(
            "for i in $(seq 1 100); do {} secret set w{w}_k$i --value v$i -q || exit 1; done",
            support::ENVREF
        );
        c.args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        children.push(c.spawn().unwrap());
    }
    for ch in children {
        let out = ch.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = p.envref(&["secret", "list"]).ok().stdout;
    assert_eq!(list.lines().count(), 800);
}

/// SIGKILL during the import's one write transaction leaves the vault as it was. The kill
/// must land while the bulk is being written, so it waits for the write-ahead log to outgrow
/// SQLite's page cache (the insert loop is under way, the commit not done); an import that
/// finished before it could be caught is retried, and three such misses fail the test.
#[test]
fn vault_import_killed_midway_is_all_or_nothing() {
    for _attempt in 0..3 {
        if import_killed_while_writing() {
            return;
        }
        eprintln!("the import finished before it could be killed while writing; again");
    }
    panic!("the import finished three times before it could be killed while writing");
}

/// One attempt: true if the import was killed mid-write (and then checked), false if it
/// finished first (and then checked complete).
fn import_killed_while_writing() -> bool {
    use std::os::unix::process::ExitStatusExt;
    const KEYS: usize = 2_000; // 2,000 values of 10 kB: about 20 MB of WAL at commit
    let p = vault_project();
    init_vault(&p);
    p.envref(&["secret", "set", "old", "--value", "old-value"])
        .ok();
    let pad = "x".repeat(10_000);
    let secrets: serde_json::Map<_, _> = (0..KEYS)
        .map(|i| (format!("my-app/bulk{i}"), format!("value-{i}-{pad}").into()))
        .collect();
    let file = p.root.join("big.json");
    let doc = serde_json::json!({"version": 1, "secrets": secrets});
    std::fs::write(&file, doc.to_string()).unwrap();
    let wal = p.home.join(".config/envref/vault.db-wal");
    let mut c = p.envref_cmd(&["vault", "import", "--file", file.to_str().unwrap()]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    // Over 1 MB: more than any write but the bulk insert's, which spills its pages into the
    // log before the commit once they outgrow the 2 MB page cache.
    let writing = |wal: &std::path::Path| std::fs::metadata(wal).is_ok_and(|m| m.len() > 1 << 20);
    let caught = loop {
        if writing(&wal) {
            child.kill().unwrap(); // SIGKILL
            break true;
        }
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        std::hint::spin_loop();
    };
    let status = child.wait().unwrap();
    let count = p.envref(&["secret", "list"]).ok().stdout.lines().count();
    assert_eq!(
        p.envref(&["secret", "get", "old"]).ok().stdout,
        "old-value\n"
    );
    if caught {
        assert_eq!(
            status.signal(),
            Some(9),
            "the import was not killed: {status}"
        );
        assert_eq!(count, 1, "a killed import left {} of its keys", count - 1);
    } else {
        assert!(status.success(), "{status}");
        assert_eq!(count, KEYS + 1);
    }
    caught
}

#[test]
fn shared_secret_decrypts_with_age() {
    let p = vault_project();
    init_vault(&p);
    p.envref(&["secret", "set", "api_key", "--value", "share-me"])
        .ok();
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let armored = p
        .envref(&["secret", "share", "api_key", "--to", &recipient])
        .ok()
        .stdout;
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!armored.contains("share-me"));
    let plain = age::decrypt(&identity, &read_armor(&armored)).unwrap();
    assert_eq!(plain, b"share-me");
    p.write("bob.pub", &format!("# bob\n{recipient}\n"));
    let armored = p
        .envref(&["secret", "share", "api_key", "--to-file", "bob.pub"])
        .ok()
        .stdout;
    assert_eq!(
        age::decrypt(&identity, &read_armor(&armored)).unwrap(),
        b"share-me"
    );
    // Someone else cannot.
    assert!(age::decrypt(&age::x25519::Identity::generate(), &read_armor(&armored)).is_err());
    let out = p
        .envref(&["secret", "share", "api_key", "--to", "not-a-key"])
        .fails(1);
    assert!(
        out.stderr
            .contains("the recipient is not an age public key"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

fn read_armor(text: &str) -> Vec<u8> {
    use std::io::Read;
    let mut r = age::armor::ArmoredReader::new(text.as_bytes());
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn init_writes_a_working_project() {
    let p = Project::new();
    p.envref(&["init", "--project", "demo"]).ok();
    assert!(p.read(".envref.yaml").contains("project: demo"));
    assert!(p.read(".gitignore").lines().any(|l| l == ".env.local"));
    let out = p.envref(&["init", "--project", "demo"]).ok();
    assert!(out.stderr.contains("skip"), "{}", out.stderr);
    // The template's .env lists as written.
    assert_eq!(
        p.envref(&["list"]).ok().stdout,
        "APP_ENV=development\nAPP_PORT=3000\n"
    );
    assert!(p
        .envref(&["completion", "bash"])
        .ok()
        .stdout
        .contains("envref"));
    assert!(p.envref(&["--version"]).ok().stdout.starts_with("envref "));
}

#[test]
fn config_errors_are_reported_together() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: a\n    type: aws\n  - name: hc\n    type: hashicorp-vault\n    config: {token: hvs.TOPSECRET, bogus: 1}\n",
        "A=1\n",
    );
    let out = p.envref(&["list"]).fails(1);
    assert!(
        out.stderr
            .contains("unknown backend type \"aws\"; valid types: keychain, vault"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown option \"bogus\""),
        "{}",
        out.stderr
    );
    p.write(".envref.yaml", "project: app\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: {token: hvs.TOPSECRET}\n");
    let out = p.envref(&["config", "show"]).ok();
    assert!(
        !out.stdout.contains("TOPSECRET") && out.stdout.contains("token: ***"),
        "{}",
        out.stdout
    );
    // Discovery walks up.
    std::fs::create_dir_all(p.dir.join("a/b")).unwrap();
    let mut c = p.envref_cmd(&["get", "A"]);
    c.current_dir(p.dir.join("a/b"));
    assert_eq!(support::run(c).ok().stdout, "1\n");
    assert_eq!(p.envref(&["-C", "a/b", "get", "A"]).ok().stdout, "1\n");
}

fn chmod_x(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn strict_turns_an_unset_variable_into_an_error() {
    // The canary is value text: it must never appear in the warning or the error.
    let p = Project::with(
        "project: app\n",
        "PLAIN=1\nURL=canary-Zq8w-${UNSET_HOST}/x\n",
    );
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, "PLAIN=1\nURL=canary-Zq8w-/x\n");
    assert!(
        out.stderr.contains(
            ".env:2:17: URL: the variable at this `$` is not set, so it expands to an empty string"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("canary"), "{}", out.stderr);

    let out = p.envref(&["resolve", "--strict"]).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains(".env:2:17: the variable at this `$` is not set (--strict)"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("canary") && !out.stderr.contains("warning"),
        "{}",
        out.stderr
    );

    // run --strict refuses to start the child; without --strict the same child runs.
    let marker = p.root.join("started");
    let child = format!("touch '{}'", marker.display());
    let out = p
        .envref(&["run", "--strict", "--", "sh", "-c", &child])
        .fails(1);
    assert!(
        out.stderr
            .contains(".env:2:17: the variable at this `$` is not set (--strict)"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists(), "the child ran");
    p.envref(&["run", "--", "sh", "-c", &child]).ok();
    assert!(marker.exists(), "the child did not run without --strict");
}
