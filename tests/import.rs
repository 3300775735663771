//! `envref import` end to end (issue 14, "Migration"): the real binary moves a realistic `.env`
//! (a quoted multi-line PEM key, a URL with a password, a token; comments, CRLF, mixed quoting)
//! into the local vault, after which `resolve` gives the same bytes and `audit` is clean. A
//! failure half-way (a plugin that fails its 3rd `set`; a file that cannot be replaced) changes
//! neither the store nor the file, and no value shows up in any output.

use crate::support;

use std::path::Path;

use support::{plugin, Project, Run};

const PASS: &str = "correct horse battery";

/// Each secret holds one of these; none may appear in any output but `resolve`'s.
const CANARIES: &[&str] = &["CanaryPemBody", "canary-db-pw", "CanaryTokenQ"];

const PEM: &str = "-----BEGIN PRIVATE KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCanaryPemBody\r\nq8Fz+/xY3lT0bV9m2P1eW4aGk7sQ9dRj\r\n-----END PRIVATE KEY-----";
const DB_URL: &str = "postgres://shop:canary-db-pw@db.internal:5432/shop?sslmode=require";
const TOKEN: &str = "ghp_CanaryTokenQ0123456789abcdefghijklmnop";

/// A `.env` as a real project has it: CRLF, comments, `export`, every quoting, a reference.
fn env_before() -> String {
    [
        "# shop service\r\n".to_string(),
        "APP_NAME=shop\r\n".into(),
        "\r\n".into(),
        "# signing key, pasted from the provider\r\n".into(),
        format!("export JWT_PRIVATE_KEY=\"{PEM}\"\r\n"),
        format!("DATABASE_URL='{DB_URL}'   # primary\r\n"),
        format!("GITHUB_TOKEN=`{TOKEN}`\r\n"),
        "LOG_LEVEL=\"info\"\n".into(), // one LF line in a CRLF file
        "CACHE_URL=ref://secrets/cache_url\r\n".into(),
    ]
    .concat()
}

/// The same file after the import: only the three values changed.
fn env_after() -> String {
    [
        "# shop service\r\n",
        "APP_NAME=shop\r\n",
        "\r\n",
        "# signing key, pasted from the provider\r\n",
        "export JWT_PRIVATE_KEY=ref://secrets/jwt_private_key\r\n",
        "DATABASE_URL=ref://secrets/database_url   # primary\r\n",
        "GITHUB_TOKEN=ref://secrets/github_token\r\n",
        "LOG_LEVEL=\"info\"\n",
        "CACHE_URL=ref://secrets/cache_url\r\n",
    ]
    .concat()
}

#[track_caller]
fn no_canary(out: &Run) {
    for c in CANARIES {
        assert!(
            !out.stdout.contains(c) && !out.stderr.contains(c),
            "a value leaked ({c}):\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

fn vault_project(env: &str) -> Project {
    let p = Project::with(
        "project: shop\nbackends:\n  - name: vault\n    type: vault\n",
        env,
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p
}

fn raw(p: &Project, rel: &str) -> Vec<u8> {
    std::fs::read(p.dir.join(rel)).unwrap()
}

fn resolved(p: &Project) -> serde_json::Value {
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn import_moves_a_realistic_env_and_resolve_gives_the_same_bytes() {
    let p = vault_project(&env_before());
    // The reference already in the file resolves before and after.
    p.envref(&[
        "secret",
        "set",
        "cache_url",
        "--value",
        "redis://cache:6379",
    ])
    .ok();
    let before = resolved(&p);
    assert_eq!(before["JWT_PRIVATE_KEY"], PEM.replace("\r\n", "\n"));
    assert_eq!(before["DATABASE_URL"], DB_URL);
    no_canary(&p.envref(&["audit"]).fails(1));

    let dry = p.envref(&["import", "--detect", "--dry-run"]).ok();
    no_canary(&dry);
    for line in [
        ".env:5: JWT_PRIVATE_KEY -> ref://secrets/jwt_private_key (stored as shop/jwt_private_key, value ----***)",
        ".env:9: DATABASE_URL -> ref://secrets/database_url (stored as shop/database_url, value post***)",
        ".env:10: GITHUB_TOKEN -> ref://secrets/github_token (stored as shop/github_token, value ghp_***)",
    ] {
        assert!(dry.stdout.contains(line), "{line}\n{}", dry.stdout);
    }
    assert!(dry.stderr.contains("nothing was changed"), "{}", dry.stderr);
    assert_eq!(raw(&p, ".env"), env_before().as_bytes());
    assert_eq!(p.envref(&["secret", "list"]).ok().stdout, "cache_url\n");

    let out = p.envref(&["import", "--detect"]).ok();
    no_canary(&out);
    assert!(out
        .stderr
        .contains("moved 3 value(s) from .env into backend vault"));
    assert_eq!(String::from_utf8(raw(&p, ".env")).unwrap(), env_after());
    assert_eq!(resolved(&p), before, "resolve gives back the same values");
    no_canary(&p.envref(&["audit"]).ok());
    // Nothing left to move: a second run changes nothing.
    let again = p.envref(&["import", "--detect"]).ok();
    assert!(
        again.stderr.contains("nothing to import from .env"),
        "{}",
        again.stderr
    );
    assert_eq!(String::from_utf8(raw(&p, ".env")).unwrap(), env_after());
}

#[test]
fn named_keys_json_plan_and_the_hint_without_a_selection() {
    let p = vault_project(&env_before());
    let out = p.envref(&["import"]).fails(1);
    no_canary(&out);
    assert!(
        out.stderr.contains("--keys K1,K2, or pass --detect")
            && out
                .stderr
                .contains("--detect would move JWT_PRIVATE_KEY, DATABASE_URL, GITHUB_TOKEN"),
        "{}",
        out.stderr
    );
    let out = p
        .envref(&[
            "import",
            "--keys",
            "DATABASE_URL,CACHE_URL",
            "--format",
            "json",
        ])
        .ok();
    no_canary(&out);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(plan["moved"][0]["reference"], "ref://secrets/database_url");
    assert_eq!(plan["moved"][0]["existing"], "absent");
    assert_eq!(plan["skipped"][0]["key"], "CACHE_URL");
    assert!(
        out.stderr
            .contains("CACHE_URL skipped: already a reference"),
        "{}",
        out.stderr
    );
    let text = String::from_utf8(raw(&p, ".env")).unwrap();
    assert!(text.contains("DATABASE_URL=ref://secrets/database_url   # primary\r\n"));
    assert!(text.contains(TOKEN), "only the named key moved");
    // A different value already stored under a key is not replaced without --force.
    p.envref(&["secret", "set", "github_token", "--value", "other"])
        .ok();
    let out = p.envref(&["import", "--keys", "GITHUB_TOKEN"]).fails(1);
    assert!(out
        .stderr
        .contains("already holds a different value for shop/github_token"));
    assert_eq!(String::from_utf8(raw(&p, ".env")).unwrap(), text);
    p.envref(&["import", "--keys", "GITHUB_TOKEN", "--force"])
        .ok();
    assert_eq!(
        p.envref(&["secret", "get", "github_token"]).ok().stdout,
        format!("{TOKEN}\n")
    );
}

// ------------------------------------------------------------------ a failure half-way

fn have_plugins() -> bool {
    support::available(
        "plugins",
        support::have("jq") && support::have("python3") && support::have("flock"),
    )
}

/// The failure `flaky_plugin` injects on the 3rd `set`.
const FAIL_3RD_SET: &str =
    "[ $n -eq 3 ] && { echo '{\"error\":\"injected failure on the 3rd set\"}'; exit 0; }";

/// A plugin that passes every request to the Python example store after running `on_set` (a
/// bash line that sees the count `$n`) on each `set`: the counter lives in `<root>/sets`, and
/// each run's operation is logged to `<root>/ops`.
fn flaky_plugin(p: &Project, on_set: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = p.root.join("flaky-plugin");
    let script = format!(
        "#!/usr/bin/env bash\n\
         request=$(cat)\n\
         op=$(printf '%s' \"$request\" | jq -r .operation)\n\
         echo \"$op\" >> {root}/ops\n\
         if [ \"$op\" = set ]; then\n\
         \x20 n=$(( $(cat {root}/sets 2>/dev/null || echo 0) + 1 ))\n\
         \x20 echo $n > {root}/sets\n\
         \x20 {on_set}\n\
         fi\n\
         printf '%s' \"$request\" | {store}\n",
        root = p.root.display(),
        on_set = on_set.replace("ROOT", &p.root.display().to_string()),
        store = plugin("envref-backend-pystore").display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn plugin_project(env: &str, on_set: &str) -> Project {
    let p = untrusted_plugin_project(env, on_set);
    p.allow();
    p
}

/// The flaky plugin's project as a fresh clone has it: `.envref.yaml` not allowed yet.
fn untrusted_plugin_project(env: &str, on_set: &str) -> Project {
    let p = Project::new();
    let command = flaky_plugin(&p, on_set);
    p.write(
        ".envref.yaml",
        &format!(
            "project: shop\nbackends:\n  - name: store\n    type: plugin\n    config: {{command: {}}}\n",
            command.display()
        ),
    );
    p.write(".env", env);
    let store = p.root.join("store.json");
    std::fs::write(&store, r#"{"shop/jwt_private_key": "older"}"#).unwrap();
    p.env("ENVREF_PYSTORE", store.display().to_string())
}

fn store_file(p: &Project) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p.root.join("store.json")).unwrap()).unwrap()
}

#[test]
fn a_backend_failing_half_way_changes_nothing() {
    if !have_plugins() {
        return;
    }
    let p = plugin_project(&env_before(), FAIL_3RD_SET);
    let out = p.envref(&["import", "--detect", "--force"]).fails(1);
    no_canary(&out);
    assert!(
        out.stderr.contains("envref import changed nothing")
            && out.stderr.contains("injected failure on the 3rd set"),
        "{}",
        out.stderr
    );
    // The 1st set replaced a value (--force), the 2nd stored one, the 3rd failed: the new one
    // was deleted and the replaced one put back by a 4th set.
    assert_eq!(std::fs::read_to_string(p.root.join("sets")).unwrap(), "4\n");
    let ops = std::fs::read_to_string(p.root.join("ops")).unwrap();
    assert_eq!(ops.lines().filter(|op| *op == "delete").count(), 1, "{ops}");
    assert_eq!(
        store_file(&p),
        serde_json::json!({"shop/jwt_private_key": "older"})
    );
    assert_eq!(raw(&p, ".env"), env_before().as_bytes());
}

#[test]
fn an_untrusted_config_runs_no_plugin_and_changes_nothing() {
    if !have_plugins() {
        return;
    }
    let p = untrusted_plugin_project(&env_before(), FAIL_3RD_SET);
    let out = p.envref(&["import", "--detect"]).fails(1);
    no_canary(&out);
    assert!(out.stderr.contains("run `envref allow`"), "{}", out.stderr);
    assert!(!p.root.join("ops").exists(), "the plugin ran");
    assert_eq!(
        store_file(&p),
        serde_json::json!({"shop/jwt_private_key": "older"})
    );
    assert_eq!(raw(&p, ".env"), env_before().as_bytes());
}

#[test]
fn a_file_that_cannot_be_replaced_changes_nothing() {
    if !have_plugins() {
        return;
    }
    // The temp file `.<name>.XXXXXX.tmp` would be longer than a file name may be (even root
    // cannot write it), so the rename never happens, after every secret was stored.
    let name = "e".repeat(245);
    let p = plugin_project("", FAIL_3RD_SET);
    p.write(&name, &env_before());
    std::fs::write(p.root.join("sets"), "-10\n").unwrap(); // no injected failure
    let out = p.envref(&["import", &name, "--detect", "--force"]).fails(1);
    no_canary(&out);
    assert!(
        out.stderr.contains("envref import changed nothing"),
        "{}",
        out.stderr
    );
    // Three stored, then the replaced one put back.
    assert_eq!(
        std::fs::read_to_string(p.root.join("sets")).unwrap(),
        "-6\n"
    );
    assert_eq!(
        store_file(&p),
        serde_json::json!({"shop/jwt_private_key": "older"})
    );
    assert_eq!(raw(&p, &name), env_before().as_bytes());
}

#[test]
fn an_interrupt_half_way_changes_nothing() {
    use std::process::Stdio;
    if !have_plugins() {
        return;
    }
    // The 2nd set says it started, then takes long enough for the test to interrupt envref.
    let p = plugin_project(
        &env_before(),
        "[ $n -eq 2 ] && { touch ROOT/waiting; sleep 3; }",
    );
    let mut c = p.envref_cmd(&["import", "--detect", "--force"]);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waiting = p.root.join("waiting");
    for _ in 0..600 {
        if waiting.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(waiting.exists(), "the 2nd set never started");
    let pid = child.id().to_string();
    let mut kill = p.command("kill");
    kill.args(["-INT", &pid]);
    support::run(kill).ok();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("envref import changed nothing: a signal arrived: interrupted"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("canary") && !stderr.contains("Canary"),
        "{stderr}"
    );
    // The 2nd set finished; then the new value was deleted and the replaced one put back.
    assert_eq!(std::fs::read_to_string(p.root.join("sets")).unwrap(), "3\n");
    assert_eq!(
        store_file(&p),
        serde_json::json!({"shop/jwt_private_key": "older"})
    );
    assert_eq!(raw(&p, ".env"), env_before().as_bytes());
}

// ------------------------------------------------------------------ init names import

#[test]
fn init_in_a_directory_with_plaintext_secrets_names_import() {
    let p = Project::new();
    p.write(".env", &env_before());
    let out = p.envref(&["init", "--project", "shop"]).ok();
    no_canary(&out);
    assert!(
        out.stderr.contains(
            "warning: .env holds 3 value(s) that look like plaintext secrets: JWT_PRIVATE_KEY, DATABASE_URL, GITHUB_TOKEN"
        ) && out.stderr.contains("`envref import --detect`"),
        "{}",
        out.stderr
    );
    assert_eq!(raw(&p, ".env"), env_before().as_bytes(), "init keeps .env");
    let clean = Project::new();
    let out = clean.envref(&["init", "--project", "shop"]).ok();
    assert!(!out.stderr.contains("envref import"), "{}", out.stderr);
    assert!(Path::new(&clean.dir.join(".env")).exists());
}

// ------------------------------------------------------------------ the README's example

#[test]
fn the_readme_example_runs() {
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let section = readme
        .split("## Moving plaintext into a backend: envref import")
        .nth(1)
        .expect("the README section");
    let script = section.split("```sh\n").nth(1).unwrap();
    let script = script.split("\n```").next().unwrap();
    let p = Project::new();
    let bin_dir = Path::new(support::ENVREF).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let mut c = p.command("bash");
    c.args(["-e", "-c", script]).env("PATH", path);
    let out = support::run(c).ok();
    assert!(
        p.read(".env").contains(
            "DB_URL=ref://secrets/db_url   # primary\nGITHUB_TOKEN=ref://secrets/github_token\n"
        ),
        "{}",
        p.read(".env")
    );
    assert!(out
        .stdout
        .contains("DB_URL=postgres://shop:hunter22@db.internal/shop\n"));
    assert!(out
        .stderr
        .contains("audit: no plaintext secrets found in .env"));
}
