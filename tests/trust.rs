//! Issue 10 §4: a cloned repository runs no program before the user trusts its
//! `.envref.yaml` with `envref allow`, and any edit of the file withdraws that trust.
//! Each program here appends to a marker file outside the project: the marker proves
//! whether it ran.

use crate::support;

use std::path::{Path, PathBuf};

use support::{Project, Run};

/// A plugin that records that it ran, then answers every request.
fn helper_script(marker: &Path) -> String {
    format!(
        "#!/bin/sh\necho ran >> '{}'\ncat > /dev/null\necho '{{\"value\": \"from-helper\", \"keys\": [\"app/api_key\"]}}'\n",
        marker.display()
    )
}

fn install(path: &Path, script: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

const CONFIG: &str = "project: app\nbackends:\n  - name: helper\n    type: plugin\n    config:\n      command: ./bin/helper\n";

/// A "cloned" project whose config names `./bin/helper`, and the helper's marker file.
fn clone() -> (Project, PathBuf) {
    let p = Project::with(CONFIG, "API_KEY=ref://secrets/api_key\nPORT=8080\n");
    let marker = p.root.join("marker");
    install(&p.dir.join("bin/helper"), &helper_script(&marker));
    (p, marker)
}

/// Every command that would run the helper: (name, args).
const COMMANDS: &[(&str, &[&str])] = &[
    ("status", &["status"]),
    ("doctor", &["doctor"]),
    ("secret list", &["secret", "list"]),
    ("onboard --dry-run", &["onboard", "--dry-run"]),
    ("resolve", &["resolve"]),
    ("run", &["run", "--", "sh", "-c", "echo child-ran"]),
];

/// Each command refuses (doctor: reports) with the programs and the allow command, and
/// nothing runs: neither the helper nor `run`'s child.
#[track_caller]
fn assert_refused(p: &Project, marker: &Path, why: &str) {
    for (name, args) in COMMANDS {
        let out = p.envref(args).fails(1);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !marker.exists(),
            "{name}: the helper ran before `envref allow`\n{text}"
        );
        assert!(!text.contains("child-ran"), "{name}: the child ran\n{text}");
        assert!(text.contains(why), "{name}: says why ({why})\n{text}");
        assert!(
            text.contains("backend helper (plugin):") && text.contains("bin/helper"),
            "{name}: names the program\n{text}"
        );
        assert!(
            text.contains("run `envref allow`"),
            "{name}: gives the command\n{text}"
        );
        // One error, not one per key or per backend.
        assert_eq!(
            text.matches("bin/helper").count(),
            1,
            "{name}: named once\n{text}"
        );
    }
}

#[track_caller]
fn assert_runs(p: &Project, marker: &Path) {
    let out = p.envref(&["resolve"]).ok();
    assert!(out.stdout.contains("API_KEY=from-helper"), "{}", out.stdout);
    let out = p
        .envref(&["run", "--no-mask", "--", "sh", "-c", "echo child-$API_KEY"])
        .ok();
    assert_eq!(out.stdout, "child-from-helper\n");
    let out = p.envref(&["status"]).ok();
    assert!(
        out.stdout.contains("Trust:    allowed") && out.stdout.contains("backend helper (plugin):"),
        "{}",
        out.stdout
    );
    p.envref(&["onboard", "--dry-run"]).ok();
    assert!(p
        .envref(&["secret", "list"])
        .ok()
        .stdout
        .contains("api_key"));
    assert!(marker.exists(), "the helper ran once allowed");
}

#[test]
fn untrusted_clone_runs_nothing_until_allowed_and_an_edit_revokes() {
    let (p, marker) = clone();
    // Commands that run no backend work on an untrusted clone.
    assert_eq!(p.envref(&["get", "PORT"]).ok().stdout, "8080\n");
    p.envref(&["config", "show"]).ok();
    assert_refused(&p, &marker, "is not allowed yet");

    let out = p.envref(&["allow"]).ok();
    assert!(
        out.stderr.contains("allowed") && out.stderr.contains("backend helper (plugin)"),
        "{}",
        out.stderr
    );
    assert_runs(&p, &marker);

    // Any change to the file, even a comment, needs a new allow.
    std::fs::remove_file(&marker).unwrap();
    p.write(".envref.yaml", &format!("{CONFIG}# harmless?\n"));
    assert_refused(&p, &marker, "has changed since you allowed it");
    p.allow();
    assert_runs(&p, &marker);

    // `allow --revoke` withdraws it.
    std::fs::remove_file(&marker).unwrap();
    assert!(p
        .envref(&["allow", "--revoke"])
        .ok()
        .stderr
        .contains("revoked"));
    assert_refused(&p, &marker, "is not allowed yet");
    assert!(p
        .envref(&["allow", "--revoke"])
        .ok()
        .stderr
        .contains("was not allowed"));
}

#[test]
fn the_record_is_private_and_keyed_by_path_and_content() {
    let (p, marker) = clone();
    p.allow();
    let allow_dir = p.home.join(".local/state/envref/allow");
    let records: Vec<PathBuf> = std::fs::read_dir(&allow_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&records[0]), 0o600);
        assert_eq!(mode(&allow_dir), 0o700);
        assert_eq!(mode(allow_dir.parent().unwrap()), 0o700);
        // A record others could have written is not believed.
        std::fs::set_permissions(&records[0], std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_refused(&p, &marker, "is not allowed yet");
        p.allow();
        assert_eq!(mode(&records[0]), 0o600);
    }
    // The same content at another path (a second clone) is a different file to trust.
    let other = p.dir.join("other");
    std::fs::create_dir_all(other.join("bin")).unwrap();
    std::fs::copy(p.dir.join(".envref.yaml"), other.join(".envref.yaml")).unwrap();
    std::fs::copy(p.dir.join(".env"), other.join(".env")).unwrap();
    install(&other.join("bin/helper"), &helper_script(&marker));
    let out = p.envref(&["-C", "other", "resolve"]).fails(1);
    assert!(out.stderr.contains("is not allowed yet"), "{}", out.stderr);
    assert!(!marker.exists());
    p.envref(&["resolve"]).ok();
    assert!(marker.exists());
}

/// From elsewhere, the hint names the project with `-C`, and running the hint as printed works.
#[test]
fn the_hint_is_the_exact_command_to_run() {
    let (p, marker) = clone();
    let elsewhere = p.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut c = p.envref_cmd(&["-C", p.dir.to_str().unwrap(), "resolve"]);
    c.current_dir(&elsewhere);
    let out = support::run(c).fails(1);
    let hint = out
        .stderr
        .lines()
        .find(|l| l.contains("hint:"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let command = hint.split('`').nth(1).unwrap_or_else(|| panic!("{hint}"));
    assert!(
        command.starts_with("envref -C ") && command.ends_with(" allow"),
        "{command}"
    );
    let mut c = p.command("sh");
    c.current_dir(&elsewhere)
        .args(["-c", &command.replacen("envref", support::ENVREF, 1)]);
    support::run(c).ok();
    let mut c = p.envref_cmd(&["-C", p.dir.to_str().unwrap(), "resolve"]);
    c.current_dir(&elsewhere);
    assert!(support::run(c).ok().stdout.contains("API_KEY=from-helper"));
    assert!(marker.exists());
}

fn refused(out: &Run, marker: &Path) -> bool {
    !marker.exists() && out.stderr.contains("run `envref allow`")
}

#[test]
fn default_tools_on_path_the_global_config_and_init_need_no_allow() {
    // A plugin found on PATH under its default name, outside the project.
    let mut p = Project::with(
        "project: app\nbackends:\n  - name: demo\n    type: plugin\n",
        "API_KEY=ref://secrets/api_key\n",
    );
    let marker = p.root.join("marker");
    let tools = p.root.join("tools");
    install(&tools.join("envref-backend-demo"), &helper_script(&marker));
    let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap());
    p.set_env("PATH", path.clone());
    assert!(p
        .envref(&["resolve"])
        .ok()
        .stdout
        .contains("API_KEY=from-helper"));
    assert!(marker.exists());

    // The same name found through a PATH entry that points into the project is the project's.
    std::fs::remove_file(&marker).unwrap();
    std::fs::remove_file(tools.join("envref-backend-demo")).unwrap();
    install(
        &p.dir.join("bin/envref-backend-demo"),
        &helper_script(&marker),
    );
    p.set_env("PATH", format!("bin:{path}"));
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        refused(&out, &marker) && out.stderr.contains("bin/envref-backend-demo"),
        "{}",
        out.stderr
    );
    p.allow();
    p.envref(&["resolve"]).ok();
    assert!(marker.exists());

    // The user's global config may name any program.
    let q = Project::new();
    let marker = q.root.join("marker-global");
    let helper = q.root.join("my-tools/helper");
    install(&helper, &helper_script(&marker));
    let global = q.home.join(".config/envref/config.yaml");
    std::fs::create_dir_all(global.parent().unwrap()).unwrap();
    std::fs::write(
        &global,
        format!(
            "backends:\n  - name: mine\n    type: plugin\n    config:\n      command: {}\n",
            helper.display()
        ),
    )
    .unwrap();
    q.write(".envref.yaml", "project: app\n");
    q.write(".env", "API_KEY=ref://secrets/api_key\n");
    assert!(q
        .envref(&["resolve"])
        .ok()
        .stdout
        .contains("API_KEY=from-helper"));
    assert!(marker.exists());
    assert!(q
        .envref(&["status"])
        .ok()
        .stdout
        .contains("Trust:    not needed"));

    // ... unless the "global" config lives inside the project (e.g. ENVREF_CONFIG_DIR set by
    // a script of the repo's): then it is the project's.
    std::fs::remove_file(&marker).unwrap();
    let inside = q.dir.join("conf");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::copy(&global, inside.join("config.yaml")).unwrap();
    let q = q.env("ENVREF_CONFIG_DIR", inside.display().to_string());
    let out = q.envref(&["resolve"]).fails(1);
    assert!(refused(&out, &marker), "{}", out.stderr);

    // `envref init` records the config it writes.
    let r = Project::new();
    assert!(r
        .envref(&["init", "--project", "demo"])
        .ok()
        .stderr
        .contains("allow"));
    assert!(r
        .envref(&["allow", "--revoke"])
        .ok()
        .stderr
        .contains("revoked"));
}

/// A state directory inside the project (say `XDG_STATE_HOME` set by the repo's own
/// `.cargo/config.toml` `[env]`) could hold records the repo forged: none is believed.
#[test]
fn records_inside_the_project_are_not_believed() {
    let (p, marker) = clone();
    // Allow it properly once, then copy that genuine record into the repo as a "forgery".
    p.allow();
    let genuine = p.home.join(".local/state/envref");
    let forged = p.dir.join(".state/envref/allow");
    std::fs::create_dir_all(&forged).unwrap();
    for e in std::fs::read_dir(genuine.join("allow")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), forged.join(e.file_name())).unwrap();
    }
    p.envref(&["allow", "--revoke"]).ok();
    let state = p.dir.join(".state").display().to_string();
    let mut p = p.env("XDG_STATE_HOME", state);
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("inside the project") && !marker.exists(),
        "{}",
        out.stderr
    );
    let out = p.envref(&["allow"]).fails(1);
    assert!(
        out.stderr.contains("inside the project") && out.stderr.contains("XDG_STATE_HOME"),
        "{}",
        out.stderr
    );
    // A relative XDG_STATE_HOME is ignored (XDG spec): the default under HOME applies.
    p.set_env("XDG_STATE_HOME", ".state");
    let out = p.envref(&["resolve"]).fails(1);
    assert!(refused(&out, &marker), "{}", out.stderr);
}

/// A Vault address chosen by the project decides where the user's Vault token goes.
#[test]
fn a_project_vault_address_needs_allow() {
    let p = Project::with(
        "project: app\nbackends:\n  - name: hv\n    type: hashicorp-vault\n    config:\n      addr: https://vault.example\n",
        "API_KEY=ref://secrets/api_key\n",
    );
    let marker = p.root.join("marker");
    let tools = p.root.join("tools");
    install(
        &tools.join("vault"),
        &format!("#!/bin/sh\necho ran >> '{}'\nexit 2\n", marker.display()),
    );
    let p = p.env(
        "PATH",
        format!("{}:{}", tools.display(), std::env::var("PATH").unwrap()),
    );
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        refused(&out, &marker)
            && out
                .stderr
                .contains("backend hv (hashicorp-vault): vault (with the project's addr:"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("vault.example"),
        "the address is not echoed: {}",
        out.stderr
    );
    p.allow();
    p.envref(&["resolve"]).fails(1);
    assert!(marker.exists(), "allowed: the vault CLI ran");
}
