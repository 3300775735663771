//! The one way envref runs an external program (plugins, vendor CLIs): no shell, an absolute
//! timeout, stdin closed unless it carries data, stdout/stderr captured with a size cap.
//!
//! Secret values and tokens never go in argv (world-readable in /proc): pass them through
//! [`Invocation::stdin`], [`Invocation::env`], or a [`SecretFile`].

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use wait_timeout::ChildExt;

/// Default cap on captured stdout and stderr, each.
pub const DEFAULT_OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

pub struct Invocation {
    pub program: String,
    pub args: Vec<OsString>,
    /// Extra environment for the child (tokens go here, never in args).
    pub env: Vec<(String, SecretString)>,
    pub stdin: Option<SecretString>,
    pub timeout: Duration,
    pub output_limit: usize,
    /// Working directory of the child (default: envref's own).
    pub current_dir: Option<PathBuf>,
}

impl Invocation {
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

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: SecretString) -> Self {
        self.env.push((key.to_string(), value));
        self
    }

    pub fn stdin(mut self, data: SecretString) -> Self {
        self.stdin = Some(data);
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    pub fn run(self) -> Result<Output, RunError> {
        run(self)
    }
}

#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr trimmed to its first meaningful lines, for error messages.
    pub fn stderr_summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
        let mut s = lines.join(" | ");
        if s.chars().count() > 400 {
            s = s.chars().take(400).collect::<String>() + "…";
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

#[derive(Debug)]
pub enum RunError {
    /// The executable does not exist (or is not executable).
    NotFound(String),
    TimedOut(Duration),
    /// stdout or stderr exceeded the cap.
    TooMuchOutput(usize),
    Io(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound(p) => write!(f, "executable {p} not found"),
            RunError::TimedOut(d) => write!(f, "timed out after {}", human_duration(*d)),
            RunError::TooMuchOutput(n) => write!(f, "printed more than {} of output", human_bytes(*n)),
            RunError::Io(e) => write!(f, "{e}"),
        }
    }
}

fn human_duration(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn human_bytes(n: usize) -> String {
    if n >= 1024 * 1024 && n % (1024 * 1024) == 0 {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

fn run(inv: Invocation) -> Result<Output, RunError> {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .stdin(if inv.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &inv.env {
        cmd.env(k, v.expose_secret());
    }
    if let Some(dir) = &inv.current_dir {
        cmd.current_dir(dir);
    }
    // Its own process group, so a timeout kills the program and whatever it started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => RunError::NotFound(inv.program.clone()),
        _ => RunError::Io(format!("cannot start {}: {}", inv.program, crate::error::io_reason(&e))),
    })?;
    let limit = inv.output_limit;
    let stdin_thread = match (child.stdin.take(), inv.stdin) {
        (Some(mut pipe), Some(data)) => Some(std::thread::spawn(move || {
            // A program that exits without reading its input is not an error here.
            let _ = pipe.write_all(data.expose_secret().as_bytes());
        })),
        _ => None,
    };
    let out_thread = capture(child.stdout.take().expect("piped"), limit);
    let err_thread = capture(child.stderr.take().expect("piped"), limit);
    let status = match child.wait_timeout(inv.timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            return Err(RunError::TimedOut(inv.timeout));
        }
        Err(e) => {
            kill_group(&mut child);
            return Err(RunError::Io(e.to_string()));
        }
    };
    // The program is gone; children it left behind may still hold the pipes open.
    kill_group(&mut child);
    if let Some(t) = stdin_thread {
        let _ = t.join();
    }
    let (stdout, out_over) = out_thread.join().unwrap_or_default();
    let (stderr, err_over) = err_thread.join().unwrap_or_default();
    if out_over || err_over {
        return Err(RunError::TooMuchOutput(limit));
    }
    Ok(Output { status, stdout, stderr })
}

/// Read a pipe up to `limit` bytes; keep draining past it so the child never blocks.
fn capture<R: Read + Send + 'static>(mut pipe: R, limit: usize) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let mut over = false;
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if buf.len() + n > limit {
                        over = true;
                    } else {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        (buf, over)
    })
}

#[allow(unsafe_code)]
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let pgid = child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the process group we created; no memory is involved.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A 0600 temporary file holding secret content, removed when dropped. For CLIs that take a
/// request from a file (`--cli-input-json file://…`) so values stay out of argv.
pub struct SecretFile {
    path: PathBuf,
}

impl SecretFile {
    pub fn new(content: &SecretString) -> std::io::Result<SecretFile> {
        let dir = std::env::temp_dir();
        for attempt in 0..100u32 {
            let mut nonce = [0u8; 8];
            getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
            let name = format!("envref-{}-{attempt}-{}.json", std::process::id(), hex(&nonce));
            let path = dir.join(name);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&path) {
                Ok(mut f) => {
                    let file = SecretFile { path };
                    f.write_all(content.expose_secret().as_bytes())?;
                    return Ok(file);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("could not create a temporary file"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_and_feeds_stdin() {
        let out = Invocation::new("sh").args(["-c", "cat; echo err >&2; exit 3"]).stdin(SecretString::from("hi")).run().unwrap();
        assert_eq!(out.stdout, b"hi");
        assert_eq!(out.code(), Some(3));
        assert_eq!(out.stderr_summary(), "err");
    }

    #[test]
    fn timeout_kills_the_group() {
        let start = std::time::Instant::now();
        let r = Invocation::new("sh").args(["-c", "sleep 30 & sleep 30"]).timeout(Duration::from_millis(200)).run();
        assert!(matches!(r, Err(RunError::TimedOut(_))));
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_and_too_much() {
        assert!(matches!(Invocation::new("envref-no-such-program").run(), Err(RunError::NotFound(_))));
        let r = Invocation::new("sh").args(["-c", "head -c 100000 /dev/zero"]).output_limit(1000).run();
        assert!(matches!(r, Err(RunError::TooMuchOutput(1000))));
    }

    #[test]
    fn secret_file_is_private_and_removed() {
        let f = SecretFile::new(&SecretString::from("s3cret")).unwrap();
        let path = f.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
        drop(f);
        assert!(!path.exists());
    }
}
