//! End-to-end tests of the vault file through the real `envref` binary: it is what it claims to
//! be (issue 10 §7). A symlink, another program's SQLite file, an empty or foreign file and a
//! newer format are refused and left byte for byte as they were; the vault's directory must be
//! private.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::Project;

const PASS: &str = "correct horse";

fn vault_project() -> Project {
    Project::with(
        "project: my-app\nbackends:\n  - name: vault\n    type: vault\n",
        "API_KEY=ref://secrets/api_key\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS)
}

fn vault_dir(p: &Project) -> PathBuf {
    p.home.join(".config/envref")
}

fn vault_file(p: &Project) -> PathBuf {
    vault_dir(p).join("vault.db")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A private directory (0700) for the vault, as `vault init` would make it.
fn private_dir(p: &Project) -> PathBuf {
    let dir = vault_dir(p);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o700);
    dir
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Run SQL on a database file with Python's sqlite3 (another program, as a user would have).
fn sqlite(p: &Project, db: &Path, sql: &str) {
    let mut cmd = p.command("python3");
    cmd.args(["-c", "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.executescript(sys.argv[2])\nc.close()\n"]).arg(db).arg(sql);
    support::run(cmd).ok();
}

fn have_python() -> bool {
    support::available("python3", support::have("python3"))
}

/// Another application's SQLite database, mode 0644, with a row in it.
fn other_app_db(p: &Project) -> PathBuf {
    let db = p.root.join("other-app/app.sqlite");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    sqlite(
        p,
        &db,
        "CREATE TABLE bookmarks (url TEXT); INSERT INTO bookmarks VALUES ('https://example.com');",
    );
    chmod(&db, 0o644);
    db
}

#[test]
fn init_refuses_a_symlink_into_another_apps_database() {
    if !have_python() {
        return;
    }
    let p = vault_project();
    let other = other_app_db(&p);
    let before = std::fs::read(&other).unwrap();
    let link = vault_file(&p);
    std::os::unix::fs::symlink(&other, private_dir(&p).join("vault.db")).unwrap();

    for args in [
        &["vault", "init", "--work-factor", "10"][..],
        &["secret", "set", "api_key", "--value", "sk-1"],
        &["resolve"],
    ] {
        let out = p.envref(args).fails(1);
        assert!(
            out.stderr.contains(&format!(
                "{} is a symbolic link; envref does not follow it",
                link.display()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("hint:"), "{}", out.stderr);
        assert_eq!(
            std::fs::read(&other).unwrap(),
            before,
            "{args:?} wrote into the other app's database"
        );
        assert_eq!(
            mode(&other),
            0o644,
            "{args:?} chmodded the other app's database"
        );
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link was replaced"
        );
        assert_eq!(std::fs::read_link(&link).unwrap(), other);
    }
    assert_eq!(
        names_in(other.parent().unwrap()),
        ["app.sqlite"],
        "no -wal/-shm next to the other app's file"
    );
}

#[test]
fn init_refuses_another_apps_database_in_place() {
    if !have_python() {
        return;
    }
    let p = vault_project();
    let other = other_app_db(&p);
    let vault = vault_file(&p);
    std::fs::copy(&other, private_dir(&p).join("vault.db")).unwrap();
    chmod(&vault, 0o644);
    let before = std::fs::read(&vault).unwrap();
    for args in [
        &["vault", "init", "--work-factor", "10"][..],
        &["secret", "set", "api_key", "--value", "sk-1"],
        &["secret", "list"],
    ] {
        let out = p.envref(args).fails(1);
        assert!(
            out.stderr.contains(&format!(
                "{} is not an envref vault (a SQLite database without envref's tables); envref left it untouched",
                vault.display()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("move this file away and run `envref vault init`"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read(&vault).unwrap(),
            before,
            "{args:?} changed the file"
        );
        assert_eq!(mode(&vault), 0o644, "{args:?} chmodded the file");
    }
    assert_eq!(names_in(&vault_dir(&p)), ["vault.db"]);
}

#[test]
fn an_empty_or_foreign_vault_file_is_left_untouched() {
    let p = vault_project();
    let vault = private_dir(&p).join("vault.db");
    std::fs::write(&vault, "").unwrap();
    // resolve used to turn this into a 20 KB database and then say it "does not exist".
    for args in [
        &["resolve"][..],
        &["secret", "get", "api_key"],
        &["vault", "init", "--work-factor", "10"],
        &["vault", "lock"],
    ] {
        let out = p.envref(args).fails(1);
        assert!(
            out.stderr.contains(&format!(
                "{} is not an envref vault (the file is empty); envref left it untouched",
                vault.display()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("does not exist"), "{}", out.stderr);
        assert_eq!(
            std::fs::metadata(&vault).unwrap().len(),
            0,
            "{args:?} wrote into the empty file"
        );
        assert_eq!(
            names_in(&vault_dir(&p)),
            ["vault.db"],
            "{args:?} left files behind"
        );
    }
    // Not SQLite at all (a text file): named as such, untouched.
    std::fs::write(&vault, "not a database\n").unwrap();
    let out = p.envref(&["secret", "get", "api_key"]).fails(1);
    assert!(
        out.stderr
            .contains("is not an envref vault (not a SQLite database)"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&vault).unwrap(), "not a database\n");
    // A directory where the file should be.
    std::fs::remove_file(&vault).unwrap();
    std::fs::create_dir(&vault).unwrap();
    let out = p.envref(&["vault", "init", "--work-factor", "10"]).fails(1);
    assert!(
        out.stderr
            .contains("is not an envref vault (not a regular file)"),
        "{}",
        out.stderr
    );
    // Moved away, init works and leaves only the vault (no temporary file, no -wal/-shm).
    std::fs::remove_dir(&vault).unwrap();
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    assert_eq!(names_in(&vault_dir(&p)), ["vault.db"]);
    assert_eq!(mode(&vault), 0o600);
    p.envref(&["secret", "set", "api_key", "--value", "sk-1"])
        .ok();
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "API_KEY=sk-1\n");
}

#[test]
fn the_format_version_is_checked_on_open() {
    if !have_python() {
        return;
    }
    let p = vault_project();
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", "api_key", "--value", "sk-1"])
        .ok();
    let vault = vault_file(&p);
    sqlite(
        &p,
        &vault,
        "UPDATE meta SET value = '2' WHERE name = 'format';",
    );
    for args in [
        &["resolve"][..],
        &["secret", "set", "api_key", "--value", "sk-2"],
        &["vault", "lock"],
    ] {
        let out = p.envref(args).fails(1);
        assert!(
            out.stderr.contains(&format!(
                "vault: {} has format version 2; this envref reads version 1",
                vault.display()
            )),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("upgrade envref"), "{}", out.stderr);
        assert!(!out.stderr.contains("sk-1"), "{}", out.stderr);
    }
    sqlite(
        &p,
        &vault,
        "UPDATE meta SET value = 'banana' WHERE name = 'format';",
    );
    let out = p.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr
            .contains("its format record is not a version this envref knows"),
        "{}",
        out.stderr
    );
    sqlite(
        &p,
        &vault,
        "UPDATE meta SET value = '1' WHERE name = 'format';",
    );
    assert_eq!(
        p.envref(&["resolve"]).ok().stdout,
        "API_KEY=sk-1\n",
        "the secret survived: set was refused, not half done"
    );
}

#[test]
fn the_vault_directory_must_be_private() {
    let p = vault_project();
    // An existing ~/.config/envref (envref's own directory) made with the usual umask (755):
    // init tightens it.
    let dir = vault_dir(&p);
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o755);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&vault_file(&p)), 0o600);
    p.envref(&["secret", "set", "api_key", "--value", "sk-1"])
        .ok();
    // Readable by others later on: tightened on the next open, which works.
    chmod(&dir, 0o750);
    assert_eq!(p.envref(&["resolve"]).ok().stdout, "API_KEY=sk-1\n");
    assert_eq!(mode(&dir), 0o700);
    // Writable by others: someone may have swapped the file, so it is refused (not silently
    // fixed) with the command that fixes it, by every command and by init.
    for (bad, shown) in [(0o777, "777"), (0o775, "775"), (0o702, "702")] {
        chmod(&dir, bad);
        for args in [
            &["resolve"][..],
            &["secret", "set", "api_key", "--value", "sk-2"],
            &["vault", "init"],
        ] {
            let out = p.envref(args).fails(1);
            assert!(
                out.stderr.contains(&format!(
                    "vault: the directory {} is writable by other users (mode {shown}); envref refuses to use a vault there",
                    dir.display()
                )),
                "{args:?}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains(&format!("chmod 700 {}", dir.display())),
                "{}",
                out.stderr
            );
            assert_eq!(
                mode(&dir),
                bad,
                "{args:?} changed the mode instead of refusing"
            );
        }
    }
    chmod(&dir, 0o700);
    assert_eq!(
        p.envref(&["resolve"]).ok().stdout,
        "API_KEY=sk-1\n",
        "nothing was written while refused"
    );
    // A directory chosen with `path:` (here the project itself, like examples/quickstart)
    // keeps its mode when others can only read it, and is refused when they can write to it.
    let r = Project::with(
        "project: r\nbackends:\n  - name: vault\n    type: vault\n    config:\n      path: vault.db\n",
        "A=ref://secrets/a\n",
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASS);
    chmod(&r.dir, 0o755);
    r.envref(&["vault", "init", "--work-factor", "10"]).ok();
    r.envref(&["secret", "set", "a", "--value", "1"]).ok();
    assert_eq!(r.envref(&["resolve"]).ok().stdout, "A=1\n");
    assert_eq!(
        mode(&r.dir),
        0o755,
        "a directory the user chose was chmodded"
    );
    assert_eq!(mode(&r.dir.join("vault.db")), 0o600);
    chmod(&r.dir, 0o757);
    let out = r.envref(&["resolve"]).fails(1);
    assert!(
        out.stderr.contains("is writable by other users (mode 757)"),
        "{}",
        out.stderr
    );
    chmod(&r.dir, 0o755);
    // A new vault in a new directory: created 0700.
    let q = Project::with("project: q\nbackends:\n  - name: vault\n    type: vault\n    config:\n      path: secrets/nested/v.db\n", "")
        .env("ENVREF_VAULT_PASSPHRASE", PASS);
    q.envref(&["vault", "init", "--work-factor", "10"]).ok();
    assert_eq!(mode(&q.dir.join("secrets/nested")), 0o700);
    assert_eq!(mode(&q.dir.join("secrets/nested/v.db")), 0o600);
}

/// `vault passwd` through a terminal (the new passphrase is typed twice), with `env` added.
fn passwd_on_a_terminal(p: &Project, env: &[(&str, &Path)]) -> std::process::Command {
    let mut cmd = p.command("python3");
    cmd.arg(support::root().join("tests/support/pty-answer.py"))
        .args([
            "New vault passphrase:",
            "new horse",
            "Repeat the passphrase:",
            "new horse",
        ])
        .arg("--")
        .arg(support::ENVREF)
        .args(["vault", "passwd", "--work-factor", "10"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn resolves_with(p: &Project, passphrase: &str) -> support::Run {
    let mut c = p.envref_cmd(&["resolve"]);
    c.env("ENVREF_VAULT_PASSPHRASE", passphrase);
    support::run(c)
}

/// `vault passwd` re-wraps the key in one transaction: killed after the write and before the
/// commit (ENVREF_TEST_PASSWD_PAUSE, a test-only pause), the old passphrase still works and
/// the new one does not; run to the end, the reverse.
#[test]
fn passwd_is_one_transaction() {
    if !have_python() {
        return;
    }
    let p = vault_project();
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref(&["secret", "set", "api_key", "--value", "sk-1"])
        .ok();
    let marker = p.root.join("paused");
    let mut child = passwd_on_a_terminal(&p, &[("ENVREF_TEST_PASSWD_PAUSE", &marker)])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pid = loop {
        match std::fs::read_to_string(&marker) {
            Ok(pid) if !pid.is_empty() => break pid,
            _ if std::time::Instant::now() > deadline => panic!("passwd never paused"),
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    assert_eq!(resolves_with(&p, PASS).ok().stdout, "API_KEY=sk-1\n");
    let out = resolves_with(&p, "new horse").fails(1);
    assert!(
        out.stderr.contains("vault: wrong passphrase"),
        "{}",
        out.stderr
    );
    // To the end: the new passphrase, and only it.
    let out = support::run(passwd_on_a_terminal(&p, &[])).ok();
    assert!(
        !out.stdout.contains("new horse"),
        "the typed passphrase showed"
    );
    assert_eq!(resolves_with(&p, "new horse").ok().stdout, "API_KEY=sk-1\n");
    let out = resolves_with(&p, PASS).fails(1);
    assert!(
        out.stderr.contains("vault: wrong passphrase"),
        "{}",
        out.stderr
    );
}
