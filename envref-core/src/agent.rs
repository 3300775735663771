//! The vault agent: unlock once, decrypt for a while. `envref vault unlock` unwraps a vault's
//! key and hands it to this per-user background process (`envref __agent`); readers then send
//! it ciphertexts and get plaintexts back, so the key never leaves it (the ssh-agent model).
//!
//! - Socket: `$XDG_RUNTIME_DIR/envref/agent.sock`, else `<state dir>/agent/agent.sock` (as
//!   gpg-agent uses `~/.gnupg`); the directory is 0700 and the user's, the socket 0600.
//! - Every connection's peer uid (`SO_PEERCRED`) must be the agent's own, root included; and
//!   the client's own check: it sends nothing to a socket another uid serves.
//! - Keys live in memory locked against swap, in a process that cannot be dumped or traced by
//!   the user's other processes; dropped keys are zeroed. The whole process is locked
//!   (`mlockall`) when nothing bounds locked memory (CAP_IPC_LOCK or an unlimited
//!   RLIMIT_MEMLOCK), else each key and the values it decrypted are, on pages of their own
//!   ([`crate::locked_memory`]), which fits a user's usual 8 MiB. It remembers the values it
//!   decrypted (by ciphertext hash) with the key, so a repeated resolve costs no X25519; they
//!   go with the key. Requests and answers pass through buffers zeroed when done. Nothing goes
//!   to disk.
//! - A key is forgotten when its TTL ends or on `forget` (`envref vault lock`); the agent exits
//!   when it holds none, and when its socket disappears (logout removes `$XDG_RUNTIME_DIR`).
//!
//! Protocol, version 1: one connection per request; the client writes one JSON line, the
//! agent answers one JSON line, `{"ok":true,…}` or `{"ok":false,"error":"…"}`. Requests:
//! `{"op":"add","recipient":"age1…","identity":"AGE-SECRET-KEY-1…","vault":PATH,"ttl_secs":N}`,
//! `{"op":"decrypt","recipient":"age1…","values":[base64…]}` → `"values":[base64|null…]`,
//! `{"op":"status"}` → `"keys":[{"recipient","vault","expires_in_secs"}]`, `"pid"`,
//! `"memory_locked"`, `"memory_lock"` (`process`, `secrets` or `none`), and
//! `{"op":"forget","recipient":"age1…"|null}` → `"forgot":N`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::backend::base64::{base64_decode, base64_encode};
use crate::backend::vault_key::VaultKey;
use crate::backend::{BackendError, ErrorKind};
use crate::locked_memory::{LockedBox, LockedValues};

/// A request line longer than this is refused (100 000 values of a few KB fit).
const MAX_REQUEST: u64 = 256 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a freshly started agent waits for its first key before it exits.
const FIRST_KEY_GRACE: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(200);

fn err(kind: ErrorKind, msg: impl Into<String>) -> BackendError {
    BackendError::new(kind, msg)
}

/// Where the agent listens: `$XDG_RUNTIME_DIR/envref/agent.sock`, else the state directory's
/// `agent/agent.sock`.
pub fn socket_path() -> Result<PathBuf, BackendError> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let dir = match runtime {
        Some(r) => r.join("envref"),
        None => crate::state::dir()
            .map_err(|e| err(ErrorKind::Unavailable, e.message()))?
            .join("agent"),
    };
    Ok(dir.join("agent.sock"))
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Add {
        recipient: String,
        identity: String,
        vault: String,
        ttl_secs: u64,
    },
    Decrypt {
        recipient: String,
        values: Vec<String>,
    },
    Status,
    Forget {
        recipient: Option<String>,
    },
}

/// One key the agent holds, as `status` shows it (never the key).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Held {
    /// The vault key's public recipient (`age1…`), which names the key.
    pub recipient: String,
    /// The vault file the key was unlocked for.
    pub vault: String,
    /// Seconds until the agent forgets the key.
    pub expires_in_secs: u64,
}

/// How much of the agent's memory is locked against swap.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MemoryLock {
    /// The whole process (`mlockall`).
    Process,
    /// The pages of each key and of the values it decrypted: RLIMIT_MEMLOCK bounds what may be
    /// locked, so not the whole process.
    Secrets,
    /// Nothing: RLIMIT_MEMLOCK is too low even for that.
    #[default]
    None,
}

/// What the agent says about itself.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Status {
    /// The agent's process id.
    pub pid: u32,
    /// Whether the keys and the values they decrypted are locked against swapping.
    pub memory_locked: bool,
    /// What is locked (an agent older than this field says nothing: `none`).
    #[serde(default)]
    pub memory_lock: MemoryLock,
    /// The keys it holds.
    pub keys: Vec<Held>,
}

#[derive(Serialize, Deserialize, Default)]
struct Response {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forgot: Option<usize>,
}

impl Response {
    fn fail(msg: impl Into<String>) -> Response {
        Response {
            error: Some(msg.into()),
            ..Response::default()
        }
    }
}

/// A connection to the agent at a socket path; each call is one connection.
#[derive(Debug, Clone)]
pub struct Client {
    path: PathBuf,
}

impl Client {
    /// The agent of this user, when it is running (its socket exists).
    pub fn find() -> Option<Client> {
        let path = socket_path().ok()?;
        path.exists().then_some(Client { path })
    }

    /// The agent's socket.
    pub fn socket(&self) -> &Path {
        &self.path
    }

    fn call(&self, req: &Request) -> Result<Response, BackendError> {
        let unreachable = |e: std::io::Error| {
            err(
                ErrorKind::Unavailable,
                format!("vault agent at {}: {e}", self.path.display()),
            )
        };
        let mut stream = UnixStream::connect(&self.path).map_err(unreachable)?;
        // Whoever listens on the path must be this user: where the socket's directory is
        // shared (`XDG_RUNTIME_DIR=/tmp`), another user's program could hold it and take a key.
        if let Err(uid) = peer_is_me(&stream) {
            return Err(err(
                ErrorKind::Denied,
                format!(
                    "vault agent at {}: the socket is served by {uid}, not by you; nothing was sent",
                    self.path.display()
                ),
            )
            .with_hint(
                "remove that socket, or set XDG_RUNTIME_DIR to a directory only you can write",
            ));
        }
        stream.set_read_timeout(Some(IO_TIMEOUT)).ok();
        stream.set_write_timeout(Some(IO_TIMEOUT)).ok();
        // An agent that refuses answers at once and closes: read its answer even when the
        // write failed (EPIPE), and report the write only when there is none.
        let wrote = stream.write_all(&json_line(req));
        let answer = match read_json_line(&mut stream) {
            Ok(answer) if !answer.is_empty() => answer,
            read => {
                wrote.map_err(unreachable)?;
                read.map_err(unreachable)?
            }
        };
        let resp: Response = serde_json::from_slice(&answer).map_err(|_| {
            err(
                ErrorKind::Failed,
                format!(
                    "vault agent at {}: closed the connection or answered something else",
                    self.path.display()
                ),
            )
        })?;
        match resp.ok {
            true => Ok(resp),
            false => Err(err(
                ErrorKind::Denied,
                format!("vault agent: {}", resp.error.unwrap_or_default()),
            )),
        }
    }

    /// What the agent holds, and for how long.
    pub fn status(&self) -> Result<Status, BackendError> {
        self.call(&Request::Status)?
            .status
            .ok_or_else(|| err(ErrorKind::Failed, "vault agent: no status in its answer"))
    }

    /// What the agent holds for this vault key, if anything.
    pub fn holding(&self, recipient: &str) -> Result<Option<Held>, BackendError> {
        Ok(self
            .status()?
            .keys
            .into_iter()
            .find(|k| k.recipient == recipient))
    }

    /// Hand a key to the agent for `ttl`.
    pub fn add(&self, key: &VaultKey, vault: &Path, ttl: Duration) -> Result<(), BackendError> {
        use secrecy::ExposeSecret;
        let identity = key.to_secret_text();
        let req = Request::Add {
            recipient: key.recipient(),
            identity: identity.expose_secret().to_string(),
            vault: vault.display().to_string(),
            ttl_secs: ttl.as_secs().max(1),
        };
        let sent = self.call(&req);
        if let Request::Add { identity, .. } = req {
            drop(Zeroizing::new(identity));
        }
        sent.map(|_| ())
    }

    /// Decrypt values (binary age) with the key for `recipient`; `None` for a value that does
    /// not decrypt with it.
    pub fn decrypt(
        &self,
        recipient: &str,
        values: &[Vec<u8>],
    ) -> Result<Vec<Option<Zeroizing<Vec<u8>>>>, BackendError> {
        let req = Request::Decrypt {
            recipient: recipient.to_string(),
            values: values.iter().map(|v| base64_encode(v)).collect(),
        };
        let answers = self.call(&req)?.values.unwrap_or_default();
        if answers.len() != values.len() {
            return Err(err(
                ErrorKind::Failed,
                "vault agent: answered a different number of values",
            ));
        }
        Ok(answers
            .into_iter()
            .map(|a| {
                a.map(Zeroizing::new)
                    .and_then(|a| base64_decode(&a).map(Zeroizing::new))
            })
            .collect())
    }

    /// Forget the key for `recipient` (every key with `None`); returns how many it forgot.
    pub fn forget(&self, recipient: Option<&str>) -> Result<usize, BackendError> {
        let req = Request::Forget {
            recipient: recipient.map(str::to_string),
        };
        Ok(self.call(&req)?.forgot.unwrap_or(0))
    }
}

/// Start the agent (`exe __agent`) unless one is running; returns a client for it.
pub fn start(exe: &Path) -> Result<Client, BackendError> {
    let path = socket_path()?;
    let client = Client { path: path.clone() };
    if client.status().is_ok() {
        return Ok(client);
    }
    let fail = |m: String| err(ErrorKind::Failed, format!("vault agent: {m}"));
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(AGENT_SUBCOMMAND)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    crate::runner::remove_credentials(&mut cmd);
    // Its own process group: Ctrl-C in the terminal that started it does not reach it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", exe.display())))?;
    // `ready` or `running` (and it serves on); else why it could not serve, and a line with
    // the hint before it exits.
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    out.read_line(&mut first).ok();
    match first.trim() {
        "ready" | "running" => Ok(client),
        "" => Err(fail("it exited before it was ready".into())),
        why => {
            let mut hint = String::new();
            out.read_line(&mut hint).ok();
            let e = fail(why.to_string());
            Err(match hint.trim() {
                "" => e,
                hint => e.with_hint(hint),
            })
        }
    }
}

/// The hidden subcommand that runs the agent.
pub const AGENT_SUBCOMMAND: &str = "__agent";

/// The pages of decrypted values the agent remembers per key (256 KiB: thousands of tokens or
/// dozens of certificates) before it starts over; with the key's page, 30 keys fit a user's
/// usual RLIMIT_MEMLOCK of 8 MiB.
const REMEMBERED_PAGES: usize = 64;

struct Key {
    key: LockedBox<VaultKey>,
    vault: String,
    expires: Instant,
    /// Values already decrypted, by the SHA-256 of their ciphertext: a repeated resolve (direnv
    /// on every `cd`) costs no X25519. Only in locked memory (none when that cannot be had),
    /// forgotten with the key.
    remembered: Option<LockedValues>,
}

impl Key {
    fn decrypt(&mut self, value: &str) -> Option<String> {
        use sha2::Digest;
        let ct = base64_decode(value)?;
        let id: [u8; 32] = sha2::Sha256::digest(&ct).into();
        if let Some(plain) = self.remembered.as_ref().and_then(|r| r.get(&id)) {
            return Some(base64_encode(&plain));
        }
        let plain = self.key.decrypt(&ct).ok()?;
        if let Some(r) = &mut self.remembered {
            r.put(id, &plain);
        }
        Some(base64_encode(&plain))
    }

    /// Whether the key is on locked pages (the values are kept only when theirs are).
    fn is_locked(&self) -> bool {
        self.key.is_locked()
    }
}

struct Agent {
    keys: HashMap<String, Key>,
    /// Whether `mlockall` locked the whole process.
    process_locked: bool,
    ever_held: bool,
}

/// Run the agent in this process: bind, say `ready` on stdout, serve until no key is left.
/// Prints `running` when another agent already serves the socket.
pub fn serve() -> Result<(), BackendError> {
    let path = socket_path()?;
    let dir = path.parent().expect("a socket path has a directory");
    private_dir(dir)?;
    if UnixStream::connect(&path).is_ok() {
        println!("running");
        return Ok(());
    }
    let _ = std::fs::remove_file(&path); // a stale socket of a dead agent
    let listener = UnixListener::bind(&path).map_err(|e| {
        err(
            ErrorKind::Failed,
            format!("cannot listen on {}: {e}", path.display()),
        )
    })?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| err(ErrorKind::Failed, format!("{}: {e}", path.display())))?;
    let inode = std::os::unix::fs::MetadataExt::ino(
        &std::fs::metadata(&path)
            .map_err(|e| err(ErrorKind::Failed, format!("{}: {e}", path.display())))?,
    );
    let agent = std::sync::Arc::new(std::sync::Mutex::new(Agent {
        keys: HashMap::new(),
        process_locked: false,
        ever_held: false,
    }));
    spawn_reaper(agent.clone(), path.clone(), inode);
    spawn_signal_handler(agent.clone(), path.clone());
    lock(&agent).process_locked = protect_memory();
    println!("ready");
    std::io::stdout().flush().ok();
    for conn in listener.incoming() {
        let Ok(mut stream) = conn else { continue };
        let mut resp = match peer_is_me(&stream) {
            Ok(()) => read_request(&mut stream)
                .map(|req| handle(&mut lock(&agent), req))
                .unwrap_or_else(Response::fail),
            Err(who) => Response::fail(format!(
                "refused: the connection comes from {who}, this agent serves {} only",
                uid_text(rustix::process::getuid().as_raw())
            )),
        };
        let _ = stream.write_all(&json_line(&resp));
        // The answer's values are plaintext: not left in freed memory.
        resp.values
            .iter_mut()
            .flatten()
            .flatten()
            .for_each(Zeroize::zeroize);
    }
    Ok(())
}

/// `value` as one line of JSON, in a buffer sized up front and zeroed when dropped: a request
/// carries a key and an answer carries values, and a buffer that grew would leave copies of
/// them in the memory it freed.
fn json_line<T: Serialize>(value: &T) -> Zeroizing<Vec<u8>> {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("json");
    let mut line = Zeroizing::new(Vec::with_capacity(count.0 + 1));
    serde_json::to_writer(&mut *line, value).expect("json");
    line.push(b'\n');
    line
}

/// One line from `stream` (up to [`MAX_REQUEST`] bytes), for the same reason as [`json_line`]:
/// every buffer it fills is zeroed when dropped, the ones it outgrew included.
fn read_json_line(stream: &mut impl Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::with_capacity(16 * 1024));
    let mut chunk = Zeroizing::new([0u8; 8 * 1024]);
    let mut stream = stream.take(MAX_REQUEST);
    loop {
        let n = match stream.read(&mut chunk[..]) {
            Ok(0) => return Ok(line),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if line.len() + n > line.capacity() {
            let mut bigger = Zeroizing::new(Vec::with_capacity(2 * (line.len() + n)));
            bigger.extend_from_slice(&line);
            line = bigger;
        }
        line.extend_from_slice(&chunk[..n]);
        if chunk[..n].contains(&b'\n') {
            return Ok(line);
        }
    }
}

fn lock(agent: &std::sync::Mutex<Agent>) -> std::sync::MutexGuard<'_, Agent> {
    agent.lock().unwrap_or_else(|p| p.into_inner())
}

/// Both ends of the agent's socket are one user: the socket's mode says so to the file system,
/// the peer's credentials say so here, on every connection, to the agent and to its clients.
/// The error names the other end ("uid 1001", or why it cannot be known).
fn peer_is_me(stream: &UnixStream) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let peer = rustix::net::sockopt::socket_peercred(stream)
            .map_err(|e| format!("a peer whose credentials cannot be read ({e})"))?;
        match peer.uid == rustix::process::getuid() {
            true => Ok(()),
            false => Err(uid_text(peer.uid.as_raw())),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        Err("a peer this platform cannot identify".into())
    }
}

fn uid_text(uid: u32) -> String {
    format!("uid {uid}")
}

fn read_request(stream: &mut UnixStream) -> Result<Request, String> {
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok();
    stream.set_write_timeout(Some(IO_TIMEOUT)).ok();
    let line = read_json_line(stream).map_err(|e| format!("cannot read the request: {e}"))?;
    serde_json::from_slice(&line).map_err(|e| format!("not a request: {e}"))
}

fn handle(agent: &mut Agent, req: Request) -> Response {
    match req {
        Request::Add {
            recipient,
            identity,
            vault,
            ttl_secs,
        } => {
            let identity = Zeroizing::new(identity);
            let Ok(id) = identity.trim().parse::<age::x25519::Identity>() else {
                return Response::fail("the identity is not an age X25519 identity");
            };
            let key = LockedBox::new(VaultKey::new(id));
            if key.recipient() != recipient {
                return Response::fail("the identity does not belong to that recipient");
            }
            let expires = Instant::now() + Duration::from_secs(ttl_secs);
            agent.keys.insert(
                recipient,
                Key {
                    key,
                    vault,
                    expires,
                    remembered: Some(LockedValues::new(REMEMBERED_PAGES))
                        .filter(|r| r.is_locked() || agent.process_locked),
                },
            );
            agent.ever_held = true;
            Response {
                ok: true,
                ..Response::default()
            }
        }
        Request::Decrypt { recipient, values } => match agent.keys.get_mut(&recipient) {
            Some(k) if k.expires > Instant::now() => Response {
                ok: true,
                values: Some(values.iter().map(|v| k.decrypt(v)).collect()),
                ..Response::default()
            },
            _ => Response::fail("it does not hold this vault's key"),
        },
        Request::Status => Response {
            ok: true,
            status: Some(status(agent)),
            ..Response::default()
        },
        Request::Forget { recipient } => {
            let before = agent.keys.len();
            match recipient {
                Some(r) => drop(agent.keys.remove(&r)),
                None => agent.keys.clear(),
            }
            Response {
                ok: true,
                forgot: Some(before - agent.keys.len()),
                ..Response::default()
            }
        }
    }
}

fn status(agent: &Agent) -> Status {
    let now = Instant::now();
    let mut keys: Vec<Held> = agent
        .keys
        .iter()
        .filter(|(_, k)| k.expires > now)
        .map(|(r, k)| Held {
            recipient: r.clone(),
            vault: k.vault.clone(),
            expires_in_secs: k.expires.saturating_duration_since(now).as_secs(),
        })
        .collect();
    keys.sort_by(|a, b| a.vault.cmp(&b.vault));
    let memory_lock = if agent.process_locked {
        MemoryLock::Process
    } else if agent.keys.values().all(Key::is_locked) {
        MemoryLock::Secrets
    } else {
        MemoryLock::None
    };
    Status {
        pid: std::process::id(),
        memory_locked: memory_lock != MemoryLock::None,
        memory_lock,
        keys,
    }
}

/// Every tick: forget expired keys; exit when none is left (after the first key, or the
/// grace period), or when the socket is gone or replaced (logout, someone else's agent).
fn spawn_reaper(agent: std::sync::Arc<std::sync::Mutex<Agent>>, path: PathBuf, inode: u64) {
    let started = Instant::now();
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || loop {
            std::thread::sleep(TICK);
            let mut a = lock(&agent);
            let now = Instant::now();
            a.keys.retain(|_, k| k.expires > now);
            let ours = std::fs::symlink_metadata(&path)
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m) == inode)
                .unwrap_or(false);
            let idle = a.keys.is_empty() && (a.ever_held || started.elapsed() > FIRST_KEY_GRACE);
            if idle || !ours {
                a.keys.clear();
                if ours {
                    let _ = std::fs::remove_file(&path);
                }
                std::process::exit(0);
            }
        })
        .expect("spawn the agent's reaper");
}

/// SIGTERM/SIGINT: forget everything and remove the socket; SIGHUP (the terminal closed) is
/// not a reason to forget.
fn spawn_signal_handler(agent: std::sync::Arc<std::sync::Mutex<Agent>>, path: PathBuf) {
    use signal_hook::consts::SIGHUP;
    let Ok(mut signals) = signal_hook::iterator::Signals::new(crate::runner::INTERRUPTS) else {
        return;
    };
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            for sig in signals.forever() {
                if sig != SIGHUP {
                    lock(&agent).keys.clear();
                    let _ = std::fs::remove_file(&path);
                    std::process::exit(0);
                }
            }
        })
        .expect("spawn the agent's signal handler");
}

/// Lock the process's memory against swap and forbid core dumps and tracing by the user's
/// other processes. Returns whether the whole memory is locked (only when nothing bounds it;
/// else each key and its values get locked pages of their own, and `status` says which).
fn protect_memory() -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::mm::{mlockall, MlockAllFlags};
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
        let all = MlockAllFlags::CURRENT | MlockAllFlags::FUTURE;
        memory_lock_unbounded()
            && (mlockall(all).is_ok() || mlockall(all | MlockAllFlags::ONFAULT).is_ok())
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// Whether this process may lock any amount of memory: CAP_IPC_LOCK or an unlimited
/// RLIMIT_MEMLOCK. Under a finite limit, `mlockall`'s FUTURE would make any allocation past it
/// fail (a new thread's stack, a large request), and the agent would abort mid-request.
#[cfg(target_os = "linux")]
fn memory_lock_unbounded() -> bool {
    use rustix::process::{getrlimit, Resource};
    use rustix::thread::{capabilities, CapabilitySet};
    let capable = capabilities(None).is_ok_and(|c| c.effective.contains(CapabilitySet::IPC_LOCK));
    lock_is_unbounded(capable, getrlimit(Resource::Memlock).current)
}

/// The rule of [`memory_lock_unbounded`], given CAP_IPC_LOCK and the soft RLIMIT_MEMLOCK
/// (`None`: unlimited).
#[cfg(target_os = "linux")]
fn lock_is_unbounded(cap_ipc_lock: bool, memlock_limit: Option<u64>) -> bool {
    cap_ipc_lock || memlock_limit.is_none()
}

/// The socket's directory: created 0700; an existing one must be the user's and closed to
/// others, or the agent refuses it.
fn private_dir(dir: &Path) -> Result<(), BackendError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let shown = dir.display();
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true).mode(0o700);
    b.create(dir)
        .map_err(|e| err(ErrorKind::Failed, format!("cannot create {shown}: {e}")))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| err(ErrorKind::Failed, format!("{shown}: {e}")))?;
    if !meta.is_dir()
        || meta.uid() != rustix::process::getuid().as_raw()
        || meta.mode() & 0o077 != 0
    {
        return Err(err(
            ErrorKind::Denied,
            format!("the agent's directory {shown} is not a private directory of this user"),
        )
        .with_hint(format!("check it, then `chmod 700 {shown}` or remove it")));
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::lock_is_unbounded;

    /// The whole process is locked only when nothing bounds it: a finite limit, however far
    /// above what the agent maps now, would fail a later allocation (tests/agent.rs covers the
    /// 8 MiB and 0 cases end to end; raising the limit needs CAP_SYS_RESOURCE).
    #[test]
    fn only_an_unbounded_lock_covers_the_whole_process() {
        assert!(lock_is_unbounded(true, Some(8 << 20)));
        assert!(lock_is_unbounded(false, None));
        assert!(!lock_is_unbounded(false, Some(1 << 30)));
        assert!(!lock_is_unbounded(false, Some(8 << 20)));
    }
}
