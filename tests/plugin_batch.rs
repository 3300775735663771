//! The plugin batch extension (`get_many`, protocol 1) end to end: the real `envref` binary
//! with the real example plugins (and, where a reply no example gives is needed, a small
//! plugin script). Calls are counted through the plugins' `ENVREF_FILESTORE_LOG`.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use support::{plugin, Project};

fn have_plugins() -> bool {
    support::available(
        "plugins",
        support::have("jq") && support::have("python3") && support::have("flock"),
    )
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A project whose backends are `(name, command)`, in chain order, with the log and both
/// example stores under the project's temp root.
fn project(backends: &[(&str, &Path)], env: &str) -> Project {
    let mut config = String::from("project: app\nbackends:\n");
    for (name, command) in backends {
        config += &format!(
            "  - name: {name}\n    type: plugin\n    config: {{command: {}}}\n",
            command.display()
        );
    }
    let p = Project::with(&config, env);
    p.allow();
    let (log, file, py) = (
        p.root.join("plugin.log"),
        p.root.join("file.json"),
        p.root.join("py.json"),
    );
    p.env("ENVREF_FILESTORE_LOG", log.display().to_string())
        .env("ENVREF_FILESTORE", file.display().to_string())
        .env("ENVREF_PYSTORE", py.display().to_string())
}

/// Write `values` into a store file (`file.json` or `py.json`).
fn store(p: &Project, file: &str, values: &[(String, String)]) {
    let map: BTreeMap<&str, &str> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    std::fs::write(p.root.join(file), serde_json::to_string(&map).unwrap()).unwrap();
}

/// One line per plugin call: `<operation> <key>…`.
fn calls(p: &Project) -> Vec<String> {
    std::fs::read_to_string(p.root.join("plugin.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `.env` lines `K<i>=ref://secrets/k<i>` and the store entries for them.
fn references(n: usize) -> (String, Vec<(String, String)>) {
    let env = (0..n)
        .map(|i| format!("K{i}=ref://secrets/k{i}\n"))
        .collect();
    let values = (0..n)
        .map(|i| (format!("app/k{i}"), format!("value {i}\n\"quoted\" $x\\")))
        .collect();
    (env, values)
}

fn expected_json(values: &[(String, String)]) -> serde_json::Value {
    values
        .iter()
        .map(|(k, v)| (k.replace("app/k", "K"), serde_json::Value::from(v.as_str())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[test]
fn a_batch_plugin_is_called_once_for_many_keys() {
    if !have_plugins() {
        return;
    }
    for (name, file) in [
        ("envref-backend-filestore", "file.json"),
        ("envref-backend-pystore", "py.json"),
    ] {
        let (env, values) = references(25);
        let p = project(&[("store", &plugin(name))], &env);
        store(&p, file, &values);
        let out = p.envref(&["resolve", "--format", "json"]).ok();
        let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(got, expected_json(&values), "{name}");
        let log = calls(&p);
        assert_eq!(log.len(), 1, "{name}: {log:?}");
        let mut asked: Vec<&str> = log[0].split(' ').collect();
        assert_eq!(asked.remove(0), "get_many", "{name}");
        asked.sort();
        let mut keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort();
        assert_eq!(asked, keys, "{name}");
    }
}

#[test]
fn a_batch_plugin_is_called_once_per_scope() {
    if !have_plugins() {
        return;
    }
    let (env, values) = references(10);
    let p = project(&[("store", &plugin("envref-backend-filestore"))], &env);
    // Two in the profile scope, the rest only in the project scope.
    let mut stored = values.clone();
    stored[0].0 = "app/staging/k0".into();
    stored[1].0 = "app/staging/k1".into();
    store(&p, "file.json", &stored);
    p.write(".env.staging", ""); // the profile exists
    let out = p
        .envref(&["resolve", "--format", "json", "-P", "staging"])
        .ok();
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got, expected_json(&values));
    let ops: Vec<String> = calls(&p)
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l.split(' ').next().unwrap(),
                l.split(' ').count() - 1
            )
        })
        .collect();
    // Profile scope: all 10 keys; project scope: the 8 still missing.
    assert_eq!(ops, ["get_many 10", "get_many 8"]);
}

/// A plugin that does not know `get_many`: it answers it like any unknown operation (and
/// logs it), and passes every other request to the real bash example plugin.
fn old_style_plugin(p: &Project) -> std::path::PathBuf {
    let path = p.root.join("old-plugin");
    std::fs::write(
        &path,
        format!(
            "#!/bin/bash\nrequest=$(cat)\ncase \"$request\" in\n  *'\"get_many\"'*)\n    \
             echo get_many >>\"$ENVREF_FILESTORE_LOG\"\n    \
             echo '{{\"error\": \"unsupported operation \\\"get_many\\\"\"}}' ;;\n  \
             *) printf '%s' \"$request\" | exec {} ;;\nesac\n",
            plugin("envref-backend-filestore").display()
        ),
    )
    .unwrap();
    chmod_x(&path);
    path
}

#[test]
fn a_plugin_without_batches_works_and_is_probed_once_per_run() {
    if !have_plugins() {
        return;
    }
    let (env, values) = references(6);
    let scratch = Project::new();
    let old = old_style_plugin(&scratch);
    let p = project(&[("store", &old)], &env);
    store(&p, "file.json", &values);
    p.write(".env.dev", ""); // the profile exists
                             // A profile: two scopes, so two batches of lookups, yet one probe.
    let out = p.envref(&["resolve", "--format", "json", "-P", "dev"]).ok();
    let got: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got, expected_json(&values));
    let log = calls(&p);
    let count = |op: &str| {
        log.iter()
            .filter(|l| l.split(' ').next() == Some(op))
            .count()
    };
    assert_eq!(count("get_many"), 1, "{log:?}");
    assert_eq!(count("get"), 12, "one get per key and scope: {log:?}");
    assert_eq!(log.len(), 13, "{log:?}");
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

/// A batch plugin whose reply is `reply` (a file, printed as is) and which logs its calls.
fn scripted_plugin(p: &Project, reply: &str) -> std::path::PathBuf {
    let (path, body) = (p.root.join("scripted"), p.root.join("reply.json"));
    std::fs::write(&body, reply).unwrap();
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncat >/dev/null\necho call >>\"$ENVREF_FILESTORE_LOG\"\ncat '{}'\n",
            body.display()
        ),
    )
    .unwrap();
    chmod_x(&path);
    path
}

#[test]
fn a_per_key_error_is_reported_for_that_key_only() {
    if !have_plugins() {
        return;
    }
    let scratch = Project::new();
    let batch = scripted_plugin(
        &scratch,
        r#"{"protocol": 1, "results": {"app/a": {"value": "from-batch"},
            "app/b": {"error": "permission denied for this key\nsecond line"},
            "app/c": {"error": "not found"}}}"#,
    );
    let env = "A=ref://secrets/a\nB=ref://secrets/b\nC=ref://secrets/c\n";
    let p = project(
        &[("batch", &batch), ("py", &plugin("envref-backend-pystore"))],
        env,
    );
    store(
        &p,
        "py.json",
        &[
            ("app/b".into(), "from-py".into()),
            ("app/c".into(), "py-c".into()),
        ],
    );
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, "A=from-batch\nB=from-py\nC=py-c\n");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("batch: plugin")
            && warnings[0].contains("get failed: permission denied for this key")
            && !warnings[0].contains("second line"),
        "{}",
        warnings[0]
    );
    // The batch plugin once for a, b, c; the python plugin once for b and c.
    assert_eq!(calls(&p), ["call", "get_many app/b app/c"]);

    // Alone in the chain, B fails with the plugin's reason; A resolves with --partial.
    let p = project(&[("batch", &batch)], env);
    let out = p.envref(&["resolve", "--partial"]).fails(1);
    assert_eq!(out.stdout, "A=from-batch\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let about = |var: &str| lines.iter().filter(|l| l.contains(var)).count();
    assert!(
        out.stderr
            .contains(".env:2:1: B: ref://secrets/b: batch: plugin")
            && out
                .stderr
                .contains("get failed: permission denied for this key"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(".env:3:1: C: ref://secrets/c: batch: not found as app/c"),
        "{}",
        out.stderr
    );
    assert_eq!(about("A: ref://"), 0, "{}", out.stderr);
}

#[test]
fn a_malformed_batch_reply_is_a_clear_error() {
    if !have_plugins() {
        return;
    }
    let cases = [
        (
            r#"{"protocol": 1, "results": {"app/a": {"value": ["SECRET-CANARY"]}}}"#,
            "a field is not of the protocol's type",
        ),
        (
            r#"{"protocol": 1, "results": {"app/a": {"value": "SECRET-CANA"#,
            "EOF while parsing a string at line 1 column",
        ),
        (
            r#"{"protocol": 7, "results": {}}"#,
            "it speaks batch protocol 7, envref speaks 1",
        ),
        (
            r#"{"protocol": 1, "results": {"app/a": {"value": "SECRET-CANARY"}}}"#,
            "get_many: no answer for app/b",
        ),
    ];
    for (reply, why) in cases {
        let scratch = Project::new();
        let batch = scripted_plugin(&scratch, reply);
        let p = project(
            &[("batch", &batch)],
            "A=ref://secrets/a\nB=ref://secrets/b\n",
        );
        let out = p.envref(&["resolve"]).fails(1);
        assert!(out.stderr.contains(why), "{reply}\n{}", out.stderr);
        assert!(!out.stderr.contains("SECRET-CANARY"), "{}", out.stderr);
        assert!(
            out.stderr.contains("\"protocol\": 1"),
            "no hint: {}",
            out.stderr
        );
        // One call: a plugin that declared the extension is not asked again key by key.
        assert_eq!(calls(&p), ["call"], "{reply}");
    }
}
