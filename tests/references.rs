//! References as other tools write them, through the real `envref` binary: the Go envref's
//! bare embedded references (`postgres://ref://secrets/u:ref://secrets/p@h`), against the
//! example plugins (calls counted through `ENVREF_FILESTORE_LOG`), and 1Password's `op://`
//! references of a `.env` written for `op run`, against the fake `op` of tests/support.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::{plugin, Project};

// ---------------------------------------------------------------------------------------------
// Embedded references, the Go envref's cases

fn have_plugins() -> bool {
    support::available(
        "plugins",
        support::have("jq") && support::have("python3") && support::have("flock"),
    )
}

/// One case of the table: a `.env` (and `.env.staging`), what each store holds, the command's
/// extra arguments, and what must come out.
struct Case {
    name: &'static str,
    env: &'static str,
    staging: &'static str,
    /// The first backend of the chain (`primary`, the bash example plugin).
    primary: &'static [(&'static str, &'static str)],
    /// The second (`fallback`, the python example plugin).
    fallback: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    /// Exit code, and stdout (`resolve`'s plain output) when it is 0.
    code: i32,
    stdout: &'static str,
    /// Texts stderr must hold.
    stderr: &'static [&'static str],
    /// The plugins' request log (both log to one file), when the case is about calls.
    calls: Option<&'static [&'static str]>,
}

const USER: (&str, &str) = ("app/db_user", "alice");
const PASS: (&str, &str) = ("app/db_pass", "s3cr3t");
const NAME: (&str, &str) = ("app/name", "World");

const CASES: &[Case] = &[
    Case {
        name: "embedded only",
        env: "DB_URL=postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app\nGREETING=Hello ref://secrets/name!\nQUOTED=\"user=ref://secrets/db_user&x=1\"\n",
        staging: "",
        primary: &[USER, PASS, NAME],
        fallback: &[],
        args: &[],
        code: 0,
        stdout: "DB_URL=postgres://alice:s3cr3t@localhost/app\nGREETING=Hello World!\nQUOTED=user=alice&x=1\n",
        stderr: &[],
        calls: None,
    },
    Case {
        name: "mixed with top-level references",
        env: "API_USER=ref://secrets/db_user\nDB_URL=postgres://${ref://secrets/db_user}:ref://secrets/db_pass@localhost/app\nPLAIN=hello\nURL=$DB_URL?sslmode=require\n",
        staging: "",
        primary: &[USER, PASS],
        fallback: &[],
        args: &[],
        code: 0,
        stdout: "API_USER=alice\nDB_URL=postgres://alice:s3cr3t@localhost/app\nPLAIN=hello\nURL=postgres://alice:s3cr3t@localhost/app?sslmode=require\n",
        stderr: &[],
        calls: None,
    },
    Case {
        name: "quoting keeps text literal; look-alikes stay text with a warning",
        env: "SINGLE='postgres://ref://secrets/db_user@h'\nTICK=`Hello ref://secrets/name!`\nNOPATH=see ref://secrets here\nGREETING=Hello ref://secrets/name!\n",
        staging: "",
        primary: &[NAME],
        fallback: &[],
        args: &[],
        code: 0,
        stdout: "SINGLE=postgres://ref://secrets/db_user@h\nTICK=Hello ref://secrets/name!\nNOPATH=see ref://secrets here\nGREETING=Hello World!\n",
        stderr: &["SINGLE: looks like a reference but is passed through as text", "NOPATH: looks like"],
        calls: None,
    },
    Case {
        name: "partial failure",
        env: "DB_URL=postgres://ref://secrets/db_user:ref://secrets/missing@localhost/app\nOK=ref://secrets/db_user\n",
        staging: "",
        primary: &[USER],
        fallback: &[],
        args: &[],
        code: 1,
        stdout: "",
        stderr: &[
            "1 variable could not be resolved",
            ".env:1:1: DB_URL: ref://secrets/missing: primary: not found as app/missing; fallback: not found as app/missing",
        ],
        calls: None,
    },
    Case {
        name: "caching: one backend call for a key used twice",
        env: "A=x ref://secrets/db_user y\nB=ref://secrets/db_user\nC=${ref://secrets/db_user}-ref://secrets/db_user\n",
        staging: "",
        primary: &[USER],
        fallback: &[],
        args: &[],
        code: 0,
        stdout: "A=x alice y\nB=alice\nC=alice-alice\n",
        stderr: &[],
        calls: Some(&["get app/db_user"]),
    },
    Case {
        name: "a profile",
        env: "DB_URL=postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app\n",
        staging: "HOST=ref://secrets/name.example\n",
        primary: &[USER, PASS, ("app/staging/db_pass", "stage-pw"), ("app/staging/name.example", "db.staging")],
        fallback: &[],
        args: &["-P", "staging"],
        code: 0,
        stdout: "DB_URL=postgres://alice:stage-pw@localhost/app\nHOST=db.staging\n",
        stderr: &[],
        calls: None,
    },
    Case {
        name: "a fallback chain",
        env: "DB_URL=postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app\nDIRECT=ref://fallback/db_user\n",
        staging: "",
        primary: &[USER],
        fallback: &[PASS, ("app/db_user", "bob")],
        args: &[],
        code: 0,
        stdout: "DB_URL=postgres://alice:s3cr3t@localhost/app\nDIRECT=bob\n",
        stderr: &[],
        calls: None,
    },
];

/// A project whose chain is `primary` (bash example plugin) then `fallback` (python one).
fn chain_project(env: &str) -> Project {
    let mut config = String::from("project: app\nbackends:\n");
    for (name, program) in [
        ("primary", "envref-backend-filestore"),
        ("fallback", "envref-backend-pystore"),
    ] {
        config += &format!(
            "  - name: {name}\n    type: plugin\n    config: {{command: {}}}\n",
            plugin(program).display()
        );
    }
    let p = Project::with(&config, env);
    p.allow();
    let root = p.root.clone();
    let at = |f: &str| root.join(f).display().to_string();
    p.env("ENVREF_FILESTORE_LOG", at("plugin.log"))
        .env("ENVREF_FILESTORE", at("file.json"))
        .env("ENVREF_PYSTORE", at("py.json"))
}

fn store(p: &Project, file: &str, values: &[(&str, &str)]) {
    let map: BTreeMap<&str, &str> = values.iter().copied().collect();
    std::fs::write(p.root.join(file), serde_json::to_string(&map).unwrap()).unwrap();
}

#[test]
fn go_envref_embedded_reference_cases() {
    if !have_plugins() {
        return;
    }
    for case in CASES {
        let p = chain_project(case.env);
        if !case.staging.is_empty() {
            p.write(".env.staging", case.staging);
        }
        store(&p, "file.json", case.primary);
        store(&p, "py.json", case.fallback);
        let mut args = vec!["resolve"];
        args.extend(case.args);
        let out = p.envref(&args);
        let name = case.name;
        assert_eq!(out.code, Some(case.code), "{name}: {}", out.stderr);
        if case.code == 0 {
            assert_eq!(out.stdout, case.stdout, "{name}");
        }
        for needle in case.stderr {
            assert!(
                out.stderr.contains(needle),
                "{name}: {needle}\n{}",
                out.stderr
            );
        }
        if let Some(calls) = case.calls {
            let log = std::fs::read_to_string(p.root.join("plugin.log")).unwrap();
            assert_eq!(log.lines().collect::<Vec<_>>(), calls, "{name}");
        }
        // Values never reach the messages.
        for (_, v) in case.primary.iter().chain(case.fallback) {
            assert!(!out.stderr.contains(v), "{name}: {v} in {}", out.stderr);
        }
    }
}

/// `get` and `list` show the references, never values; `run` gives the child the value.
#[test]
fn embedded_references_in_get_list_and_run() {
    if !have_plugins() {
        return;
    }
    let url = "postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app";
    let p = chain_project(&format!("DB_URL={url}\n"));
    store(&p, "file.json", &[USER, PASS]);
    assert_eq!(p.envref(&["get", "DB_URL"]).ok().stdout, format!("{url}\n"));
    let list = p.envref(&["list"]).ok().stdout;
    assert_eq!(
        list,
        "DB_URL=postgres://ref://***:ref://***@localhost/app\n"
    );
    let run = p
        .envref(&["run", "--no-mask", "--", "printenv", "DB_URL"])
        .ok();
    assert_eq!(run.stdout, "postgres://alice:s3cr3t@localhost/app\n");
    // Masked by default: the embedded secrets are concealed in the child's output.
    let masked = p.envref(&["run", "--", "printenv", "DB_URL"]).ok();
    assert!(!masked.stdout.contains("s3cr3t"), "{}", masked.stdout);
}

// ---------------------------------------------------------------------------------------------
// 1Password `op://` references (the fake `op`: no real one is obtainable here)

fn have_fake_op() -> bool {
    support::available("1password", support::have("python3"))
}

fn fake_op() -> PathBuf {
    support::root().join("tests/support/fake-op")
}

/// The fake's state: a Login with a custom field in a section, an API Credential, a Secure
/// Note, in two vaults (account `default`).
const OP_STATE: &str = r#"{
  "default/Engineering": {
    "Postgres Prod": {"id": "pg1", "category": "LOGIN", "fields": [
      {"label": "username", "value": "app"},
      {"label": "password", "value": "pg p@ss:w0rd"},
      {"label": "port", "value": "5432", "section": "Connection"}]},
    "Stripe": {"id": "st1", "category": "API_CREDENTIAL", "fields": [
      {"label": "credential", "value": "sk_live_123"}]},
    "release-notes": {"id": "rn1", "notes": "line one\nline two"}
  },
  "default/Management": {
    "PagerDuty": {"id": "pd1", "category": "LOGIN", "fields": [
      {"label": "email", "value": "ops@example.com", "section": "Admin"}]}
  }
}"#;

/// A `.env` as written for `op run --env-file .env -- app`.
const OP_RUN_ENV: &str = "# op run --env-file .env -- ./app\n\
STRIPE_KEY=op://Engineering/Stripe/credential\n\
DB_PASSWORD=\"op://Engineering/Postgres Prod/password\"\n\
DB_PORT=op://Engineering/Postgres Prod/Connection/port\n\
PAGER_EMAIL='op://Management/PagerDuty/Admin/email'\n\
DATABASE_URL=\"postgres://${op://Engineering/Postgres Prod/username}@db:${DB_PORT}/app\"\n\
NOTES=op://engineering/release-notes/notesPlain\n\
APP_ENV=production\n";

const OP_RUN_RESOLVED: &str = "STRIPE_KEY=sk_live_123\nDB_PASSWORD=pg p@ss:w0rd\nDB_PORT=5432\n\
PAGER_EMAIL=ops@example.com\nDATABASE_URL=postgres://app@db:5432/app\nNOTES=line one\nline two\n\
APP_ENV=production\n";

/// A project with `config` and `env`, the fake's state, and the argv recorder's log.
fn op_project(config: &str, env: &str) -> (Project, PathBuf) {
    let p = Project::with(config, env);
    p.allow();
    let state = p.root.join("op-state.json");
    std::fs::write(&state, OP_STATE).unwrap();
    let log = p.root.join("argv.log");
    let p = p
        .env("FAKE_OP_STATE", state.display().to_string())
        .env("ARGV_RECORDER_LOG", log.display().to_string())
        .env("ARGV_RECORDER_EXEC", fake_op().display().to_string());
    (p, log)
}

fn recorded(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn op_config() -> String {
    format!(
        "project: app\nbackends:\n  - name: team-op\n    type: 1password\n    config:\n      command: {}\n",
        support::root().join("tests/support/argv-recorder").display()
    )
}

#[test]
fn a_dotenv_written_for_op_run_resolves_unchanged() {
    if !have_fake_op() {
        return;
    }
    let (p, log) = op_project(&op_config(), OP_RUN_ENV);
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(out.stdout, OP_RUN_RESOLVED);
    // The three distinct references op's template syntax takes in one `op inject`; the three
    // with a space in a name (which it does not take) with `op read`; no value in argv.
    let mut calls = recorded(&log);
    calls.sort();
    assert_eq!(
        calls,
        [
            "inject ",
            "read --no-newline op://Engineering/Postgres\\ Prod/Connection/port ",
            "read --no-newline op://Engineering/Postgres\\ Prod/password ",
            "read --no-newline op://Engineering/Postgres\\ Prod/username ",
        ]
    );
    // Displayed back as written.
    assert_eq!(
        p.envref(&["get", "DB_PASSWORD"]).ok().stdout,
        "op://Engineering/Postgres Prod/password\n"
    );
    assert!(p
        .envref(&["list"])
        .ok()
        .stdout
        .contains("STRIPE_KEY=op://***\n"));
    // audit: references, not findings (it used to call op:// values clean for the wrong reason).
    p.envref(&["audit"]).ok();
    let run = p
        .envref(&["run", "--no-mask", "--", "printenv", "PAGER_EMAIL"])
        .ok();
    assert_eq!(run.stdout, "ops@example.com\n");
    // `envref inject` takes op's own tags, as `op inject` does.
    p.write(
        "app.yml.tpl",
        "stripe: {{ op://Engineering/Stripe/credential }}\nport: {{op://Engineering/Postgres Prod/Connection/port}}\n",
    );
    let rendered = p.envref(&["inject", "-i", "app.yml.tpl"]).ok();
    assert_eq!(rendered.stdout, "stripe: sk_live_123\nport: 5432\n");
    // One reference: one `op read`, the exact value (no newline added).
    p.write(".env", "ONLY=op://Engineering/Stripe/credential\n");
    std::fs::remove_file(&log).unwrap();
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "ONLY=sk_live_123\n");
    assert_eq!(
        recorded(&log),
        ["read --no-newline op://Engineering/Stripe/credential "]
    );
}

#[test]
fn without_a_1password_backend_op_on_path_is_used() {
    if !have_fake_op() {
        return;
    }
    let (p, _) = op_project("project: app\n", OP_RUN_ENV);
    let bin = p.root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(fake_op(), bin.join("op")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let p = p.env("PATH", path);
    assert_eq!(p.envref(&["resolve"]).ok().stdout, OP_RUN_RESOLVED);
    // No `op` anywhere: the install hint, not a silent pass-through.
    let p = p.env("PATH", "/nonexistent");
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("install the 1Password CLI"),
        "{}",
        err.stderr
    );
}

#[test]
fn op_errors_are_ops_own_with_the_fix() {
    if !have_fake_op() {
        return;
    }
    let env = "GOOD=op://Engineering/Stripe/credential\nNO_ITEM=op://Engineering/Nope/password\n\
NO_FIELD=op://Engineering/Stripe/API/secret\nNO_VAULT=op://Sales/Stripe/credential\n";
    let (p, log) = op_project(&op_config(), env);
    let err = p.envref(&["resolve"]).fails(1);
    let e = &err.stderr;
    assert!(e.contains("3 variables could not be resolved"), "{e}");
    assert!(
        e.contains("NO_ITEM: op://Engineering/Nope/password: team-op: op read: [ERROR]")
            && e.contains("\"Nope\" isn't an item in the \"Engineering\" vault"),
        "{e}"
    );
    assert!(e.contains("does not have a field \"secret\""), "{e}");
    assert!(e.contains("\"Sales\" isn't a vault in this account"), "{e}");
    assert!(
        e.contains("hint: check the vault, item and field names"),
        "{e}"
    );
    assert!(
        !e.contains("sk_live_123") && !e.contains("envref secret set"),
        "{e}"
    );
    // The batch failed, so each reference was read alone to say which one failed.
    let calls = recorded(&log);
    assert_eq!(calls.iter().filter(|c| c.starts_with("inject")).count(), 1);
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("read")).count(),
        4,
        "{calls:?}"
    );

    let p = p.env("FAKE_OP_SIGNED_OUT", "1");
    let err = p.envref(&["resolve"]).fails(1);
    assert!(
        err.stderr.contains("you are not currently signed in")
            && err.stderr.contains("hint: run `op signin`"),
        "{}",
        err.stderr
    );
}
