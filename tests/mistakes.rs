//! Issue 11, "No panic on any input", "Mistakes are caught, not guessed around" and "Correct
//! answers": each through the real binary.

use crate::support;

use std::path::Path;

use support::{available, have, run, Project};

const PASS: &str = "correct horse battery staple";

/// A plugin backend in Python: a JSON store at $STORE, every request logged to $LOG as
/// "<operation> <key>", and misbehaviour on demand: $CRASH raises an import error (a Python
/// traceback on stderr), $FOREIGN adds keys outside the asked prefix to `list`.
const PLUGIN: &str = r#"#!/usr/bin/env python3
import json, os, sys
req = json.load(sys.stdin)
op, key = req.get("operation"), req.get("key")
with open(os.environ["LOG"], "a") as log:
    log.write(f"{op} {key}\n")
if os.environ.get("CRASH"):
    import envref_missing_module_for_test  # noqa: F401
store = json.load(open(os.environ["STORE"])) if os.path.exists(os.environ["STORE"]) else {}
if op == "get":
    print(json.dumps({"value": store[key]} if key in store else {"error": "not found"}))
elif op == "list":
    keys = [k for k in store if k.startswith(key or "")]
    if os.environ.get("FOREIGN"):
        keys += ["a", "my-app", "other/x"]
    print(json.dumps({"keys": keys}))
elif op == "set":
    store[key] = req["value"]
    json.dump(store, open(os.environ["STORE"], "w"))
    print("{}")
else:
    print(json.dumps({"error": "unsupported"}))
"#;

fn have_python() -> bool {
    available("python3", have("python3"))
}

/// A project whose backend `p` is [`PLUGIN`], holding `values`; `extra` is appended to the config.
fn plugin_project(env: &str, values: &[(&str, &str)], extra: &str) -> Project {
    let p = Project::new();
    let script = p.root.join("plugin.py");
    std::fs::write(&script, PLUGIN).unwrap();
    make_executable(&script);
    let store: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    std::fs::write(
        p.root.join("store.json"),
        serde_json::to_string(&store).unwrap(),
    )
    .unwrap();
    p.write(".env", env);
    p.write_allowed_config(&format!(
        "project: my-app\nbackends:\n  - name: p\n    type: plugin\n    config:\n      command: {}\n{extra}",
        script.display()
    ));
    let (log, store) = (p.root.join("log"), p.root.join("store.json"));
    p.env("LOG", log.display().to_string())
        .env("STORE", store.display().to_string())
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn log(p: &Project) -> Vec<String> {
    std::fs::read_to_string(p.root.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_huge_timeout_is_a_config_error_and_doctor_still_runs() {
    for t in ["1e300", "99999999999999999999", "0"] {
        let p = Project::with(
            &format!("project: app\nbackends:\n  - name: h\n    type: plugin\n    config: {{command: x, timeout: \"{t}\"}}\n"),
            "A=1\n",
        );
        let out = p.envref(&["resolve"]).fails(1);
        assert!(
            out.stderr
                .contains("h: timeout is not a duration of at most 24h"),
            "{t}: {}",
            out.stderr
        );
        let out = p.envref(&["doctor"]).fails(1);
        assert!(
            out.stdout.contains("[config]") && out.stdout.contains("timeout is not a duration"),
            "{t}: {}",
            out.stdout
        );
    }
}

/// Every backend filters its own list today (the plugin backend does it for the plugin), so
/// this pins the end-to-end answer; `backend::relative_keys_drop_what_is_not_under_the_prefix`
/// covers a backend that does not.
#[test]
fn secret_list_ignores_keys_a_backend_lists_outside_the_prefix() {
    if !have_python() {
        return;
    }
    let p =
        plugin_project("", &[("my-app/k", "v"), ("my-app/staging/s", "v")], "").env("FOREIGN", "1");
    assert_eq!(
        p.envref(&["secret", "list", "--backend", "p"]).ok().stdout,
        "k\nstaging/s\n"
    );
    assert_eq!(
        p.envref(&["secret", "list", "--backend", "p", "-P", "staging"])
            .ok()
            .stdout,
        "s\n"
    );
}

#[test]
fn an_unknown_profile_is_an_error_with_a_suggestion() {
    if !have_python() {
        return;
    }
    let p = plugin_project(
        "A=base\n",
        &[("my-app/qa/k", "v")],
        "profiles:\n  staging: {}\n",
    );
    p.write(".env.review", "A=review\n");
    let out = p.envref(&["resolve", "-P", "stagign"]).fails(1);
    assert!(
        out.stderr.contains("profile stagign not found")
            && out.stderr.contains("did you mean staging?"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "no values for a misspelt profile");
    let mut c = p.envref_cmd(&["run", "--", "true"]);
    c.env("ENVREF_PROFILE", "stagign");
    run(c).fails(1);
    p.envref(&["status", "-P", "stagign"]).fails(1);
    p.envref(&["get", "A", "--resolve", "-P", "stagign"])
        .fails(1);
    let out = p.envref(&["secret", "get", "k", "-P", "qq"]).fails(1);
    assert!(
        out.stderr.contains("profile qq not found")
            && out
                .stderr
                .contains("no backend holds secrets under my-app/qq/"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.envref(&["secret", "get", "k", "-P", "qa"]).ok().stdout,
        "v\n"
    );
    let out = p.envref(&["doctor", "-P", "stagign"]).fails(1);
    assert!(
        out.stdout.contains("[profile] profile stagign not found")
            && out.stdout.contains("did you mean staging?"),
        "{}",
        out.stdout
    );
    // `get` without --resolve asks no backend: it warns instead.
    let out = p.envref(&["get", "A", "-P", "stagign"]).ok();
    assert!(
        out.stderr.contains("warning: profile stagign not found")
            && out.stderr.contains("did you mean staging?"),
        "{}",
        out.stderr
    );
    // Known: registered, by its file, or by secrets scoped to it in a backend.
    assert_eq!(
        p.envref(&["resolve", "-P", "staging"]).ok().stdout,
        "A=base\n"
    );
    assert_eq!(
        p.envref(&["resolve", "-P", "review"]).ok().stdout,
        "A=review\n"
    );
    assert_eq!(p.envref(&["resolve", "-P", "qa"]).ok().stdout, "A=base\n");
}

#[test]
fn dash_c_is_the_cwd_of_the_child_of_run() {
    let p = Project::with("project: app\n", "A=1\n");
    let mut c = p.command(support::ENVREF);
    c.current_dir(&p.root).arg("-C").arg("project").args([
        "run",
        "--",
        "sh",
        "-c",
        "pwd -P; echo \"$PWD\"",
    ]);
    let out = run(c).ok();
    let real = p.dir.canonicalize().unwrap();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], real.to_str().unwrap(), "{}", out.stdout);
    assert_eq!(
        Path::new(lines[1]).canonicalize().unwrap(),
        real,
        "$PWD: {}",
        out.stdout
    );
}

#[test]
fn a_crashed_plugin_gets_its_own_hint_and_its_last_stderr_lines() {
    if !have_python() {
        return;
    }
    let p = plugin_project("K=ref://secrets/k\n", &[], "").env("CRASH", "1");
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("ModuleNotFoundError"),
        "the traceback's last line: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("check the plugin of backend p"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("envref secret set"),
        "storing is not the fix: {}",
        out.stderr
    );
    // Not found is still fixed by storing it.
    let p = plugin_project("K=ref://secrets/k\n", &[], "");
    let out = p.envref(&["resolve"]).fails(1);
    assert!(out.stderr.contains("envref secret set k"), "{}", out.stderr);
}

#[test]
fn a_signed_out_op_says_op_signin_not_secret_set() {
    if !available("1password", have("python3")) {
        return;
    }
    let p = Project::with("", "K=ref://secrets/k\n")
        .env("FAKE_OP_STATE", "/nonexistent")
        .env("FAKE_OP_SIGNED_OUT", "1");
    let op = support::root().join("tests/support/fake-op");
    p.write_allowed_config(&format!(
        "project: app\nbackends:\n  - name: op\n    type: 1password\n    config:\n      command: {}\n",
        op.display()
    ));
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("op signin") && !out.stderr.contains("envref secret set"),
        "{}",
        out.stderr
    );
}

#[test]
fn onepassword_duplicate_items_name_the_fix() {
    // op reports duplicates (two concurrent first stores) like this; the fake state cannot hold them.
    let p = Project::with("", "");
    let op = p.root.join("op");
    std::fs::write(
        &op,
        "#!/bin/sh\necho '[ERROR] 2024/05/01 12:00:00 More than one item matches \"app/k\". Try again and specify the item by its ID:' >&2\nexit 1\n",
    )
    .unwrap();
    make_executable(&op);
    p.write_allowed_config(&format!(
        "project: app\nbackends:\n  - name: op\n    type: 1password\n    config:\n      command: {}\n",
        op.display()
    ));
    let out = p.envref(&["secret", "get", "k"]).fails(1);
    assert!(
        out.stderr.contains("More than one item matches")
            && out.stderr.contains("op item delete <id>"),
        "{}",
        out.stderr
    );
}

#[test]
fn status_never_suggests_storing_into_an_unavailable_keychain() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: keychain\n    type: keychain\n",
        "K=ref://secrets/k\n",
    );
    let runtime = p.root.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut c = p.envref_cmd(&["status"]);
    c.env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", runtime)
        .env_remove("DISPLAY");
    let out = run(c).fails(1);
    assert!(!out.stdout.contains("--backend keychain"), "{}", out.stdout);
    assert!(
        out.stdout.contains("backend keychain is unavailable"),
        "{}",
        out.stdout
    );
}

#[test]
fn unresolved_looking_values_are_never_silent() {
    let env =
        "DB=postgres://u:ref://secrets@db\nT=key op://Engineering/item/field\nOK=ref-like text\n";
    let p = Project::with("project: app\n", env);
    let out = p.envref(&["resolve"]).ok();
    assert!(
        out.stderr
            .contains(": DB: looks like a reference but is passed through as text"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(": T: looks like a reference") && out.stderr.contains("op://"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(": OK:"), "{}", out.stderr);
    let out = p.envref(&["run", "--", "true"]).ok();
    assert!(
        out.stderr.contains(": DB: looks like a reference"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["audit"]).fails(1);
    assert!(
        out.stdout
            .contains(".env:1: DB: looks like a reference but is not resolved"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(".env:2: T: looks like a reference"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("2 value(s) look like references that are not resolved"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        out.stdout
            .contains("[unresolved] .env:1: DB looks like a reference"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("[unresolved] .env:2: T looks like a reference"),
        "{}",
        out.stdout
    );
    // In the local file too.
    p.write(".env", "A=1\n");
    p.write(".env.local", "L=x ref://secrets:l\n");
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        out.stdout
            .contains("[unresolved] .env.local:1: L looks like a reference"),
        "{}",
        out.stdout
    );
}

#[test]
fn get_resolve_asks_only_for_what_the_key_needs() {
    if !have_python() {
        return;
    }
    let env = "A=ref://secrets/a\nB=${C}-x\nC=${ref://secrets/c}\nU=ref://secrets/unrelated\nW=$NOT_SET_ANYWHERE\n";
    let p = plugin_project(env, &[("my-app/c", "cv")], "");
    let out = p.envref(&["get", "B", "--resolve"]).ok();
    assert_eq!(out.stdout, "cv-x\n");
    assert_eq!(log(&p), ["get my-app/c"], "only C's reference is looked up");
    assert!(
        !out.stderr.contains("warning"),
        "no unrelated warnings: {}",
        out.stderr
    );
    // The whole project still asks for everything (and warns about W).
    let out = p.envref(&["resolve", "--partial"]).fails(1);
    assert!(out.stderr.contains("W: the variable"), "{}", out.stderr);
}

#[test]
fn a_targeted_reference_failure_is_reported_once_without_next_backend() {
    if !have_python() {
        return;
    }
    let p = plugin_project("K=ref://p/k\n", &[], "  - name: vault\n    type: vault\n")
        .env("CRASH", "1")
        .env("ENVREF_VAULT_PASSPHRASE", PASS);
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        !out.stderr.contains("trying the next backend"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("ModuleNotFoundError").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn rotate_confirms_before_deleting_old_values_beyond_keep() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", "k", "--value", "v0"]).ok();
    for _ in 0..3 {
        p.envref(&["secret", "rotate", "k"]).ok();
    }
    let history = |p: &Project| p.envref(&["secret", "list"]).ok().stdout;
    assert_eq!(
        history(&p),
        "k\nk.__history.1\nk.__history.2\nk.__history.3\n"
    );
    // --keep 1 would delete two stored old values: no terminal, so it refuses and says how.
    let out = p.envref(&["secret", "rotate", "k", "--keep", "1"]).fails(1);
    assert!(
        out.stderr.contains("no terminal to confirm on") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert_eq!(
        history(&p),
        "k\nk.__history.1\nk.__history.2\nk.__history.3\n",
        "nothing deleted"
    );
    p.envref(&["secret", "rotate", "k", "--keep", "1", "--force"])
        .ok();
    assert_eq!(history(&p), "k\nk.__history.1\n");
}
