//! The one way envref runs an external program (plugins, vendor CLIs): no shell, an absolute
//! timeout (output is read until the deadline, never past it), stdin closed unless it carries
//! data, stdout/stderr captured with a size cap, and none of envref's own variables in the
//! child's environment (`remove_own_variables`).
//!
//! Secret values and tokens never go in argv (world-readable in /proc): pass them through
//! [`Invocation::stdin`], [`Invocation::env`], or a `SecretFile`.
//!
//! Interrupts: the process groups of running children and the paths of secret temp files
//! (`SecretFile`, [`TempPath`]) are recorded in one process-wide registry. On SIGINT, SIGTERM
//! or SIGHUP a handler thread, installed on the registry's first use, kills those groups,
//! removes those paths and exits 130, 143 or 129 (128 + the signal).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
#[cfg(unix)]
use std::sync::Once;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

pub(crate) use crate::config::CREDENTIAL_VARIABLES;
use crate::config::PROFILE_ENV;
use crate::sync::IDENTITY_ENV;

/// The other variables envref reads for itself (`ENVREF_CONFIG_DIR`: see
/// [`crate::config::global_config_dir`]). Plugins and vendor CLIs have no use for them; the plugin
/// protocol passes everything in the request.
pub(crate) const SETTING_VARIABLES: &[&str] = &[PROFILE_ENV, "ENVREF_CONFIG_DIR", IDENTITY_ENV];

/// Take envref's credentials out of a child's environment. For programs that otherwise get the
/// user's environment as is: `envref run`'s command and cargo.
pub fn remove_credentials(cmd: &mut Command) {
    for name in CREDENTIAL_VARIABLES {
        cmd.env_remove(name);
    }
}

/// Take every variable envref reads for itself out of a child's environment (credentials and
/// settings). Every [`Invocation`] does this: plugins, vendor CLIs, git.
pub(crate) fn remove_own_variables(cmd: &mut Command) {
    remove_credentials(cmd);
    for name in SETTING_VARIABLES {
        cmd.env_remove(name);
    }
}

/// Default cap on captured stdout and stderr, each.
pub(crate) const DEFAULT_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

/// A program to run, built up with the methods below and started with [`Invocation::run`].
pub struct Invocation {
    pub(crate) program: String,
    pub(crate) args: Vec<OsString>,
    /// Extra environment for the child (tokens go here, never in args).
    pub(crate) env: Vec<(String, SecretString)>,
    pub(crate) stdin: Option<SecretString>,
    pub(crate) timeout: Duration,
    pub(crate) output_limit: usize,
    /// Working directory of the child (default: envref's own).
    pub(crate) current_dir: Option<PathBuf>,
}

impl Invocation {
    /// Run `program` (looked up in `PATH` unless it is a path) with no arguments, a 30 s
    /// timeout and the default output cap.
    pub fn new(program: impl Into<String>) -> Self {
        Invocation {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(30),
            output_limit: DEFAULT_OUTPUT_LIMIT,
            current_dir: None,
        }
    }

    /// Append one argument (never a secret: argv is world-readable).
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Append arguments (never secrets: argv is world-readable).
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set an environment variable of the child; the way to pass a token.
    pub fn env(mut self, key: &str, value: SecretString) -> Self {
        self.env.push((key.to_string(), value));
        self
    }

    /// Write `data` to the child's stdin, then close it.
    pub fn stdin(mut self, data: SecretString) -> Self {
        self.stdin = Some(data);
        self
    }

    /// Kill the child (and its process group) after `t`.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub(crate) fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Run the child in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// Run to completion or the timeout, capturing stdout and stderr.
    pub fn run(self) -> Result<Output, RunError> {
        run(self)
    }
}

/// What a finished child left: its exit status and captured output.
#[derive(Debug)]
pub struct Output {
    /// How the child exited.
    pub status: ExitStatus,
    /// Everything it printed on stdout, up to the cap.
    pub stdout: Vec<u8>,
    /// Everything it printed on stderr, up to the cap.
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the child exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code; `None` when a signal ended the child.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub(crate) fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr trimmed to its last meaningful lines (where programs put the error that ended
    /// them, after any warnings or tracebacks), for error messages.
    pub fn stderr_summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut s = lines[lines.len().saturating_sub(3)..].join(" | ");
        let chars = s.chars().count();
        if chars > 400 {
            s = "…".to_string() + &s.chars().skip(chars - 400).collect::<String>();
        }
        if s.is_empty() {
            match self.status.code() {
                Some(c) => format!("exited with status {c}"),
                None => "killed by a signal".into(),
            }
        } else {
            s
        }
    }
}

/// Why a child could not be run to completion.
#[derive(Debug)]
pub enum RunError {
    /// The executable does not exist (or is not executable).
    NotFound(String),
    /// It did not finish within the timeout, and was killed.
    TimedOut(Duration),
    /// stdout or stderr exceeded the cap.
    TooMuchOutput(usize),
    /// Starting, feeding or reading the child failed (the OS's message).
    Io(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound(p) => write!(f, "executable {p} not found"),
            RunError::TimedOut(d) => write!(f, "timed out after {}", human_duration(*d)),
            RunError::TooMuchOutput(n) => {
                write!(f, "printed more than {} of output", human_bytes(*n))
            }
            RunError::Io(e) => write!(f, "{e}"),
        }
    }
}

fn human_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

fn run(inv: Invocation) -> Result<Output, RunError> {
    let deadline = Instant::now() + inv.timeout;
    let mut child = spawn(&inv)?;
    let limit = inv.output_limit;
    if let (Some(mut pipe), Some(data)) = (child.stdin.take(), inv.stdin) {
        // Not joined: a program that never reads its input must not hold envref past the deadline.
        // A program that exits without reading it is not an error here.
        std::thread::spawn(move || {
            let _ = pipe.write_all(data.expose_secret().as_bytes());
        });
    }
    let (tx, rx) = mpsc::channel();
    capture(
        Stream::Out,
        child.stdout.take().expect("piped"),
        limit,
        tx.clone(),
    );
    capture(Stream::Err, child.stderr.take().expect("piped"), limit, tx);
    let captured = wait_for(&mut child, &rx, deadline);
    let status = finish(child);
    let Some((stdout, stderr)) = captured else {
        // Pipes held by a process outside the group stay unread: their reader threads are left behind.
        return Err(RunError::TimedOut(inv.timeout));
    };
    let status = status.map_err(|e| RunError::Io(e.to_string()))?;
    let (stdout, out_over) = read_result(&inv.program, "output", stdout)?;
    let (stderr, err_over) = read_result(&inv.program, "error output", stderr)?;
    if out_over || err_over {
        return Err(RunError::TooMuchOutput(limit));
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Start the program in its own process group, recorded for the interrupt handler.
fn spawn(inv: &Invocation) -> Result<Child, RunError> {
    let mut cmd = Command::new(&inv.program);
    let stdin = if inv.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.args(&inv.args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    remove_own_variables(&mut cmd);
    for (k, v) in &inv.env {
        cmd.env(k, v.expose_secret());
    }
    if let Some(dir) = &inv.current_dir {
        cmd.current_dir(dir);
    }
    // Its own process group, so a timeout or an interrupt kills the program and whatever it started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // Spawn and record under the lock, so an interrupt never misses a child.
    let mut live = registry();
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
            RunError::NotFound(inv.program.clone())
        }
        _ => RunError::Io(format!(
            "cannot start {}: {}",
            inv.program,
            crate::error::io_reason(&e)
        )),
    })?;
    live.groups.push(child.id());
    Ok(child)
}

/// Both pipes' captures once the program has exited and both are closed; `None` when the
/// deadline comes first. The group is killed as soon as the program exits.
fn wait_for(
    child: &mut Child,
    rx: &mpsc::Receiver<(Stream, Captured)>,
    deadline: Instant,
) -> Option<(Option<Captured>, Option<Captured>)> {
    let (mut stdout, mut stderr) = (None, None);
    let mut exited = false;
    let mut pause = Duration::from_millis(1);
    loop {
        if !exited && has_exited(child) {
            exited = true;
            // Children it left behind in its group may still hold the pipes open.
            kill_group(child);
        }
        if exited && stdout.is_some() && stderr.is_some() {
            return Some((stdout, stderr));
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())?;
        let wait = pause.min(left);
        match rx.recv_timeout(wait) {
            Ok((Stream::Out, captured)) => stdout = Some(captured),
            Ok((Stream::Err, captured)) => stderr = Some(captured),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

enum Stream {
    Out,
    Err,
}

/// What [`capture`] read from one pipe: the bytes and whether it went over the limit, or the
/// read error that cut it short.
type Captured = std::io::Result<(Vec<u8>, bool)>;

/// A pipe's capture as the caller needs it: a read error is an error, never truncated output
/// parsed as if it were whole.
fn read_result(
    program: &str,
    what: &str,
    captured: Option<Captured>,
) -> Result<(Vec<u8>, bool), RunError> {
    captured.unwrap_or(Ok(Default::default())).map_err(|e| {
        RunError::Io(format!(
            "cannot read the {what} of {program}: {}",
            crate::error::io_reason(&e)
        ))
    })
}

/// Read a pipe up to `limit` bytes (keep draining past it so the child never blocks), then
/// send what was read and whether it went over, or the read error.
fn capture<R: Read + Send + 'static>(
    stream: Stream,
    mut pipe: R,
    limit: usize,
    done: Sender<(Stream, Captured)>,
) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let mut over = false;
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = done.send((stream, Err(e)));
                    return;
                }
                Ok(n) => {
                    if buf.len() + n > limit {
                        over = true;
                    } else {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        let _ = done.send((stream, Ok((buf, over))));
    });
}

/// Kill the child's group, forget it, then reap the child. Killing first matters: until the
/// child is reaped its group ID cannot belong to anyone else, so the kill never hits a stranger.
fn finish(mut child: Child) -> std::io::Result<ExitStatus> {
    {
        let mut live = registry();
        kill_group(&mut child);
        live.groups.retain(|g| *g != child.id());
    }
    child.wait()
}

/// Whether the child has exited, without reaping it (so its group ID stays ours).
#[cfg(unix)]
fn has_exited(child: &mut Child) -> bool {
    use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    match waitid(WaitId::Pid(Pid::from_child(child)), options) {
        Ok(state) => state.is_some(),
        Err(rustix::io::Errno::INTR) => false,
        Err(_) => true,
    }
}

/// Windows keeps the process handle, and so its ID, until `Child` is dropped: reaping is fine.
#[cfg(not(unix))]
fn has_exited(child: &mut Child) -> bool {
    !matches!(child.try_wait(), Ok(None))
}

#[cfg(unix)]
fn kill_group(child: &mut Child) {
    kill_group_id(child.id());
}

#[cfg(unix)]
fn kill_group_id(id: u32) {
    if let Some(pgid) = i32::try_from(id)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        // ESRCH (the group is already gone) is the normal case after a clean exit.
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(child: &mut Child) {
    let _ = child.kill();
}

/// What an interrupt must clean up: the process groups of running children, and the paths of
/// temporary files (and directories) that hold secrets.
struct Live {
    groups: Vec<u32>,
    paths: Vec<PathBuf>,
    /// Children in envref's own process group (cargo under `cargo envref`): passed the signal.
    forward: Vec<u32>,
    /// Guards ([`SignalsHandled`]) of code that handles the signals itself (masked runs, import).
    handled_elsewhere: usize,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    groups: Vec::new(),
    paths: Vec::new(),
    forward: Vec::new(),
    handled_elsewhere: 0,
});

/// The registry, with the signal handler installed before anything is recorded in it.
fn registry() -> MutexGuard<'static, Live> {
    install_interrupt_handler();
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The signals that interrupt envref: SIGINT, SIGTERM, SIGHUP (the runner's handler, and code
/// that takes them over with [`SignalsHandled`]).
#[cfg(unix)]
pub(crate) const INTERRUPTS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// On SIGINT, SIGTERM or SIGHUP: kill every running child's group, remove every tracked path,
/// exit 128 + the signal (130, 143, 129). Installed once, on the registry's first use: a
/// process that never ran a child or wrote a secret file keeps the default behaviour.
#[cfg(unix)]
fn install_interrupt_handler() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Without the handler envref still works; the signals then end it the default way.
        let Ok(mut signals) = signal_hook::iterator::Signals::new(INTERRUPTS) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("envref-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    // Held until exit: nothing starts and no file is created once cleanup begins.
                    let live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
                    if live.handled_elsewhere > 0 {
                        continue;
                    }
                    for id in &live.groups {
                        kill_group_id(*id);
                    }
                    for pid in live.forward.iter().filter_map(|p| {
                        i32::try_from(*p)
                            .ok()
                            .and_then(rustix::process::Pid::from_raw)
                    }) {
                        if let Some(sig) = rustix::process::Signal::from_named_raw(signal) {
                            let _ = rustix::process::kill_process(pid, sig);
                        }
                    }
                    for path in &live.paths {
                        remove_path(path);
                    }
                    std::process::exit(128 + signal);
                }
            });
    });
}

#[cfg(not(unix))]
fn install_interrupt_handler() {}

fn remove_path(path: &Path) {
    let _ = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    };
}

/// While this guard lives, an interrupt of envref is passed on to `pid` (a child that shares
/// envref's process group and runs on its own terms, like cargo) before envref cleans up and exits.
pub struct ForwardSignals {
    pid: u32,
}

impl ForwardSignals {
    /// Forward interrupts to `pid` until the guard is dropped.
    pub fn to(pid: u32) -> ForwardSignals {
        registry().forward.push(pid);
        ForwardSignals { pid }
    }
}

impl Drop for ForwardSignals {
    fn drop(&mut self) {
        registry().forward.retain(|p| *p != self.pid);
    }
}

/// While this guard lives, the code that holds it handles SIGINT, SIGTERM and SIGHUP itself,
/// so the interrupt handler leaves them to it: the output relay ([`crate::relay`]) passes them
/// to the child and exits with its status; `import` undoes its run before it stops.
pub struct SignalsHandled(());

impl SignalsHandled {
    /// Take the signals over; dropping the guard gives them back.
    pub fn start() -> SignalsHandled {
        registry().handled_elsewhere += 1;
        SignalsHandled(())
    }
}

impl Drop for SignalsHandled {
    fn drop(&mut self) {
        registry().handled_elsewhere -= 1;
    }
}

/// A path that envref removes when this guard is dropped and also when it is interrupted
/// (SIGINT, SIGTERM, SIGHUP: see the module documentation): a file, or a directory with its content.
/// For anything that holds a secret or a channel to one, e.g. a socket directory.
pub struct TempPath {
    path: PathBuf,
}

impl TempPath {
    /// Create `path` with `create` and track it. Both happen under the registry's lock, so an
    /// interrupt either comes first (nothing created) or removes it. When `create` fails,
    /// nothing is tracked and `create` is responsible for what it left.
    pub(crate) fn create(
        path: PathBuf,
        create: impl FnOnce(&Path) -> std::io::Result<()>,
    ) -> std::io::Result<TempPath> {
        let mut live = registry();
        create(&path)?;
        live.paths.push(path.clone());
        Ok(TempPath { path })
    }

    /// Track the temp file `create` makes (its name chosen there), created under the
    /// registry's lock as in [`TempPath::create`]. Dropping the guard removes the path if it is
    /// still there: after a rename, nothing.
    pub(crate) fn around(
        create: impl FnOnce() -> std::io::Result<tempfile::NamedTempFile>,
    ) -> std::io::Result<(tempfile::NamedTempFile, TempPath)> {
        let mut live = registry();
        let file = create()?;
        let path = file.path().to_path_buf();
        live.paths.push(path.clone());
        Ok((file, TempPath { path }))
    }

    /// The tracked path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let mut live = registry();
        remove_path(&self.path);
        live.paths.retain(|p| p != &self.path);
    }
}

/// A 0600 temporary file holding secret content, removed when dropped or when envref is
/// interrupted. For CLIs that take a request from a file (`--cli-input-json file://…`) so
/// values stay out of argv.
pub(crate) struct SecretFile {
    /// `None` only inside `drop`.
    file: Option<tempfile::TempPath>,
}

impl SecretFile {
    pub fn new(content: &SecretString) -> std::io::Result<SecretFile> {
        // Created, written and recorded under the registry's lock: an interrupt either comes
        // first (nothing created) or removes the file. On a write error the file is removed.
        let mut live = registry();
        let mut file = tempfile::Builder::new()
            .prefix("envref-")
            .suffix(".json")
            .tempfile()?; // 0600 on Unix
        file.write_all(content.expose_secret().as_bytes())?;
        let file = file.into_temp_path();
        live.paths.push(file.to_path_buf());
        Ok(SecretFile { file: Some(file) })
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.as_deref().expect("present until dropped")
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let mut live = registry();
        if let Some(file) = self.file.take() {
            live.paths.retain(|p| p != &*file);
            let _ = file.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PASSPHRASE_ENV;

    #[test]
    fn captures_and_feeds_stdin() {
        let out = Invocation::new("sh")
            .args(["-c", "cat; echo err >&2; exit 3"])
            .stdin(SecretString::from("hi"))
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"hi");
        assert_eq!(out.code(), Some(3));
        assert_eq!(out.stderr_summary(), "err");
    }

    /// Whether a process runs (a zombie waiting for its new parent to reap it does not).
    #[cfg(target_os = "linux")]
    fn alive(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }

    fn read_pid(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap().trim().to_string()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn timeout_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pidfile.display());
        let start = Instant::now();
        let r = Invocation::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(200))
            .run();
        assert!(matches!(r, Err(RunError::TimedOut(_))));
        assert!(start.elapsed() < Duration::from_secs(10));
        // The background child died with its parent.
        let pid = read_pid(&pidfile);
        let gone = Instant::now() + Duration::from_secs(5);
        while alive(&pid) && Instant::now() < gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !alive(&pid),
            "the program's child {pid} survived the timeout"
        );
    }

    #[test]
    fn leftover_children_in_the_group_are_killed_when_the_program_exits() {
        // The program answers and exits; its background child holds stdout. Killing the group
        // on exit closes the pipe at once instead of at the deadline.
        let start = Instant::now();
        let out = Invocation::new("sh")
            .args(["-c", "sleep 30 & echo done"])
            .timeout(Duration::from_secs(20))
            .run()
            .unwrap();
        assert_eq!(out.stdout, b"done\n");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn timeout_is_absolute_when_a_process_outside_the_group_holds_stdout() {
        if std::process::Command::new("setsid")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("notice: skipping: setsid is not available");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // `setsid` puts sleep in a new session, out of reach of the group kill; it keeps stdout.
        let script = format!(
            "setsid sh -c 'echo $$ > {p}; exec sleep 60' & while [ ! -s {p} ]; do sleep 0.05; done; echo partial",
            p = pidfile.display()
        );
        let start = Instant::now();
        let r = Invocation::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(500))
            .run();
        let elapsed = start.elapsed();
        let _ = std::process::Command::new("kill")
            .arg(read_pid(&pidfile))
            .status();
        assert!(matches!(r, Err(RunError::TimedOut(_))), "{r:?}");
        assert!(
            elapsed < Duration::from_secs(4),
            "the deadline was not absolute: {elapsed:?}"
        );
    }

    #[test]
    fn helpers_never_get_envrefs_own_variables() {
        let mut cmd = Command::new("env");
        for name in CREDENTIAL_VARIABLES.iter().chain(SETTING_VARIABLES) {
            cmd.env(name, "canary-own-variable");
        }
        cmd.env("ENVREF_FILESTORE", "kept");
        remove_own_variables(&mut cmd);
        let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        assert!(!out.contains("canary-own-variable"), "{out}");
        assert!(
            out.contains("ENVREF_FILESTORE=kept"),
            "a plugin's own settings stay: {out}"
        );

        let mut cmd = Command::new("env");
        cmd.env(PASSPHRASE_ENV, "canary-passphrase")
            .env(PROFILE_ENV, "staging");
        remove_credentials(&mut cmd);
        let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        assert!(!out.contains("canary-passphrase"), "{out}");
        assert!(out.contains("ENVREF_PROFILE=staging"), "{out}");
    }

    #[test]
    fn stderr_summary_keeps_the_last_lines() {
        let out = Invocation::new("sh")
            .args(["-c", "echo warning one >&2; echo two >&2; echo three >&2; echo 'Error: the cause' >&2; exit 1"])
            .run()
            .unwrap();
        assert_eq!(out.stderr_summary(), "two | three | Error: the cause");
    }

    #[test]
    fn temp_path_removes_a_directory_with_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("channel");
        let guard = TempPath::create(path.clone(), |p| {
            std::fs::create_dir(p)?;
            std::fs::write(p.join("socket"), "x")
        })
        .unwrap();
        assert!(guard.path().join("socket").exists());
        drop(guard);
        assert!(!path.exists());
        // A failed create tracks nothing and leaves the error to the caller.
        assert!(
            TempPath::create(dir.path().join("missing/child"), |p| std::fs::create_dir(p)).is_err()
        );
    }

    #[test]
    fn missing_and_too_much() {
        assert!(matches!(
            Invocation::new("envref-no-such-program").run(),
            Err(RunError::NotFound(_))
        ));
        let r = Invocation::new("sh")
            .args(["-c", "head -c 100000 /dev/zero"])
            .output_limit(1000)
            .run();
        assert!(matches!(r, Err(RunError::TooMuchOutput(1000))));
    }

    /// A pipe that breaks after some output: the capture reports the error instead of passing
    /// the truncated output on.
    #[test]
    fn a_read_error_is_an_error_not_truncated_output() {
        struct Breaks(bool);
        impl Read for Breaks {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    return Err(std::io::Error::other("pipe broke"));
                }
                buf[..5].copy_from_slice(b"{\"a\":");
                Ok(5)
            }
        }
        let (tx, rx) = mpsc::channel();
        capture(Stream::Out, Breaks(false), 1000, tx);
        let (_, captured) = rx.recv().unwrap();
        let err = read_result("prog", "output", Some(captured)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the output of prog: pipe broke"
        );
    }

    #[test]
    fn secret_file_is_private_and_removed() {
        let f = SecretFile::new(&SecretString::from("s3cret")).unwrap();
        let path = f.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
        drop(f);
        assert!(!path.exists());
    }
}
