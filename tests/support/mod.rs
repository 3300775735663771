//! Shared end-to-end harness: a temp project with its own HOME and XDG dirs, and the real
//! binaries run as a user would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ENVREF: &str = env!("CARGO_BIN_EXE_envref");

/// The workspace root (tests/, examples/ live here).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn plugin(name: &str) -> PathBuf {
    root().join("examples/plugins").join(name)
}

/// Whether a component a test needs is present. A missing one fails the test, unless
/// `ENVREF_TEST_ALLOW_SKIP=1` allows skipping and `ENVREF_TEST_REQUIRE` (comma-separated, or
/// `all`) does not name it. An allowed skip is never silent: `SKIPPED <binary>::<test>` goes to
/// the terminal past the harness's capture, and a line to the file `ENVREF_TEST_SKIP_LOG`
/// names, from which tests/support/run.sh prints the final summary.
pub fn available(component: &str, present: bool) -> bool {
    if present {
        return true;
    }
    let required = std::env::var("ENVREF_TEST_REQUIRE").unwrap_or_default();
    let required = required
        .split(',')
        .any(|c| c.trim() == component || c.trim() == "all");
    if required {
        panic!("{component} is required (ENVREF_TEST_REQUIRE) but not available");
    }
    if std::env::var("ENVREF_TEST_ALLOW_SKIP").as_deref() != Ok("1") {
        panic!(
            "{component} is not available on this machine: install it (.ci/run lists how), \
             or allow skipping with ENVREF_TEST_ALLOW_SKIP=1 (tests/support/run.sh sets it)"
        );
    }
    record_skip(component);
    false
}

/// Report a skip once per test and component, bypassing the harness's output capture (which
/// only takes `print!`/`eprint!`), so a skipped test never reads as a plain "ok".
fn record_skip(component: &str) {
    use std::io::Write;
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| {
            s.rsplit_once('-')
                .map_or(s.clone(), |(name, _hash)| name.to_string())
        })
        .unwrap_or_default();
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("SKIPPED {binary}::{test}: {component} is not available\n");
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen.contains(&line) {
        return;
    }
    seen.push(line.clone());
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os("ENVREF_TEST_SKIP_LOG") {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log);
        // One write of one short line: appends from parallel test binaries do not interleave.
        let _ = file.and_then(|mut f| f.write_all(line.as_bytes()));
    }
}

pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

pub struct Project {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub dir: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub output: Output,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Project {
    /// An empty project directory with an isolated HOME.
    pub fn new() -> Project {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        let dir = root.join("project");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        Project {
            _tmp: tmp,
            root,
            home,
            dir,
            extra_env: Vec::new(),
        }
    }

    /// A project with `.envref.yaml` and `.env`.
    pub fn with(config: &str, env: &str) -> Project {
        let p = Project::new();
        p.write(".envref.yaml", config);
        p.write(".env", env);
        p
    }

    pub fn env(mut self, k: &str, v: impl Into<String>) -> Project {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    pub fn set_env(&mut self, k: &str, v: impl Into<String>) {
        self.extra_env.retain(|(key, _)| key != k);
        self.extra_env.push((k.into(), v.into()));
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }

    /// A command for `program` with only PATH, HOME, XDG dirs and the extra env set.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.dir).env_clear();
        for k in [
            "PATH",
            "DBUS_SESSION_BUS_ADDRESS",
            "XDG_RUNTIME_DIR",
            "LANG",
        ] {
            if let Some(v) = std::env::var_os(k) {
                c.env(k, v);
            }
        }
        c.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("NO_COLOR", "1");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c.stdin(Stdio::null());
        c
    }

    /// `envref allow`: the test trusts the `.envref.yaml` it wrote to run the programs it
    /// names (a freshly written config is untrusted, like a cloned one). Any later write of
    /// the config needs another `allow`.
    #[track_caller]
    pub fn allow(&self) {
        self.envref(&["allow"]).ok();
    }

    /// Write `.envref.yaml` and trust it ([`Project::allow`]).
    #[track_caller]
    pub fn write_allowed_config(&self, content: &str) {
        self.write(".envref.yaml", content);
        self.allow();
    }

    pub fn envref_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(ENVREF);
        c.args(args);
        c
    }

    pub fn envref(&self, args: &[&str]) -> Run {
        run(self.envref_cmd(args))
    }

    /// Run with `input` on stdin.
    pub fn envref_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut c = self.envref_cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        to_run(child.wait_with_output().unwrap())
    }
}

pub fn run(mut c: Command) -> Run {
    to_run(c.output().expect("spawn"))
}

fn to_run(output: Output) -> Run {
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

/// A fresh state directory (for `XDG_STATE_HOME`) in which `envref allow` has recorded the
/// `.envref.yaml` of each of `dirs`: for runs outside a [`Project`], such as `cargo envref`
/// on the example crate.
pub fn allowed_state(dirs: &[&Path]) -> tempfile::TempDir {
    let state = tempfile::tempdir().unwrap();
    for dir in dirs {
        let mut c = Command::new(ENVREF);
        c.arg("-C")
            .arg(dir)
            .arg("allow")
            .env("XDG_STATE_HOME", state.path());
        run(c).ok();
    }
    state
}
