//! End-to-end tests of project health: `status`, `doctor`, `validate`, `audit`, `edit` and
//! `init --direnv` with the real direnv. Each through the real binary, with exit codes, and
//! one test per defect of the Go envref (validate exit code, doctor and the committed .env,
//! status and profile-scoped secrets).

use crate::support;

use std::path::Path;

use support::{run, Project};

const PASS: &str = "correct horse battery";
const VAULT: &str = "project: app\nbackends:\n  - name: vault\n    type: vault\n";

/// A project whose chain is an initialised local vault.
fn vault_project(config_extra: &str, env: &str) -> Project {
    let p =
        Project::with(&format!("{VAULT}{config_extra}"), env).env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p
}

fn set_secret(p: &Project, key: &str, value: &str, extra: &[&str]) {
    let mut args = vec!["secret", "set", key, "--value", value, "--backend", "vault"];
    args.extend_from_slice(extra);
    p.envref(&args).ok();
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn have_git() -> bool {
    support::available("git", support::have("git"))
}

fn git(p: &Project, args: &[&str]) {
    let mut c = p.command("git");
    c.args(args);
    run(c).ok();
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

// ---------------------------------------------------------------------------------- status

#[test]
fn status_all_resolved_exits_0_and_never_prints_values() {
    let p = vault_project("", "APP=1\nAPI_KEY=ref://secrets/api_key\nURL=https://h/${ref://secrets/token}\nSHOWN=${API_KEY}\n");
    set_secret(&p, "api_key", "value-of-api-key", &[]);
    set_secret(&p, "token", "value-of-token", &[]);
    let out = p.envref(&["status"]).ok();
    assert!(
        out.stdout.contains("Project:  app (.envref.yaml)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("ok       .env (env)")
            && out.stdout.contains("missing  .env.local (local)"),
        "{}",
        out.stdout
    );
    // SHOWN=${API_KEY} needs a secret too.
    assert!(
        out.stdout.contains("Keys:     4 (1 config, 3 secret)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Secrets:  2 of 2 resolved"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("api_key  vault (app/api_key)  used by API_KEY"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("ok       vault (vault): answered"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("value-of") && !out.stderr.contains("value-of"));

    let j = json(&p.envref(&["status", "--format", "json"]).ok().stdout);
    assert_eq!(j["ok"], true);
    assert_eq!(
        j["keys"],
        serde_json::json!({"total": 4, "config": 1, "secret": 3})
    );
    assert_eq!(j["secrets"][0]["reference"], "ref://secrets/api_key");
    assert_eq!(j["secrets"][0]["stored_as"], "app/api_key");
    assert_eq!(j["backends"][0]["available"], true);
}

#[test]
fn status_missing_secret_exits_1_with_the_exact_fix() {
    let p = vault_project(
        "",
        "APP=1\nAPI_KEY=ref://secrets/api_key\nDB_URL=postgres://u:${ref://secrets/db_pass}@h/db\n",
    );
    set_secret(&p, "api_key", "k", &[]);
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stdout.contains("Secrets:  1 of 2 resolved"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("missing  db_pass  used by DB_URL"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("vault: not found as app/db_pass"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: status: 1 of 2 secret(s) missing"),
        "{}",
        out.stderr
    );
    let fix = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("fix: "))
        .expect("a fix line")
        .to_string();
    assert_eq!(fix, "envref secret set db_pass --backend vault");
    let j = json(&p.envref(&["status", "--format", "json"]).fails(1).stdout);
    assert_eq!(j["ok"], false);
    assert_eq!(j["secrets"][1]["fix"], fix.as_str());

    // Running the fix as shown (plus a value, as there is no terminal) makes status pass.
    let mut args: Vec<&str> = fix.split(' ').skip(1).collect();
    args.extend(["--value", "pw"]);
    p.envref(&args).ok();
    let out = p.envref(&["status"]).ok();
    assert!(
        out.stdout.contains("Secrets:  2 of 2 resolved"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("missing  db_pass"), "{}", out.stdout);
}

const DECLARED_SCHEMA: &str = r#"{"keys": {
  "DB_URL": {"description": "Postgres URL of the\n orders database", "required": true},
  "SENTRY_DSN": {"description": "Where errors are reported", "required": false, "default": "https://none@sentry.invalid/0"},
  "APP": {"type": "number"}
}}"#;

/// A project whose schema describes its two secrets; SENTRY_DSN is optional with a default.
fn declared_project() -> Project {
    let p = vault_project(
        "",
        "APP=1\nDB_URL=ref://secrets/db_url\nSENTRY_DSN=ref://secrets/sentry_dsn\n",
    );
    p.write(".env.schema.json", DECLARED_SCHEMA);
    p
}

#[test]
fn status_shows_descriptions_and_reports_optional_secrets_as_optional() {
    let p = declared_project();
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stdout.contains("Secrets:  0 of 2 resolved, 1 optional"),
        "{}",
        out.stdout
    );
    // The description follows the fix as a shell comment: the line still pastes as it is.
    assert!(
        out.stdout.contains(
            "fix: envref secret set db_url --backend vault  # DB_URL: Postgres URL of the orders database\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  optional sentry_dsn  used by SENTRY_DSN"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("not a failure: declared \"required\": false in .env.schema.json, so it gets its default"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("sentry.invalid"),
        "a default is a value: {}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: status: 1 of 2 secret(s) missing"),
        "{}",
        out.stderr
    );
    let j = json(&p.envref(&["status", "--format", "json"]).fails(1).stdout);
    let db = &j["secrets"][0];
    assert_eq!(
        db["description"],
        "DB_URL: Postgres URL of the orders database"
    );
    assert!(db.get("optional").is_none(), "{db}");
    assert_eq!(j["secrets"][1]["optional"], true);
    assert_eq!(j["secrets"][1]["has_default"], true);
    // Only the required one is needed for status to pass.
    set_secret(&p, "db_url", "postgres://h/db", &[]);
    let out = p.envref(&["status"]).ok();
    assert!(
        out.stdout.contains("  optional sentry_dsn"),
        "{}",
        out.stdout
    );
    // Stored, an optional secret is simply resolved.
    set_secret(&p, "sentry_dsn", "https://k@sentry.example/1", &[]);
    let out = p.envref(&["status"]).ok();
    assert!(
        out.stdout.contains("Secrets:  2 of 2 resolved\n"),
        "{}",
        out.stdout
    );
}

/// "required": false counts only when it is written, and only when no backend failed.
#[test]
fn status_optional_needs_an_explicit_false_and_a_clean_not_found() {
    let p = declared_project();
    p.write(
        ".env.schema.json",
        r#"{"keys": {"SENTRY_DSN": {"description": "d"}, "DB_URL": {"required": false}}}"#,
    );
    set_secret(&p, "db_url", "x", &[]);
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stdout.contains("  missing  sentry_dsn"),
        "{}",
        out.stdout
    );
    // A backend that fails is not "not found": the optional secret is missing, not optional.
    let p = declared_project();
    p.write(".env.schema.json", DECLARED_SCHEMA);
    let mut c = p.envref_cmd(&["status"]);
    c.env("ENVREF_VAULT_PASSPHRASE", "wrong passphrase");
    let out = run(c).fails(1);
    assert!(
        out.stdout.contains("  missing  sentry_dsn"),
        "{}",
        out.stdout
    );
    // A schema that does not parse is named, with its position, and status goes on.
    p.write(".env.schema.json", "{\"keys\": {\"A\": }}");
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stderr.contains(".env.schema.json:1:") && out.stderr.contains("invalid schema"),
        "{}",
        out.stderr
    );
}

#[test]
fn onboard_shows_descriptions_and_does_not_require_optional_secrets() {
    let p = declared_project();
    let out = p.envref(&["onboard", "--dry-run"]).ok();
    assert_eq!(
        out.stdout,
        "DB_URL  ref://secrets/db_url  -> app/db_url in backend vault  # DB_URL: Postgres URL of the orders database\n\
         SENTRY_DSN  ref://secrets/sentry_dsn  -> app/sentry_dsn in backend vault  (optional)  # SENTRY_DSN: Where errors are reported\n"
    );
    if !support::available("python3", support::have("python3")) {
        return;
    }
    let driver = support::root().join("tests/support/pty-answer.py");
    let mut cmd = p.command("python3");
    cmd.arg(&driver)
        .args([
            "[1/2] DB_URL: Postgres URL of the orders database (ref://secrets/db_url -> app/db_url in vault): ",
            "postgres://typed",
            "[2/2] SENTRY_DSN: Where errors are reported (optional) (ref://secrets/sentry_dsn",
            "",
        ])
        .arg("--")
        .arg(support::ENVREF)
        .arg("onboard");
    // The optional one was skipped, and onboard still ends with the OK line.
    let out = support::run(cmd).ok();
    assert!(
        out.stdout.contains("stored app/db_url in vault"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("OK: project app: 2/2 references resolve"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("postgres://typed"), "{}", out.stdout);
    // Without a terminal, only optional secrets missing is not a failure.
    let out = p.envref(&["onboard"]).ok();
    assert!(out.stderr.contains("missing: SENTRY_DSN"), "{}", out.stderr);
    assert_eq!(out.stdout, "OK: project app: 2/2 references resolve\n");
}

/// An optional secret that no backend has resolves to the schema's default (or empty), with a
/// note naming the variable; never when a backend failed.
#[test]
fn resolve_gives_a_missing_optional_secret_its_default_with_a_note() {
    let p = declared_project();
    set_secret(&p, "db_url", "postgres://h/db", &[]);
    let out = p.envref(&["resolve"]).ok();
    assert_eq!(
        out.stdout,
        "APP=1\nDB_URL=postgres://h/db\nSENTRY_DSN=https://none@sentry.invalid/0\n"
    );
    assert!(
        out.stderr.contains(
            "SENTRY_DSN: ref://secrets/sentry_dsn is in no backend; optional in .env.schema.json, so it gets its default"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sentry.invalid"), "{}", out.stderr);
    // `run` delivers it (treated as the secret it stands for, so masked unless --no-mask).
    let out = p
        .envref(&["run", "--no-mask", "--", "printenv", "SENTRY_DSN"])
        .ok();
    assert_eq!(out.stdout, "https://none@sentry.invalid/0\n");
    // Without a default: the empty value.
    p.write(
        ".env.schema.json",
        r#"{"keys": {"SENTRY_DSN": {"required": false}}}"#,
    );
    let out = p.envref(&["resolve"]).ok();
    assert!(out.stdout.ends_with("\nSENTRY_DSN=\n"), "{}", out.stdout);
    assert!(
        out.stderr.contains("so it gets an empty value"),
        "{}",
        out.stderr
    );
    // A backend error is not "not found": the reference fails as any other.
    let mut c = p.envref_cmd(&["resolve"]);
    c.env("ENVREF_VAULT_PASSPHRASE", "wrong passphrase");
    let out = run(c).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("SENTRY_DSN") && !out.stderr.contains("optional in"),
        "{}",
        out.stderr
    );
    // Stored, the backend's value wins over the default.
    p.write(".env.schema.json", DECLARED_SCHEMA);
    set_secret(&p, "sentry_dsn", "https://k@sentry.example/1", &[]);
    let out = p.envref(&["resolve", "--format", "json"]).ok();
    assert!(
        out.stdout.contains("https://k@sentry.example/1"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("optional in"), "{}", out.stderr);
}

/// "Not found" in one backend while another fails is not absent: no default, a failure.
#[test]
fn a_failing_backend_in_the_chain_keeps_an_optional_secret_missing() {
    let p = declared_project();
    let broken = p.root.join("broken-plugin");
    std::fs::write(&broken, "#!/bin/sh\necho 'store offline' >&2\nexit 3\n").unwrap();
    chmod_x(&broken);
    let extra = format!(
        "  - name: broken\n    type: plugin\n    config:\n      command: {}\n",
        broken.display()
    );
    p.write_allowed_config(&format!("{VAULT}{extra}"));
    set_secret(&p, "db_url", "postgres://h/db", &[]);
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("SENTRY_DSN") && !out.stderr.contains("optional in"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stdout.contains("  missing  sentry_dsn"),
        "{}",
        out.stdout
    );
}

/// Go defect: `status` ignored profile-scoped secrets.
#[test]
fn status_resolves_profile_scoped_secrets() {
    let p = vault_project("profiles:\n  staging: {}\n", "K=ref://secrets/k\n");
    set_secret(&p, "k", "staging-only", &["-P", "staging"]);
    let j = json(
        &p.envref(&["status", "-P", "staging", "--format", "json"])
            .ok()
            .stdout,
    );
    assert_eq!(j["profile"], "staging");
    assert_eq!(j["secrets"][0]["resolved"], true);
    assert_eq!(j["secrets"][0]["stored_as"], "app/staging/k");
    // The same through $ENVREF_PROFILE.
    let mut c = p.envref_cmd(&["status"]);
    c.env("ENVREF_PROFILE", "staging");
    run(c).ok();
    // Without the profile, only the project scope is asked: missing, and the fix says so.
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stdout
            .contains("fix: envref secret set k --backend vault\n"),
        "{}",
        out.stdout
    );
    // With a profile, the fix stores into the profile's scope.
    let p2 = vault_project("profiles:\n  staging: {}\n", "K=ref://secrets/k\n");
    let out = p2.envref(&["status", "-P", "staging"]).fails(1);
    assert!(
        out.stdout
            .contains("fix: envref secret set k --backend vault -P staging"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_reports_backend_availability() {
    let config = "backends:\n  - name: vault\n    type: vault\n  - name: broken\n    type: plugin\n    config:\n      command: /nonexistent/envref-plugin\n";
    let p = Project::with(&format!("project: app\n{config}"), "A=ref://secrets/a\n")
        .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.allow();
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    set_secret(&p, "a", "1", &[]);
    // Everything resolves from the vault, so the broken plugin does not fail status…
    let out = p.envref(&["status"]).ok();
    // …but it is shown as down, with how to fix it.
    assert!(
        out.stdout.contains("down     broken (plugin): broken: plugin /nonexistent/envref-plugin: executable not found"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("hint: put an executable named envref-backend-broken on PATH"),
        "{}",
        out.stdout
    );
    // A vault that is not initialised: down, and the missing secret's fix is initialising it
    // (storing into a backend that is down cannot work).
    let q = Project::with(VAULT, "A=ref://secrets/a\n").env("ENVREF_VAULT_PASSPHRASE", PASS);
    let out = q.envref(&["status"]).fails(1);
    assert!(
        out.stdout
            .contains("down     vault (vault): vault: not initialized"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("hint: run `envref vault init`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: backend vault is unavailable: run `envref vault init`"),
        "{}",
        out.stdout
    );
}

#[test]
fn status_without_project_is_an_error() {
    let p = Project::new();
    let out = p.envref(&["status"]).fails(1);
    assert!(
        out.stderr.contains("no .envref.yaml found") && out.stderr.contains("envref init"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------- doctor

/// Go defect: doctor asked for `.env` to be gitignored, although the product commits it.
#[test]
fn doctor_never_asks_to_ignore_the_committed_env_file() {
    if !have_git() {
        return;
    }
    let p = vault_project("", "APP=1\nAPI_KEY=ref://secrets/api_key\n");
    git(&p, &["init", "-q"]);
    // No .gitignore at all: .env is fine; only the local file is mentioned.
    let out = p.envref(&["doctor", "--format", "json"]).ok();
    let j = json(&out.stdout);
    let findings = j["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["location"] != ".env"),
        "{findings:?}"
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["check"], "gitignore");
    assert_eq!(findings[0]["location"], ".env.local");
    assert_eq!(findings[0]["severity"], "warning");
    assert_eq!(findings[0]["fix"], "echo .env.local >> .gitignore");

    // With the local file ignored, a fresh project is clean.
    p.write(".gitignore", ".env.local\n");
    p.write(".env.local", "LOCAL=1\n");
    git(&p, &["add", ".envref.yaml", ".env", ".gitignore"]);
    let out = p.envref(&["doctor"]).ok();
    assert_eq!(out.stdout, "", "{}", out.stdout);
    assert!(
        out.stderr.contains("doctor: no problems found"),
        "{}",
        out.stderr
    );

    // The opposite mistake: ignoring .env (untracked) keeps its references from the team.
    git(&p, &["rm", "-q", "--cached", ".env"]);
    p.write(".gitignore", ".env*\n");
    let out = p.envref(&["doctor"]).ok();
    assert!(
        out.stdout.contains("warning  [gitignore] .env: .env is ignored by git, so the team does not get its references"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_reports_each_problem_with_a_fix_and_exits_1() {
    if !have_git() {
        return;
    }
    // Vault configured but not initialised; a token and a duplicate in .env; a broken
    // profile file; .env.local present and not ignored.
    let p = Project::with(
        &format!("{VAULT}profiles:\n  staging: {{}}\n"),
        "API_KEY=ref://secrets/api_key\nGH=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\nAPI_KEY=ref://secrets/other\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.write(".env.staging", "OK=1\nthis line has no equals sign\n");
    p.write(".env.local", "LOCAL=1\n");
    git(&p, &["init", "-q"]);
    let out = p.envref(&["doctor"]).fails(1);
    let o = &out.stdout;
    assert!(
        o.contains("error    [parse] .env.staging: ") && o.contains(".env.staging:2:"),
        "{o}"
    );
    assert!(
        o.contains("warning  [duplicate] .env: line 3:")
            && o.contains("duplicate key API_KEY (first defined on line 1)"),
        "{o}"
    );
    assert!(o.contains("error    [plaintext] .env:2: GH may be a plaintext secret (matches the GitHub token format: ghp_***)"), "{o}");
    assert!(
        o.contains("fix: store it with `envref secret set gh`, then set GH=ref://secrets/gh"),
        "{o}"
    );
    assert!(
        !o.contains("0123456789abcdef") && !out.stderr.contains("0123456789abcdef"),
        "a secret was printed"
    );
    assert!(
        o.contains("error    [gitignore] .env.local: .env.local is not ignored by git"),
        "{o}"
    );
    assert!(o.contains("fix: echo .env.local >> .gitignore"), "{o}");
    assert!(
        o.contains("error    [vault] backend vault (vault): vault: not initialized"),
        "{o}"
    );
    assert!(
        o.contains("fix: run `envref vault init` to create it"),
        "{o}"
    );
    assert!(
        out.stderr
            .contains("error: doctor: 4 error(s), 1 warning(s)"),
        "{}",
        out.stderr
    );

    let j = json(&p.envref(&["doctor", "--format", "json"]).fails(1).stdout);
    assert_eq!(j["ok"], false);
    assert_eq!(j["errors"], 4);
    assert!(
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fix"].is_string()),
        "{j}"
    );

    // Committing the local file is worse: it says how to undo it.
    git(&p, &["add", "-f", ".env.local"]);
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        out.stdout.contains(".env.local is committed to git"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: git rm --cached .env.local && echo .env.local >> .gitignore"),
        "{}",
        out.stdout
    );

    // Fixing everything makes it pass.
    git(&p, &["rm", "-q", "--cached", ".env.local"]);
    p.write(".gitignore", ".env.local\n");
    p.write(
        ".env",
        "API_KEY=ref://secrets/api_key\nGH=ref://secrets/gh\n",
    );
    p.write(".env.staging", "OK=1\n");
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    let out = p.envref(&["doctor"]).ok();
    for problem in ["error ", "warning "] {
        assert!(!out.stdout.contains(problem), "{}", out.stdout);
    }
}

#[test]
fn doctor_outside_git_reads_gitignore_and_checks_backends() {
    // Not a git work tree: .gitignore itself is read, globs included.
    let config = "backends:\n  - name: vault\n    type: vault\n  - name: broken\n    type: plugin\n    config:\n      command: /nonexistent/plugin\n";
    let p = Project::with(&format!("project: app\n{config}"), "A=ref://secrets/a\n")
        .env("ENVREF_VAULT_PASSPHRASE", PASS);
    p.allow();
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.write(".gitignore", "*.local\n");
    let out = p.envref(&["doctor"]).ok();
    // One backend down while another works: a warning, not an error.
    assert!(
        out.stdout
            .contains("warning  [backend] backend broken (plugin)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("[gitignore]"), "{}", out.stdout);
    // A vault file others can read.
    let vault = p.home.join(".config/envref/vault.db");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = p.envref(&["doctor"]).ok();
    assert!(
        out.stdout
            .contains("the vault file is readable by other users (mode 644)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("fix: chmod 600 {}", vault.display())),
        "{}",
        out.stdout
    );
    // A broken config is an error finding too.
    p.write(".envref.yaml", "project: app\nbackends: []\n");
    let out = p.envref(&["doctor"]).fails(1);
    assert!(
        out.stdout.contains("error    [config]")
            && out.stdout.contains("backends: the list is empty"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_checks_the_envrc_with_direnv() {
    if !support::available("direnv", support::have("direnv")) {
        return;
    }
    let p = vault_project("", "APP=1\n");
    p.write(".gitignore", ".env.local\n");
    p.envref(&["init", "--direnv"]).ok();
    let out = p.envref(&["doctor"]).ok();
    assert!(!out.stdout.contains("[direnv]"), "{}", out.stdout);
    // Changed after it was allowed: direnv will not load it.
    let envrc = p.read(".envrc");
    p.write(".envrc", &format!("{envrc}# edited\n"));
    let out = p.envref(&["doctor"]).ok();
    assert!(
        out.stdout
            .contains("warning  [direnv] .envrc: .envrc is not allowed by direnv"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("direnv allow {}", p.dir.display())),
        "{}",
        out.stdout
    );
    // The Go envref's template hides envref's errors.
    p.write(
        ".envrc",
        "eval \"$(envref resolve --direnv 2>/dev/null)\" || true\n",
    );
    let out = p.envref(&["doctor"]).ok();
    assert!(
        out.stdout.contains(".envrc hides envref's errors"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: rewrite it with `envref init --direnv --force`"),
        "{}",
        out.stdout
    );
}

// -------------------------------------------------------------------------------- validate

const SCHEMA: &str = r#"{"keys": {
  "PORT": {"type": "port", "required": true},
  "MODE": {"type": "enum", "values": ["dev", "prod"]},
  "RATIO": {"type": "number"},
  "DEBUG": {"type": "boolean"},
  "ADMIN": {"type": "email", "pattern": "@example\\.com$"},
  "API_KEY": {"type": "url", "required": true},
  "HOME_URL": {"type": "url"}
}}"#;

fn validate_project(env: &str) -> Project {
    let p = Project::with("project: app\n", env);
    p.write(
        ".env.example",
        "PORT=\nMODE=\nRATIO=\nDEBUG=\nADMIN=\nAPI_KEY=\nHOME_URL=\n",
    );
    p.write(".env.schema.json", SCHEMA);
    p
}

const GOOD: &str = "PORT=8080\nMODE=dev\nRATIO=0.5\nDEBUG=on\nADMIN=ops@example.com\nAPI_KEY=ref://secrets/api_key\nHOME_URL=https://${HOST:-example.com}/\n";

#[test]
fn validate_passes_a_good_project() {
    let p = validate_project(GOOD);
    let out = p.envref(&["validate"]).ok();
    assert!(
        out.stderr
            .contains("ok: 7 key(s) valid against .env.example and .env.schema.json"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    // --ci prints nothing on success.
    let out = p.envref(&["validate", "--ci"]).ok();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

/// Go defect: extra keys printed "Validation failed" and exited 0.
#[test]
fn validate_fails_on_extra_keys_alone() {
    let p = validate_project(&format!("{GOOD}EXTRA=1\n"));
    let out = p.envref(&["validate"]).fails(1);
    assert!(
        out.stderr
            .contains("error: .env:8:1: EXTRA: not listed in .env.example"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("validation failed: 1 error(s) (0 missing, 1 extra, 0 invalid)"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["validate", "--ci"]).fails(1);
    assert!(
        out.stderr
            .contains("error: .env:8:1: EXTRA: not listed in .env.example"),
        "{}",
        out.stderr
    );
}

#[test]
fn validate_reports_every_error_per_key_without_values() {
    let p =
        validate_project("PORT=hunter2-port\nMODE=Dev\nRATIO=half\nDEBUG=maybe\nADMIN=ops@elsewhere.org\nHOME_URL=example.com\nSTRAY=1\n");
    let out = p.envref(&["validate"]).fails(1);
    let e = &out.stderr;
    for line in [
        "error: .env.example:6:1: API_KEY: not set (listed in .env.example)",
        "error: .env:7:1: STRAY: not listed in .env.example",
        "error: .env:1:1: PORT: expected a port number (1-65535)",
        "error: .env:2:1: MODE: expected one of: dev, prod",
        "error: .env:3:1: RATIO: expected a number",
        "error: .env:4:1: DEBUG: expected a boolean (true/false/1/0/yes/no/on/off)",
        "error: .env:5:1: ADMIN: does not match the pattern @example\\.com$",
        "error: .env:6:1: HOME_URL: expected a URL with a scheme and a host",
        "validation failed: 8 error(s) (1 missing, 1 extra, 6 invalid)",
    ] {
        assert!(e.contains(line), "missing {line:?} in:\n{e}");
    }
    assert!(!e.contains("hunter2"), "a value was printed:\n{e}");

    // --ci: one line per error; under GitHub Actions, annotations on stdout too.
    let mut c = p.envref_cmd(&["validate", "--ci"]);
    c.env("GITHUB_ACTIONS", "true");
    let out = run(c).fails(1);
    assert!(
        out.stdout
            .contains("::error file=.env,line=1,col=1::PORT: expected a port number (1-65535)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("::error file=.env.example,line=6,col=1::API_KEY: not set"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("hint:"), "{}", out.stderr);
}

#[test]
fn validate_schema_only_example_only_and_bad_inputs() {
    // Schema alone (the Go tool insisted on .env.example).
    let p = Project::with("project: app\n", "PORT=80\n");
    p.write(
        "rules.json",
        r#"{"keys": {"PORT": {"type": "port"}, "NAME": {"required": true}}}"#,
    );
    let out = p.envref(&["validate", "--schema", "rules.json"]).fails(1);
    assert!(
        out.stderr
            .contains("error: NAME: not set (required by rules.json)"),
        "{}",
        out.stderr
    );
    p.write(".env", "PORT=80\nNAME=x\n");
    let out = p.envref(&["validate", "--schema", "rules.json"]).ok();
    assert!(
        out.stderr.contains("ok: 2 key(s) valid against rules.json"),
        "{}",
        out.stderr
    );
    // Profile layers are validated merged.
    p.write(".env.staging", "PORT=99999\n");
    let out = p
        .envref(&["validate", "--schema", "rules.json", "-P", "staging"])
        .fails(1);
    assert!(
        out.stderr
            .contains("error: .env.staging:1:1: PORT: expected a port number (1-65535)"),
        "{}",
        out.stderr
    );
    // Nothing to validate against.
    let out = p.envref(&["validate"]).fails(1);
    assert!(
        out.stderr.contains("nothing to validate against"),
        "{}",
        out.stderr
    );
    // A named file that does not exist, a schema without "keys", an unknown type.
    let out = p
        .envref(&["validate", "--example", "nope.example"])
        .fails(1);
    assert!(
        out.stderr
            .contains("nope.example: no such file or directory"),
        "{}",
        out.stderr
    );
    p.write("flat.json", r#"{"PORT": {"type": "port"}}"#);
    let out = p.envref(&["validate", "--schema", "flat.json"]).fails(1);
    assert!(
        out.stderr.contains("the schema has no \"keys\" object"),
        "{}",
        out.stderr
    );
    p.write("bad.json", r#"{"keys": {"PORT": {"type": "integer"}}}"#);
    let out = p.envref(&["validate", "--schema", "bad.json"]).fails(1);
    assert!(
        out.stderr.contains("PORT: unknown type \"integer\""),
        "{}",
        out.stderr
    );
}

// ----------------------------------------------------------------------------------- audit

const GH_TOKEN: &str = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";

#[test]
fn audit_finds_plaintext_secrets_masked_and_ignores_references() {
    let p = Project::with(
        "project: app\nprofiles:\n  staging: {}\n",
        "API_KEY=ref://secrets/api_key\nDB=postgres://u:${ref://secrets/pw}@h/db\nAPP=my-app\nPORT=8080\n",
    );
    let out = p.envref(&["audit"]).ok();
    assert!(
        out.stderr
            .contains("audit: no plaintext secrets found in .env"),
        "{}",
        out.stderr
    );
    p.write(
        ".env.staging",
        "AWS_KEY=AKIAIOSFODNN7EXAMPLE\nSTRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc\nDB_PASSWORD=correct-horse-battery\nDB_URL=postgres://admin:s3cr3tpw@db/app\nSESSION=q8Zr2LmX9vT4wK7pN3bY6cHf\n",
    );
    // The local file is not committed, so it is not scanned by default.
    p.write(".env.local", &format!("LOCAL_TOKEN={GH_TOKEN}\n"));
    let out = p.envref(&["audit"]).fails(1);
    assert_eq!(
        out.stdout,
        ".env.staging:1: AWS_KEY: matches the AWS access key ID format (AKIA***)\n\
         .env.staging:2: STRIPE: matches the Stripe key format (sk_l***)\n\
         .env.staging:3: DB_PASSWORD: the key name says secret and the value is not a reference (corr***)\n\
         .env.staging:4: DB_URL: URL with an embedded password (post***)\n\
         .env.staging:5: SESSION: high-entropy value (4.58 bits/char) (q8Zr***)\n"
    );
    assert!(
        out.stderr
            .contains("error: audit: 5 value(s) look like plaintext secrets"),
        "{}",
        out.stderr
    );
    for secret in [
        "IOSFODNN7",
        "4eC39Hq",
        "horse-battery",
        "s3cr3tpw",
        "LmX9vT4w",
        GH_TOKEN,
    ] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} was printed"
        );
    }
    let j = json(&p.envref(&["audit", "--format", "json"]).fails(1).stdout);
    assert_eq!(j["files"], serde_json::json!([".env", ".env.staging"]));
    let kinds: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["token", "token", "key-name", "url-password", "entropy"]
    );
    assert_eq!(j["findings"][0]["preview"], "AKIA***");
    // Explicit files are scanned as given.
    let out = p.envref(&["audit", ".env.local"]).fails(1);
    assert!(
        out.stdout
            .contains("LOCAL_TOKEN: matches the GitHub token format (ghp_***)"),
        "{}",
        out.stdout
    );
}

// ------------------------------------------------------------------------------------ edit

/// An editor script at a path with a space; it checks its first argument and appends a line.
fn editor(p: &Project, line: &str) -> String {
    let dir = p.root.join("my editor");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("ed.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1\" = --wait ] || exit 3\nprintf '%s\\n' '{line}' >> \"$2\"\n"),
    )
    .unwrap();
    chmod_x(&script);
    format!("'{}' --wait", script.display())
}

#[test]
fn edit_runs_editors_with_arguments_without_a_shell() {
    let mut p = Project::with("project: app\nprofiles:\n  staging: {}\n", "A=1\n");
    p.set_env("EDITOR", editor(&p, "ADDED=yes"));
    p.envref(&["edit"]).ok();
    assert_eq!(p.read(".env"), "A=1\nADDED=yes\n");
    p.envref(&["edit", "--local"]).ok();
    assert_eq!(p.read(".env.local"), "ADDED=yes\n");
    p.envref(&["edit", "-P", "staging"]).ok();
    assert_eq!(p.read(".env.staging"), "ADDED=yes\n");
    p.envref(&["edit", "notes.env"]).ok();
    assert_eq!(p.read("notes.env"), "ADDED=yes\n");
    // $VISUAL wins over $EDITOR; a quoted shell snippet is one argument, not run by a shell of ours.
    p.set_env("VISUAL", r##"sh -c 'printf "# edited\n" >> "$1"' editor"##);
    p.envref(&["edit", "--config"]).ok();
    assert!(p.read(".envref.yaml").ends_with("# edited\n"));
    // Only one target at a time.
    let out = p.envref(&["edit", "--local", "--config"]).fails(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn edit_failures() {
    let mut p = Project::with("project: app\n", "A=1\n");
    // The editor fails: exit 1, file untouched.
    p.set_env("EDITOR", "sh -c 'exit 3'");
    let out = p.envref(&["edit"]).fails(1);
    assert!(
        out.stderr.contains("editor sh exited with status 3"),
        "{}",
        out.stderr
    );
    // Not installed.
    p.set_env("EDITOR", "no-such-editor-xyz --wait");
    let out = p.envref(&["edit"]).fails(1);
    assert!(
        out.stderr.contains("editor not found: no-such-editor-xyz"),
        "{}",
        out.stderr
    );
    // Unbalanced quotes in $EDITOR.
    p.set_env("EDITOR", "vim 'x");
    let out = p.envref(&["edit"]).fails(1);
    assert!(
        out.stderr.contains("$EDITOR has an unterminated quote"),
        "{}",
        out.stderr
    );
    // Saved, but broken: said so, with how to fix it.
    p.set_env("EDITOR", editor(&p, "not a definition"));
    let out = p.envref(&["edit"]).fails(1);
    assert!(
        out.stderr.contains(".env was saved, but it is not valid")
            && out.stderr.contains(".env:2:"),
        "{}",
        out.stderr
    );
    p.set_env("EDITOR", editor(&p, "backends: []"));
    let out = p.envref(&["edit", "--config"]).fails(1);
    assert!(
        out.stderr.contains("backends: the list is empty"),
        "{}",
        out.stderr
    );
    // `edit --config` still opens a config that does not load.
    p.set_env("EDITOR", r#"sh -c 'printf "project: app\n" > "$1"' editor"#);
    p.envref(&["edit", "--config"]).ok();
    assert_eq!(p.read(".envref.yaml"), "project: app\n");
    let out = p.envref(&["config", "show"]).ok();
    assert!(
        out.stdout.contains("project:         app\n"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------------- direnv

fn direnv_project() -> Option<Project> {
    if !support::available("direnv", support::have("direnv")) {
        return None;
    }
    let mut p = vault_project("", "APP=one\nAPI_KEY=ref://secrets/api_key\n");
    let bin = Path::new(support::ENVREF)
        .parent()
        .unwrap()
        .display()
        .to_string();
    p.set_env(
        "PATH",
        format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()),
    );
    set_secret(&p, "api_key", "it's a $ecret", &[]);
    Some(p)
}

fn direnv_exec(p: &Project, script: &str) -> support::Run {
    let mut c = p.command("direnv");
    c.arg("exec").arg(&p.dir).args(["sh", "-c", script]);
    run(c)
}

/// `direnv export json` with `env` applied, as the shell hook would run it.
fn direnv_export(p: &Project, env: &serde_json::Map<String, serde_json::Value>) -> support::Run {
    let mut c = p.command("direnv");
    c.args(["export", "json"]);
    for (k, v) in env {
        match v.as_str() {
            Some(s) => c.env(k, s),
            None => c.env_remove(k),
        };
    }
    run(c)
}

fn bump_mtime(path: &Path) {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn direnv_loads_the_resolved_environment_and_follows_edits() {
    let Some(p) = direnv_project() else { return };
    let out = p.envref(&["init", "--direnv"]).ok();
    assert!(
        out.stderr.contains("create  .envrc") && out.stderr.contains("allow   .envrc"),
        "{}",
        out.stderr
    );
    let envrc = p.read(".envrc");
    assert!(
        envrc.contains("watch_file .envref.yaml .env .env.local\n"),
        "{envrc}"
    );
    assert!(
        envrc.contains("envref_env=\"$(envref resolve --direnv)\" || exit\n")
            && !envrc.contains("|| true"),
        "{envrc}"
    );

    let show = r#"printf '%s|%s' "$APP" "$API_KEY""#;
    assert_eq!(direnv_exec(&p, show).ok().stdout, "one|it's a $ecret");
    p.write(".env", "APP=two\nAPI_KEY=ref://secrets/api_key\n");
    assert_eq!(direnv_exec(&p, show).ok().stdout, "two|it's a $ecret");

    // The shell hook: loaded once, not re-run while nothing watched changes, re-run when .env does.
    let first = direnv_export(&p, &serde_json::Map::new()).ok();
    let loaded = json(&first.stdout).as_object().unwrap().clone();
    assert_eq!(loaded["APP"], "two");
    let again = direnv_export(&p, &loaded).ok();
    assert_eq!(
        again.stdout.trim(),
        "",
        "re-ran although nothing changed: {}",
        again.stderr
    );
    p.write("README.md", "unwatched\n");
    assert_eq!(direnv_export(&p, &loaded).ok().stdout.trim(), "");
    p.write(".env", "APP=three\nAPI_KEY=ref://secrets/api_key\n");
    bump_mtime(&p.dir.join(".env"));
    let changed = json(&direnv_export(&p, &loaded).ok().stdout);
    assert_eq!(changed["APP"], "three");
}

#[test]
fn direnv_shows_envrefs_error_and_exports_nothing_when_a_secret_is_missing() {
    let Some(p) = direnv_project() else { return };
    p.envref(&["init", "--direnv"]).ok();
    let loaded = json(&direnv_export(&p, &serde_json::Map::new()).ok().stdout)
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(loaded["APP"], "one");

    p.write(
        ".env",
        "APP=two\nAPI_KEY=ref://secrets/api_key\nDB=ref://secrets/db_pass\n",
    );
    bump_mtime(&p.dir.join(".env"));
    // direnv exec: the command never runs, envref's error is shown.
    let out = direnv_exec(&p, r#"echo "APP=${APP-unset}""#).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("error: 1 variable could not be resolved"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("DB: ref://secrets/db_pass"),
        "{}",
        out.stderr
    );
    // The hook after a good load: every project variable is removed, none is set.
    let out = direnv_export(&p, &loaded);
    let diff = json(&out.stdout);
    assert!(out.stderr.contains("db_pass"), "{}", out.stderr);
    for key in ["APP", "API_KEY", "DB"] {
        assert!(diff[key].is_null(), "{key} is exported: {diff}");
    }
    // A fresh shell: nothing from the project either.
    let fresh = json(&direnv_export(&p, &serde_json::Map::new()).stdout);
    let keys: Vec<&String> = fresh
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with("DIRENV_"))
        .collect();
    assert!(keys.is_empty(), "exported {keys:?}");
}
