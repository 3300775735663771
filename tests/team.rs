//! End-to-end tests of the team workflow through the real `envref` binary: profiles, edits of
//! `.envref.yaml` that keep comments and never leave it invalid, team keys, `sync` between two
//! people with separate HOMEs and vaults, and `onboard` on a real pseudo-terminal.

use crate::support;

use secrecy::ExposeSecret;
use support::Project;

const PASS: &str = "correct horse";

/// A commented config with a vault backend; every edit must keep these lines.
const CONFIG: &str = "\
# envref configuration for the demo app
project: my-app # the secrets namespace

# the vault is the only backend here
backends:
  - name: vault # local, age-encrypted
    type: vault
";

const ENV: &str = "# committed: config and references only\nAPP_NAME=demo\nAPI_KEY=ref://secrets/api_key\nDB_URL=ref://secrets/db_url\n";

fn vault_project() -> Project {
    Project::with(CONFIG, ENV).env("ENVREF_VAULT_PASSPHRASE", PASS)
}

fn init_vault(p: &Project) {
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
}

/// Every comment line of `CONFIG` is still in the file.
#[track_caller]
fn comments_kept(p: &Project) {
    let now = p.read(".envref.yaml");
    for line in CONFIG.lines().filter(|l| l.contains('#')) {
        assert!(now.contains(line), "lost {line:?}:\n{now}");
    }
}

/// An age identity file as `age-keygen` writes it; returns its public key.
fn write_identity(p: &Project, rel: &str) -> String {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    p.write(
        rel,
        &format!(
            "# created: 2026-01-01T00:00:00Z\n# public key: {public}\n{}\n",
            id.to_string().expose_secret()
        ),
    );
    public
}

// ---------------------------------------------------------------- profiles

#[test]
fn profile_create_list_use_and_comments_survive() {
    let p = Project::with(CONFIG, ENV);
    let out = p.envref(&["profile", "list"]).ok();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("no profiles found"), "{}", out.stderr);

    // create: a commented stub; --register adds it under profiles: and keeps the rest.
    let out = p
        .envref(&["profile", "create", "staging", "--register"])
        .ok();
    assert!(
        out.stderr.contains("created .env.staging")
            && out.stderr.contains("registered profile staging"),
        "{}",
        out.stderr
    );
    assert!(p
        .read(".env.staging")
        .starts_with("# Environment of the staging profile"));
    assert_eq!(
        p.read(".envref.yaml"),
        format!("{CONFIG}\nprofiles:\n  staging:\n    env_file: .env.staging\n")
    );
    let out = p.envref(&["profile", "create", "staging"]).fails(1);
    assert!(
        out.stderr.contains(".env.staging already exists") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    p.write("seed.env", "APP_NAME=from-seed\n");
    p.envref(&[
        "profile",
        "create",
        "staging",
        "--from",
        "seed.env",
        "--force",
        "--register",
    ])
    .ok();
    assert_eq!(p.read(".env.staging"), "APP_NAME=from-seed\n");
    for bad in ["local", "a.b", "a/b"] {
        let out = p.envref(&["profile", "create", bad]).fails(1);
        assert!(
            out.stderr.contains("cannot create profile"),
            "{bad}: {}",
            out.stderr
        );
    }
    p.envref(&["profile", "create", "missing-source", "--from", "nope.env"])
        .fails(1);
    assert!(!p.dir.join(".env.missing-source").exists());
    // An unregistered .env.<name> is a profile too; .env.example and .env.local are not.
    p.write(".env.dev", "APP_NAME=dev\n");
    p.write(".env.example", "APP_NAME=\n");
    p.write(".env.local", "LOCAL=1\n");

    let out = p.envref(&["profile", "use", "dev"]).ok();
    assert!(out.stderr.contains("active profile: dev"), "{}", out.stderr);
    let config = p.read(".envref.yaml");
    assert!(
        config.starts_with("# envref configuration for the demo app\nproject: my-app # the secrets namespace\nactive_profile: dev\n"),
        "{config}"
    );
    comments_kept(&p);
    assert_eq!(
        p.envref(&["list"]).ok().stdout,
        "APP_NAME=dev\nAPI_KEY=ref://***\nDB_URL=ref://***\nLOCAL=1\n"
    );
    let list = p.envref(&["profile", "list"]).ok().stdout;
    assert_eq!(
        list,
        "* dev           .env.dev (file)\n  staging       .env.staging (config, file)\n"
    );
    // ENVREF_PROFILE wins over active_profile, and list marks the profile in effect.
    let mut q = Project::with(CONFIG, ENV);
    q.write(".env.dev", "");
    q.write(".env.qa", "");
    q.set_env("ENVREF_PROFILE", "qa");
    assert!(q.envref(&["profile", "list"]).ok().stdout.contains("* qa"));
    let out = q.envref(&["profile", "use", "dev"]).ok();
    assert!(
        out.stderr.contains("warning: ENVREF_PROFILE is set to qa"),
        "{}",
        out.stderr
    );

    p.envref(&["profile", "use", "staging"]).ok();
    assert!(p
        .read(".envref.yaml")
        .contains("\nactive_profile: staging\n"));
    let out = p.envref(&["profile", "use", "stagign"]).fails(1);
    assert!(
        out.stderr.contains("profile stagign not found")
            && out.stderr.contains("did you mean staging?"),
        "{}",
        out.stderr
    );
    p.envref(&["profile", "use", "example"]).fails(1);
    p.envref(&["profile", "use", "local"]).fails(1);
    p.envref(&["profile", "use"]).fails(2);
    p.envref(&["profile", "use", "dev", "--clear"]).fails(2);
    p.envref(&["profile", "use", "--clear"]).ok();
    assert_eq!(
        p.read(".envref.yaml"),
        format!("{CONFIG}\nprofiles:\n  staging:\n    env_file: .env.staging\n")
    );
    p.envref(&["profile"]).fails(2);
}

#[test]
fn profile_diff_and_export() {
    let p = Project::with(CONFIG, "APP_NAME=demo\nSHARED=same\nAPI_KEY=ref://secrets/api_key\nURL=http://${HOST}/x\nHOST=base\n");
    p.write(".env.dev", "HOST=localhost\nDEBUG=1\n");
    p.write(
        ".env.prod",
        "HOST=prod.example.com\nAPI_KEY=ref://secrets/prod_api_key\nREPLICAS=3\n",
    );
    let out = p.envref(&["profile", "diff", "dev", "prod"]).ok();
    assert_eq!(
        out.stdout,
        "~ API_KEY=ref://secrets/api_key\n~ API_KEY=ref://secrets/prod_api_key\n- DEBUG=1\n~ HOST=localhost\n~ HOST=prod.example.com\n+ REPLICAS=3\n~ URL=http://localhost/x\n~ URL=http://prod.example.com/x\n"
    );
    assert!(
        out.stderr
            .contains("5 differences: 1 only in dev, 1 only in prod, 3 changed"),
        "{}",
        out.stderr
    );
    let json: serde_json::Value = serde_json::from_str(
        &p.envref(&["profile", "diff", "dev", "prod", "--format", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    assert_eq!(
        json[1],
        serde_json::json!({"key": "DEBUG", "kind": "only_a", "value_a": "1"})
    );
    assert_eq!(
        json[3],
        serde_json::json!({"key": "REPLICAS", "kind": "only_b", "value_b": "3"})
    );
    let same = p.envref(&["profile", "diff", "dev", "dev"]).ok();
    assert_eq!(same.stdout, "");
    assert!(
        same.stderr
            .contains("profiles dev and dev are identical (6 keys)"),
        "{}",
        same.stderr
    );
    assert_eq!(
        p.envref(&["profile", "diff", "dev", "dev", "--format", "json"])
            .ok()
            .stdout,
        "[]\n"
    );
    p.envref(&["profile", "diff", "dev", "nope"]).fails(1);
    p.envref(&["profile", "diff", "dev", "prod", "--format", "table"])
        .fails(2);
    p.envref(&["profile", "diff", "dev"]).fails(2);

    // export: merged and interpolated, references as written (never resolved: no backend is asked).
    let json: serde_json::Value =
        serde_json::from_str(&p.envref(&["profile", "export", "prod"]).ok().stdout).unwrap();
    assert_eq!(json["API_KEY"], "ref://secrets/prod_api_key");
    assert_eq!(json["URL"], "http://prod.example.com/x");
    let shell = p
        .envref(&["profile", "export", "dev", "--format", "shell"])
        .ok()
        .stdout;
    assert!(
        shell.contains("export HOST=localhost\n")
            && shell.contains("export API_KEY=ref://secrets/api_key\n"),
        "{shell}"
    );
    p.envref(&["profile", "export", "nope"]).fails(1);
    p.envref(&["profile", "export", "dev", "--format", "xml"])
        .fails(2);
    // An interpolation error is an error, not a silently empty value.
    p.write(".env.bad", "NEED=${NOT_SET_ANYWHERE_42:?must be set}\n");
    let out = p.envref(&["profile", "export", "bad"]).fails(1);
    assert!(
        out.stderr
            .contains(".env.bad:1:6: the variable that `${…:?…}` requires is not set or empty"),
        "{}",
        out.stderr
    );
}

/// The Go envref's `profile use` could write a config that every later command rejects.
/// Here an edit that would not produce a valid file is refused and the file is untouched.
#[test]
fn profile_use_never_writes_an_invalid_config() {
    // A flow-style config the line editor cannot edit: the result would not parse.
    let flow = "{project: my-app, profiles: {dev: {}}}\n";
    let p = Project::with(flow, "A=1\n");
    p.write(".env.dev", "A=2\n");
    let out = p.envref(&["profile", "use", "dev"]).fails(1);
    assert!(
        out.stderr.contains("refusing to edit") && out.stderr.contains("the file is unchanged"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("active_profile: dev"),
        "the hint says what to write: {}",
        out.stderr
    );
    assert_eq!(p.read(".envref.yaml"), flow);
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "A=1\n");

    // The Go defect's own case: `profiles:` lists others and .env.dev exists unregistered.
    // The result is valid here (an on-disk profile file counts), so every command still works.
    let p = Project::with("project: my-app\nprofiles:\n  staging: {}\n", "A=1\n");
    p.write(".env.dev", "A=2\n");
    p.envref(&["profile", "use", "dev"]).ok();
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "A=2\n");

    // `project:` as the last line without a newline (the Go envref panicked).
    let p = Project::with("project: my-app", "A=1\n");
    p.write(".env.dev", "A=3\n");
    p.envref(&["profile", "use", "dev"]).ok();
    assert_eq!(
        p.read(".envref.yaml"),
        "project: my-app\nactive_profile: dev\n"
    );
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "A=3\n");

    // Registering into a flow-style `profiles:` is refused before the env file is written.
    let p = Project::with("project: my-app\nprofiles: {dev: {}}\n", "A=1\n");
    let out = p
        .envref(&["profile", "create", "qa", "--register"])
        .fails(1);
    assert!(out.stderr.contains("flow style"), "{}", out.stderr);
    assert!(!p.dir.join(".env.qa").exists());
    assert_eq!(
        p.read(".envref.yaml"),
        "project: my-app\nprofiles: {dev: {}}\n"
    );
}

// ---------------------------------------------------------------- team

#[test]
fn team_add_list_remove_keeps_the_file() {
    let p = Project::with(CONFIG, ENV);
    let alice = age::x25519::Identity::generate().to_public().to_string();
    let bob = age::x25519::Identity::generate().to_public().to_string();
    let out = p.envref(&["team", "list"]).ok();
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("no team members configured"),
        "{}",
        out.stderr
    );

    p.envref(&["team", "add", "zoe", &alice]).ok();
    p.envref(&["team", "add", "bob", &bob]).ok();
    assert_eq!(
        p.read(".envref.yaml"),
        format!("{CONFIG}\nteam:\n  - name: zoe\n    public_key: {alice}\n  - name: bob\n    public_key: {bob}\n")
    );
    assert_eq!(
        p.envref(&["team", "list"]).ok().stdout,
        format!("bob  {bob}\nzoe  {alice}\n")
    );

    let before = p.read(".envref.yaml");
    let out = p.envref(&["team", "add", "bob", &alice]).fails(1);
    assert!(
        out.stderr.contains("team member bob already exists"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["team", "add", "carol", &bob]).fails(1);
    assert!(
        out.stderr.contains("already belongs to team member bob"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["team", "add", "carol", "age1notakey"]).fails(1);
    assert!(
        out.stderr.contains("not an age public key"),
        "{}",
        out.stderr
    );
    p.envref(&["team", "add", "carol"]).fails(2);
    let out = p.envref(&["team", "remove", "carol"]).fails(1);
    assert!(
        out.stderr.contains("no team member named carol")
            && out.stderr.contains("team members: zoe, bob"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.read(".envref.yaml"),
        before,
        "failed edits leave the file alone"
    );

    p.envref(&["team", "remove", "zoe"]).ok();
    assert_eq!(
        p.read(".envref.yaml"),
        format!("{CONFIG}\nteam:\n  - name: bob\n    public_key: {bob}\n")
    );
    p.envref(&["team", "rm", "bob"]).ok();
    assert_eq!(
        p.read(".envref.yaml"),
        CONFIG,
        "back to the original, comments and all"
    );
    p.envref(&["team"]).fails(2);
}

// ---------------------------------------------------------------- sync

/// Alice pushes the project's secrets to Bob's public key; Bob, with his own HOME and an empty
/// vault, pulls them with his identity file and resolves the project. Carol's key cannot read
/// the file.
#[test]
fn two_person_sync_through_a_committed_file() {
    let alice = vault_project();
    init_vault(&alice);
    alice
        .envref(&["secret", "set", "api_key", "--value", "sk-alice-123"])
        .ok();
    alice
        .envref(&[
            "secret",
            "set",
            "db_url",
            "--value",
            "postgres://u:p@db/app",
        ])
        .ok();
    alice
        .envref(&[
            "secret",
            "set",
            "api_key",
            "--profile",
            "staging",
            "--value",
            "sk-staging",
        ])
        .ok();
    alice
        .envref(&["secret", "set", "other_project_key", "--value", "x"])
        .ok();
    // A secret of another project in the same vault does not travel.
    let mut other = Project::with(
        "project: other-app\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    );
    other.home = alice.home.clone();
    let other = other.env("ENVREF_VAULT_PASSPHRASE", PASS);
    other
        .envref(&["secret", "set", "not_for_bob", "--value", "nope"])
        .ok();

    let bob = vault_project();
    let bob_key = write_identity(&bob, "bob.key");
    let carol = vault_project();
    write_identity(&carol, "carol.key");
    let alice_key = write_identity(&alice, "alice.key");

    alice.envref(&["team", "add", "alice", &alice_key]).ok();
    alice.envref(&["team", "add", "bob", &bob_key]).ok();
    comments_kept(&alice);
    let out = alice.envref(&["sync", "push", "--to-team"]).ok();
    // Push names every recipient it encrypted to.
    assert!(
        out.stderr.contains(&format!(
            "pushed 4 secrets from backend vault to .envref.secrets.age, encrypted to 2 recipients:\n  alice  {alice_key}\n  bob  {bob_key}\n"
        )),
        "{}",
        out.stderr
    );
    let sealed = alice.read(".envref.secrets.age");
    assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    for plain in [
        "sk-alice-123",
        "postgres://",
        "sk-staging",
        "api_key",
        "nope",
    ] {
        assert!(!sealed.contains(plain), "{plain} in the sync file");
    }

    // Bob: the committed files arrive through git.
    for f in [".envref.yaml", ".env", ".envref.secrets.age"] {
        bob.write(f, &alice.read(f));
        carol.write(f, &alice.read(f));
    }
    init_vault(&bob);
    bob.envref(&["resolve"]).fails(1);
    // Without a terminal and without --yes: the keys it would add (names only), then a refusal;
    // nothing is stored.
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .fails(1);
    assert!(
        out.stderr.contains(
            ".envref.secrets.age would store into backend vault:\n  add (4): api_key, db_url, other_project_key, staging/api_key\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was written") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("sk-alice-123") && !out.stderr.contains("postgres://"),
        "a value leaked: {}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["secret", "list"]).ok().stdout,
        "",
        "stored without confirmation"
    );
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    assert!(
        out.stderr.contains("pulled 4 secrets from .envref.secrets.age into backend vault (4 added, 0 changed, 0 unchanged, 0 kept)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["resolve"]).ok().stdout,
        "APP_NAME=demo\nAPI_KEY=sk-alice-123\nDB_URL=postgres://u:p@db/app\n"
    );
    assert_eq!(
        bob.envref(&["resolve", "-P", "staging"]).ok().stdout,
        "APP_NAME=demo\nAPI_KEY=sk-staging\nDB_URL=postgres://u:p@db/app\n"
    );
    bob.envref(&["secret", "get", "not_for_bob"]).fails(1);

    // Carol's key is not a recipient: nothing decrypts, nothing is written.
    init_vault(&carol);
    let out = carol
        .envref(&["sync", "pull", "--identity", "carol.key"])
        .fails(1);
    assert!(
        out.stderr.contains("not encrypted to this identity")
            && out.stderr.contains("envref team add"),
        "{}",
        out.stderr
    );
    assert_eq!(carol.envref(&["secret", "list"]).ok().stdout, "");
    // And not with the age library directly either.
    let mut reader = age::armor::ArmoredReader::new(sealed.as_bytes());
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut bytes).unwrap();
    assert!(age::decrypt(&age::x25519::Identity::generate(), &bytes).is_err());

    // Alice rotates a value and pushes again (to Bob's key only, with --to).
    alice
        .envref(&["secret", "set", "api_key", "--value", "sk-alice-456"])
        .ok();
    alice.envref(&["sync", "push", "--to", &bob_key]).ok();
    bob.write(".envref.secrets.age", &alice.read(".envref.secrets.age"));
    // A key holding another value is kept without --force, and kept keys write nothing, so
    // no confirmation is needed; keys with the same value are "unchanged", never "changed".
    let out = bob.envref(&["sync", "pull", "--identity", "bob.key"]).ok();
    assert!(
        out.stderr
            .contains("(0 added, 0 changed, 3 unchanged, 1 kept)")
            && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("would store"), "{}", out.stderr);
    assert_eq!(
        bob.envref(&["secret", "get", "api_key"]).ok().stdout,
        "sk-alice-123\n"
    );
    // A key he does not have yet is added next to them, after a yes.
    bob.envref(&["secret", "delete", "db_url", "--force"]).ok();
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .fails(1);
    assert!(
        out.stderr.contains("  add (1): db_url\n") && !out.stderr.contains("change ("),
        "{}",
        out.stderr
    );
    bob.envref(&["secret", "get", "db_url"]).fails(1);
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    assert!(
        out.stderr
            .contains("(1 added, 0 changed, 2 unchanged, 1 kept)"),
        "{}",
        out.stderr
    );
    // --force overwrites what differs, and only that.
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force"])
        .fails(1);
    assert!(
        out.stderr.contains("  change (1): api_key\n") && !out.stderr.contains("add ("),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-alice-456"), "{}", out.stderr);
    assert_eq!(
        bob.envref(&["secret", "get", "api_key"]).ok().stdout,
        "sk-alice-123\n"
    );
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force", "--yes"])
        .ok();
    assert!(
        out.stderr
            .contains("(0 added, 1 changed, 3 unchanged, 0 kept)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["secret", "get", "api_key"]).ok().stdout,
        "sk-alice-456\n"
    );
    // AGE_IDENTITY instead of --identity.
    let bob = bob.env("AGE_IDENTITY", "bob.key");
    bob.envref(&["sync", "pull"]).ok();
}

/// The attack of issue 10 §6: anyone who can commit can encrypt a file to Bob's public key and
/// add themselves to `team:`. age has no signatures, so envref cannot tell who wrote the file;
/// it shows what a pull would change, asks first, and warns loudly when the team's keys differ
/// from the ones remembered on first use (pull and push alike).
#[test]
fn forged_sync_file_and_changed_team_are_shown_and_need_a_yes() {
    let alice = vault_project();
    init_vault(&alice);
    alice
        .envref(&["secret", "set", "db_url", "--value", "postgres://real"])
        .ok();
    let alice_key = write_identity(&alice, "alice.key");
    let bob = vault_project();
    let bob_key = write_identity(&bob, "bob.key");
    init_vault(&bob);
    alice.envref(&["team", "add", "alice", &alice_key]).ok();
    alice.envref(&["team", "add", "bob", &bob_key]).ok();
    let out = alice.envref(&["sync", "push", "--to-team"]).ok();
    assert!(
        out.stderr
            .contains("first sync of this project here: remembering its 2 team keys"),
        "{}",
        out.stderr
    );
    for f in [".envref.yaml", ".env", ".envref.secrets.age"] {
        bob.write(f, &alice.read(f));
    }
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    assert!(
        out.stderr.contains("remembering its 2 team keys") && !out.stderr.contains("CHANGED"),
        "{}",
        out.stderr
    );
    // Remembered in Bob's state directory, private, by public key.
    let state = bob.home.join(".local/state/envref/sync-teams.json");
    let remembered = std::fs::read_to_string(&state).unwrap();
    assert!(
        remembered.contains(&bob_key) && remembered.contains(&alice_key),
        "{remembered}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Same team, nothing new: no warning, no question.
    let out = bob.envref(&["sync", "pull", "--identity", "bob.key"]).ok();
    assert!(
        !out.stderr.contains("warning") && !out.stderr.contains("remembering"),
        "{}",
        out.stderr
    );

    // Mallory commits a file of her own, encrypted to Bob's public key, and adds herself to the team.
    let mallory = Project::with(CONFIG, ENV).env("ENVREF_VAULT_PASSPHRASE", PASS);
    init_vault(&mallory);
    let mallory_key = write_identity(&mallory, "mallory.key");
    mallory
        .envref(&["secret", "set", "db_url", "--value", "postgres://attacker"])
        .ok();
    mallory
        .envref(&["secret", "set", "new_key", "--value", "planted"])
        .ok();
    mallory
        .envref(&[
            "sync",
            "push",
            "--to",
            &bob_key,
            "--identity",
            "mallory.key",
        ])
        .ok();
    bob.write(".envref.secrets.age", &mallory.read(".envref.secrets.age"));
    bob.envref(&["team", "add", "mallory", &mallory_key]).ok();
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force"])
        .fails(1);
    assert!(
        out.stderr
            .contains("warning: THE TEAM'S KEYS CHANGED since you last synced this project"),
        "{}",
        out.stderr
    );
    // Her file verifies as hers, but a key that just joined `team:` is not trusted as a sender.
    assert!(
        out.stderr.contains(&format!("authenticated as coming from {mallory_key}, which is not a team key you have synced with")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("warning:   added:   mallory  {mallory_key}\n")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("  add (1): new_key\n  change (1): db_url\n"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("postgres://attacker") && !out.stderr.contains("planted"),
        "a value leaked: {}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["secret", "get", "db_url"]).ok().stdout,
        "postgres://real\n",
        "stored without a yes"
    );
    bob.envref(&["secret", "get", "new_key"]).fails(1);
    // A changed team alone (nothing to store) still needs the yes, and is not forgotten until then.
    bob.write(".envref.secrets.age", &alice.read(".envref.secrets.age"));
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .fails(1);
    assert!(
        out.stderr.contains("CHANGED")
            && out.stderr.contains("--yes")
            && !out.stderr.contains("would store"),
        "{}",
        out.stderr
    );
    // Accepted with --yes, the new team is remembered; removing a key is a change too.
    bob.envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    assert!(!bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .ok()
        .stderr
        .contains("CHANGED"));
    bob.envref(&["team", "remove", "alice"]).ok();
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .fails(1);
    assert!(
        out.stderr
            .contains(&format!("warning:   removed: alice  {alice_key}\n"))
            && !out.stderr.contains("added:"),
        "{}",
        out.stderr
    );
    // A team emptied (accepted) and then refilled is still a change, not a new first use.
    for m in ["alice", "bob", "mallory"] {
        let _ = bob.envref(&["team", "remove", m]);
    }
    bob.envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    bob.envref(&["team", "add", "eve", &mallory_key]).ok();
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key"])
        .fails(1);
    assert!(
        out.stderr.contains(&format!("added:   eve  {mallory_key}"))
            && !out.stderr.contains("first sync"),
        "{}",
        out.stderr
    );

    // Push: Alice's team gained a key behind her back; she is warned and asked before her
    // secrets are encrypted to it, and the committed file is untouched until she says yes.
    alice.envref(&["team", "add", "mallory", &mallory_key]).ok();
    let before = alice.read(".envref.secrets.age");
    let out = alice.envref(&["sync", "push", "--to-team"]).fails(1);
    assert!(
        out.stderr
            .contains(&format!("added:   mallory  {mallory_key}"))
            && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    assert_eq!(alice.read(".envref.secrets.age"), before);
    let out = alice.envref(&["sync", "push", "--to-team", "--yes"]).ok();
    assert!(
        out.stderr.contains(&format!("encrypted to 3 recipients:\n  alice  {alice_key}\n  bob  {bob_key}\n  mallory  {mallory_key}\n")),
        "{}",
        out.stderr
    );
    assert!(!alice
        .envref(&["sync", "push", "--to-team"])
        .ok()
        .stderr
        .contains("CHANGED"));

    // XDG_STATE_HOME is honoured.
    let carol = vault_project().env(
        "XDG_STATE_HOME",
        bob.root.join("carol-state").to_string_lossy().into_owned(),
    );
    init_vault(&carol);
    carol.write(".envref.yaml", &alice.read(".envref.yaml"));
    carol
        .envref(&["secret", "set", "db_url", "--value", "x"])
        .ok();
    carol.envref(&["sync", "push", "--to-team"]).ok();
    assert!(bob
        .root
        .join("carol-state/envref/sync-teams.json")
        .is_file());
}

/// age does not sign, so `sync push --identity` (or $AGE_IDENTITY) authenticates the file to
/// each recipient with the sender's key (static X25519 DH + HMAC); pull says who sent it when
/// that key is a team key, and refuses a file whose authentication does not verify.
#[test]
fn sync_files_are_authenticated_with_the_senders_key() {
    let alice = vault_project();
    init_vault(&alice);
    alice
        .envref(&["secret", "set", "db_url", "--value", "postgres://real"])
        .ok();
    let alice_key = write_identity(&alice, "alice.key");
    let bob = vault_project();
    let bob_key = write_identity(&bob, "bob.key");
    init_vault(&bob);
    alice.envref(&["team", "add", "alice", &alice_key]).ok();
    alice.envref(&["team", "add", "bob", &bob_key]).ok();
    let out = alice
        .envref(&["sync", "push", "--to-team", "--identity", "alice.key"])
        .ok();
    assert!(
        out.stderr
            .contains(&format!("authenticated as {alice_key}\n"))
            && !out.stderr.contains("unsigned"),
        "{}",
        out.stderr
    );
    for f in [".envref.yaml", ".env", ".envref.secrets.age"] {
        bob.write(f, &alice.read(f));
    }
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--yes"])
        .ok();
    assert!(
        out.stderr.contains(&format!(
            ".envref.secrets.age is authenticated as coming from alice ({alice_key}), a team key"
        )),
        "{}",
        out.stderr
    );
    // $AGE_IDENTITY signs too; without either, push says the file is unsigned.
    let out = alice.envref(&["sync", "push", "--to-team"]).ok();
    assert!(
        out.stderr.contains("unsigned: pass --identity"),
        "{}",
        out.stderr
    );
    let alice = alice.env("AGE_IDENTITY", "alice.key");
    let out = alice.envref(&["sync", "push", "--to-team"]).ok();
    assert!(
        out.stderr
            .contains(&format!("authenticated as {alice_key}")),
        "{}",
        out.stderr
    );

    // Someone with commit access edits a value inside Alice's file (re-encrypted to Bob's public
    // key, her tags kept): refused, even with --yes, and nothing is stored.
    let bob_id: age::x25519::Identity = bob
        .read("bob.key")
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .parse()
        .unwrap();
    let mut armored = std::io::Cursor::new(alice.read(".envref.secrets.age"));
    let mut sealed = Vec::new();
    std::io::Read::read_to_end(
        &mut age::armor::ArmoredReader::new(&mut armored),
        &mut sealed,
    )
    .unwrap();
    let plain = String::from_utf8(age::decrypt(&bob_id, &sealed).unwrap()).unwrap();
    assert!(
        plain.contains(&format!("\"sender\": \"{alice_key}\"")),
        "{plain}"
    );
    let tampered = plain.replace("postgres://real", "postgres://evil");
    bob.write(
        ".envref.secrets.age",
        &age::encrypt_and_armor(&bob_id.to_public(), tampered.as_bytes()).unwrap(),
    );
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force", "--yes"])
        .fails(1);
    assert!(
        out.stderr.contains(&format!(
            "claims to come from {alice_key}, but its authentication does not verify"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("postgres://evil") && !out.stderr.contains("would store"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["secret", "get", "db_url"]).ok().stdout,
        "postgres://real\n"
    );

    // Mallory signs with her own key, which is not a team key: named, and a yes is still needed.
    let mallory = vault_project();
    init_vault(&mallory);
    let mallory_key = write_identity(&mallory, "mallory.key");
    mallory
        .envref(&["secret", "set", "db_url", "--value", "postgres://attacker"])
        .ok();
    mallory
        .envref(&[
            "sync",
            "push",
            "--to",
            &bob_key,
            "--identity",
            "mallory.key",
        ])
        .ok();
    bob.write(".envref.secrets.age", &mallory.read(".envref.secrets.age"));
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force"])
        .fails(1);
    assert!(
        out.stderr.contains(&format!("authenticated as coming from {mallory_key}, which is not a team key you have synced with")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("  change (1): db_url") && out.stderr.contains("--yes"),
        "{}",
        out.stderr
    );
    // Unsigned, it is called unsigned.
    mallory.envref(&["sync", "push", "--to", &bob_key]).ok();
    bob.write(".envref.secrets.age", &mallory.read(".envref.secrets.age"));
    let out = bob
        .envref(&["sync", "pull", "--identity", "bob.key", "--force"])
        .fails(1);
    assert!(
        out.stderr
            .contains("is not signed: anyone who can commit could have written it"),
        "{}",
        out.stderr
    );
    assert_eq!(
        bob.envref(&["secret", "get", "db_url"]).ok().stdout,
        "postgres://real\n"
    );
}

/// On a terminal, pull asks y/N; "n" stores nothing, "y" stores.
#[test]
fn sync_pull_asks_on_a_terminal() {
    if !support::available("python3", support::have("python3")) {
        return;
    }
    let p = vault_project();
    init_vault(&p);
    let key = write_identity(&p, "me.key");
    p.envref(&["secret", "set", "api_key", "--value", "sk-1"])
        .ok();
    p.envref(&["sync", "push", "--to", &key]).ok();
    p.envref(&["secret", "delete", "api_key", "--force"]).ok();
    // A line answered on a pseudo-terminal once the question shows.
    const DRIVER: &str = "import os, pty, sys, time\npid, fd = pty.fork()\nif pid == 0:\n    os.execv(sys.argv[2], sys.argv[2:])\nout = b''\nsent = False\nwhile True:\n    try:\n        d = os.read(fd, 4096)\n    except OSError:\n        break\n    if not d:\n        break\n    out += d\n    if not sent and b'[y/N]' in out:\n        os.write(fd, sys.argv[1].encode() + b'\\n')\n        sent = True\n_, st = os.waitpid(pid, 0)\nsys.stdout.buffer.write(out)\nsys.exit(os.waitstatus_to_exitcode(st))\n";
    let answer = |a: &str| {
        let mut cmd = p.command("python3");
        cmd.args([
            "-c",
            DRIVER,
            a,
            support::ENVREF,
            "sync",
            "pull",
            "--identity",
            "me.key",
        ]);
        support::run(cmd)
    };
    let out = answer("n").fails(1);
    assert!(
        out.stdout.contains("add (1): api_key")
            && out
                .stdout
                .contains("Store these secrets in backend vault? [y/N]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("cancelled; nothing was written"),
        "{}",
        out.stdout
    );
    p.envref(&["secret", "get", "api_key"]).fails(1);
    let out = answer("y").ok();
    assert!(
        out.stdout
            .contains("(1 added, 0 changed, 0 unchanged, 0 kept)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key"]).ok().stdout,
        "sk-1\n"
    );
}

#[test]
fn sync_failures() {
    let p = vault_project();
    init_vault(&p);
    let key = write_identity(&p, "me.key");
    // Nothing to push yet.
    let out = p.envref(&["sync", "push", "--to", &key]).fails(1);
    assert!(
        out.stderr
            .contains("no secrets under my-app/ in backend vault"),
        "{}",
        out.stderr
    );
    p.envref(&["secret", "set", "api_key", "--value", "v"]).ok();
    // Recipients are required (usage), must be age keys, and the team must not be empty.
    p.envref(&["sync", "push"]).fails(2);
    let out = p.envref(&["sync", "push", "--to", "age1bogus"]).fails(1);
    assert!(
        out.stderr.contains("--to age1bogus") && out.stderr.contains("not an age public key"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["sync", "push", "--to-team"]).fails(1);
    assert!(out.stderr.contains("no team members"), "{}", out.stderr);
    p.envref(&["sync", "push", "--to-file", "nope.txt"])
        .fails(1);
    p.write("recipients.txt", &format!("# the team\n{key}\n\n"));
    p.envref(&[
        "sync",
        "push",
        "--to-file",
        "recipients.txt",
        "--output",
        "shared/secrets.age",
    ])
    .ok();
    assert!(p.dir.join("shared/secrets.age").is_file());
    p.envref(&["sync", "push", "--to", &key, "--backend", "nope"])
        .fails(1);

    // Pull: an identity is required, must be an identity file, and the sync file must exist.
    let out = p.envref(&["sync", "pull"]).fails(1);
    assert!(
        out.stderr.contains("no identity file given") && out.stderr.contains("AGE_IDENTITY"),
        "{}",
        out.stderr
    );
    p.envref(&["sync", "pull", "--identity", "missing.key"])
        .fails(1);
    p.write("not-a-key.txt", "hello\n");
    let out = p
        .envref(&[
            "sync",
            "pull",
            "--identity",
            "not-a-key.txt",
            "--file",
            "shared/secrets.age",
        ])
        .fails(1);
    assert!(
        out.stderr.contains("not an age identity") && !out.stderr.contains("hello"),
        "{}",
        out.stderr
    );
    let out = p.envref(&["sync", "pull", "--identity", "me.key"]).fails(1);
    assert!(
        out.stderr.contains(".envref.secrets.age") && out.stderr.contains("sync push --to-team"),
        "{}",
        out.stderr
    );
    p.write(".envref.secrets.age", "garbage\n");
    p.envref(&["sync", "pull", "--identity", "me.key"]).fails(1);
    let out = p
        .envref(&[
            "sync",
            "pull",
            "--identity",
            "me.key",
            "--file",
            "shared/secrets.age",
        ])
        .ok();
    assert!(
        out.stderr
            .contains("(0 added, 0 changed, 1 unchanged, 0 kept)"),
        "{}",
        out.stderr
    );
    // A file pushed from another project is not pulled into this one.
    let q = Project::with(
        "project: someone-else\nbackends:\n  - name: vault\n    type: vault\n",
        "",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    init_vault(&q);
    q.write("me.key", &p.read("me.key"));
    q.write(".envref.secrets.age", &p.read("shared/secrets.age"));
    let out = q.envref(&["sync", "pull", "--identity", "me.key"]).fails(1);
    assert!(
        out.stderr.contains("holds the secrets of project my-app"),
        "{}",
        out.stderr
    );
    p.envref(&["sync"]).fails(2);
}

// ---------------------------------------------------------------- onboard

#[test]
fn onboard_lists_refuses_without_a_terminal_and_says_ok() {
    let p = vault_project();
    init_vault(&p);
    p.envref(&["secret", "set", "db_url", "--value", "postgres://x"])
        .ok();
    let out = p.envref(&["onboard", "--dry-run"]).ok();
    assert_eq!(
        out.stdout,
        "API_KEY  ref://secrets/api_key  -> my-app/api_key in backend vault\n"
    );
    let out = p.envref(&["onboard"]).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("missing: API_KEY") && out.stderr.contains("no terminal to ask on"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("envref secret set <key> --stdin"),
        "{}",
        out.stderr
    );
    p.envref(&["onboard", "--backend", "nope"]).fails(1);
    p.envref(&["secret", "set", "api_key", "--value", "sk"])
        .ok();
    let out = p.envref(&["onboard"]).ok();
    assert_eq!(out.stdout, "OK: project my-app: 2/2 references resolve\n");
    assert_eq!(
        p.envref(&["onboard", "--dry-run"]).ok().stdout,
        "OK: project my-app: 2/2 references resolve\n"
    );
}

/// On a real terminal: a hidden prompt per missing secret (the typed value never shows), stored
/// in the profile's scope, then the OK line.
#[test]
fn onboard_prompts_on_a_terminal() {
    if !support::available("python3", support::have("python3")) {
        return;
    }
    let p = vault_project();
    init_vault(&p);
    let driver = support::root().join("tests/support/pty-answer.py");
    let answers = [
        "[1/2] API_KEY",
        "sk-typed-secret",
        "[2/2] DB_URL",
        "",
        "[1/1] DB_URL",
        "postgres://typed",
    ];
    let mut cmd = p.command("python3");
    cmd.arg(&driver)
        .args(&answers[..4])
        .arg("--")
        .arg(support::ENVREF)
        .args(["onboard", "-P", "staging"]);
    let out = support::run(cmd).fails(1);
    assert!(
        out.stdout
            .contains("[1/2] API_KEY (ref://secrets/api_key -> my-app/staging/api_key in vault): "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("stored my-app/staging/api_key in vault")
            && out.stdout.contains("skipped"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("sk-typed-secret"),
        "the value was echoed: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 of 2 references still do not resolve: ref://secrets/db_url"),
        "{}",
        out.stdout
    );
    assert_eq!(
        p.envref(&["secret", "get", "api_key", "-P", "staging"])
            .ok()
            .stdout,
        "sk-typed-secret\n"
    );

    let mut cmd = p.command("python3");
    cmd.arg(&driver)
        .args(&answers[4..])
        .arg("--")
        .arg(support::ENVREF)
        .args(["onboard", "-P", "staging"]);
    let out = support::run(cmd).ok();
    assert!(!out.stdout.contains("postgres://typed"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("OK: project my-app, profile staging: 2/2 references resolve"),
        "{}",
        out.stdout
    );
    assert_eq!(
        p.envref(&["resolve", "-P", "staging"]).ok().stdout,
        "APP_NAME=demo\nAPI_KEY=sk-typed-secret\nDB_URL=postgres://typed\n"
    );
}
