//! Running a program with its output masked ([`crate::mask`]) while envref stays its parent.
//!
//! When envref's stdout is a terminal, the program runs on a pseudo-terminal that envref relays:
//! it sees a terminal (`isatty`, colours, raw mode, window size), keys typed go to it (Ctrl-C and
//! Ctrl-Z become its signals through the pseudo-terminal), and its output reaches the real
//! terminal masked. Otherwise the program's stdout and stderr are pipes, masked separately.
//!
//! Signals sent to envref (SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP, SIGCONT) are passed on;
//! when the program stops, envref stops too and continues it when continued itself; at the end
//! envref returns the program's status as a shell reports it (128 + signal when killed).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, Signal};
use rustix::termios::{self, OptionalActions, Termios};

use crate::mask::{Masker, Secrets};

/// The hidden subcommand that makes the program a session leader on the pseudo-terminal before
/// it execs (see [`become_terminal_leader`]): `envref __envref-session <program> <args…>`.
pub const SESSION_SUBCOMMAND: &str = "__envref-session";

/// In the child, before exec: a new session whose controlling terminal is stdout (the
/// pseudo-terminal), so Ctrl-C, Ctrl-Z and SIGWINCH reach the program from it.
pub fn become_terminal_leader() -> io::Result<()> {
    rustix::process::setsid()?;
    rustix::process::ioctl_tiocsctty(io::stdout())?;
    Ok(())
}

/// Run `command` with its output masked; return its status as a shell reports it.
/// An `Err` means it could not be started (the kind says why, e.g. `NotFound`).
pub fn run_masked(command: &mut Command, secrets: &Secrets) -> io::Result<i32> {
    let _relaying = crate::runner::SignalsHandled::start();
    let signals = signal_hook::iterator::Signals::new(FORWARDED)?;
    let session = if termios::isatty(io::stdout()) {
        Session::on_terminal(command)?
    } else {
        Session::on_pipes(command)?
    };
    relay(session, signals, secrets)
}

const FORWARDED: [i32; 6] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGWINCH,
    signal_hook::consts::SIGTSTP,
    signal_hook::consts::SIGCONT,
];

/// A program's output stream: where it is read, and where its masked bytes go.
struct Output {
    source: OwnedFd,
    dest: Dest,
}

impl Output {
    fn new(source: OwnedFd, dest: Dest) -> Output {
        Output { source, dest }
    }
}

#[derive(Clone, Copy)]
enum Dest {
    Stdout,
    Stderr,
}

/// The real terminal around the pseudo-terminal: its settings before raw mode, and whether
/// raw mode is on now (off while envref is stopped, so the shell gets a sane terminal).
struct Outer {
    saved: Termios,
    raw: AtomicBool,
}

impl Outer {
    /// Put the real terminal (stdin) in raw mode: keys go to the program as typed.
    fn enter_raw(&self) {
        let mut raw = self.saved.clone();
        raw.make_raw();
        loop {
            match termios::tcsetattr(io::stdin(), OptionalActions::Drain, &raw) {
                Err(rustix::io::Errno::INTR) => continue,
                Ok(()) => self.raw.store(true, Ordering::SeqCst),
                Err(_) => {}
            }
            break;
        }
    }

    fn restore(&self) {
        if self.raw.swap(false, Ordering::SeqCst) {
            let _ = termios::tcsetattr(io::stdin(), OptionalActions::Drain, &self.saved);
        }
    }
}

/// The terminal is given back however the relay ends.
impl Drop for Outer {
    fn drop(&mut self) {
        self.restore();
    }
}

/// A started program and the ends envref relays.
struct Session {
    pid: Pid,
    outputs: Vec<Output>,
    /// The pseudo-terminal's master, to type into, when stdin is a terminal too.
    input: Option<OwnedFd>,
    /// The pseudo-terminal's master, to resize on SIGWINCH.
    pty: Option<OwnedFd>,
    outer: Option<Arc<Outer>>,
}

impl Session {
    /// Stdout and stderr on pipes; stdin and the process group shared with envref.
    fn on_pipes(command: &mut Command) -> io::Result<Session> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let outputs = vec![
            Output::new(
                OwnedFd::from(child.stdout.take().expect("piped")),
                Dest::Stdout,
            ),
            Output::new(
                OwnedFd::from(child.stderr.take().expect("piped")),
                Dest::Stderr,
            ),
        ];
        Ok(Session {
            pid: Pid::from_child(&child),
            outputs,
            input: None,
            pty: None,
            outer: None,
        })
    }

    /// Start the program (through [`SESSION_SUBCOMMAND`]) on a new pseudo-terminal that has the
    /// real terminal's settings and size. Stdin and stderr go through it when they are a terminal.
    fn on_terminal(program: &Command) -> io::Result<Session> {
        let (master, slave) = open_pty()?;
        let stdin_tty = termios::isatty(io::stdin());
        let settings = if stdin_tty {
            termios::tcgetattr(io::stdin())
        } else {
            termios::tcgetattr(io::stdout())
        };
        if let Ok(settings) = settings {
            let _ = termios::tcsetattr(&slave, OptionalActions::Now, &settings);
        }
        copy_window_size(&master);
        let mut command = through_session(program)?;
        command.stdout(Stdio::from(slave.try_clone()?));
        if stdin_tty {
            command.stdin(Stdio::from(slave.try_clone()?));
        }
        let stderr_tty = termios::isatty(io::stderr());
        if stderr_tty {
            command.stderr(Stdio::from(slave.try_clone()?));
        } else {
            command.stderr(Stdio::piped());
        }
        let mut child = command.spawn()?;
        drop(slave);
        let mut outputs = vec![Output::new(master.try_clone()?, Dest::Stdout)];
        if let Some(err) = child.stderr.take() {
            outputs.push(Output::new(OwnedFd::from(err), Dest::Stderr));
        }
        let outer = stdin_tty
            .then(|| termios::tcgetattr(io::stdin()).ok())
            .flatten()
            .map(|saved| {
                let outer = Arc::new(Outer {
                    saved,
                    raw: AtomicBool::new(false),
                });
                outer.enter_raw();
                outer
            });
        Ok(Session {
            pid: Pid::from_child(&child),
            outputs,
            pty: Some(master.try_clone()?),
            input: stdin_tty.then_some(master),
            outer,
        })
    }
}

fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    use rustix::fs::{open, Mode, OFlags};
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    let slave = open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok((master, slave))
}

/// The same program, environment and directory, started through envref's session subcommand.
fn through_session(program: &Command) -> io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command
        .arg(SESSION_SUBCOMMAND)
        .arg(program.get_program())
        .args(program.get_args());
    for (key, value) in program.get_envs() {
        match value {
            Some(v) => command.env(key, v),
            None => command.env_remove(key),
        };
    }
    if let Some(dir) = program.get_current_dir() {
        command.current_dir(dir);
    }
    Ok(command)
}

/// Give the pseudo-terminal the real terminal's size (the kernel then sends SIGWINCH).
fn copy_window_size(master: &OwnedFd) {
    if let Ok(size) = termios::tcgetwinsize(io::stdout()) {
        let _ = termios::tcsetwinsize(master, size);
    }
}

/// What the program's waiter tells the relay loop.
struct Exit {
    status: Mutex<Option<i32>>,
}

fn relay(
    session: Session,
    signals: signal_hook::iterator::Signals,
    secrets: &Secrets,
) -> io::Result<i32> {
    let Session {
        pid,
        outputs,
        input,
        pty,
        outer,
    } = session;
    let signal_handle = signals.handle();
    let (continued, on_continue) = std::sync::mpsc::channel();
    std::thread::spawn(move || forward_signals(signals, pid, pty.as_ref(), &continued));
    let (wake, woken) = UnixStream::pair()?;
    let exit = Arc::new(Exit {
        status: Mutex::new(None),
    });
    let waiter = {
        let (exit, outer) = (exit.clone(), outer.clone());
        std::thread::spawn(move || wait_for(pid, &exit, outer.as_deref(), &on_continue, wake))
    };
    pump(outputs, input, &woken, secrets);
    let _ = waiter.join();
    signal_handle.close();
    drop(outer);
    let status = *exit.status.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(status.unwrap_or(1))
}

/// Wait for the program: when it stops, stop envref too (with the terminal given back), and
/// continue it once envref is continued; when it ends, record its status and wake the relay.
fn wait_for(
    pid: Pid,
    exit: &Exit,
    outer: Option<&Outer>,
    on_continue: &Receiver<()>,
    wake: UnixStream,
) {
    use rustix::process::{waitpid, WaitOptions};
    loop {
        match waitpid(Some(pid), WaitOptions::UNTRACED) {
            Ok(Some((_, status))) if status.stopped() => {
                if let Some(o) = outer {
                    o.restore();
                }
                while on_continue.try_recv().is_ok() {}
                let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
                // kill() can return before the stop takes hold of this thread: wait for SIGCONT.
                let _ = on_continue.recv();
                if let Some(o) = outer {
                    o.enter_raw();
                }
                let _ = rustix::process::kill_process(pid, Signal::CONT);
            }
            Ok(Some((_, status))) => {
                let code = status
                    .exit_status()
                    .or_else(|| status.terminating_signal().map(|s| 128 + s));
                *exit.status.lock().unwrap_or_else(PoisonError::into_inner) = code;
                break;
            }
            Err(rustix::io::Errno::INTR) | Ok(None) => {}
            Err(_) => break,
        }
    }
    drop(wake);
}

/// Pass signals sent to envref on to the program. Keyboard signals reach a program that shares
/// envref's foreground process group from the terminal by themselves: those are not sent twice.
fn forward_signals(
    mut signals: signal_hook::iterator::Signals,
    pid: Pid,
    pty: Option<&OwnedFd>,
    continued: &Sender<()>,
) {
    use signal_hook::consts::{SIGCONT, SIGINT, SIGTSTP, SIGWINCH};
    for signal in signals.forever() {
        if signal == SIGCONT {
            let _ = continued.send(());
        }
        if signal == SIGWINCH {
            if let Some(m) = pty {
                copy_window_size(m);
                continue;
            }
        }
        let from_keyboard = matches!(signal, SIGINT | SIGTSTP | SIGWINCH);
        if pty.is_none() && from_keyboard && in_terminal_foreground() {
            continue;
        }
        let Some(sig) = Signal::from_named_raw(signal) else {
            continue;
        };
        // On the pseudo-terminal, as a terminal does: to its foreground process group.
        match pty.and_then(|m| termios::tcgetpgrp(m).ok()) {
            Some(group) => {
                let _ = rustix::process::kill_process_group(group, sig);
            }
            None => {
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
    }
}

/// Whether envref's process group owns its controlling terminal's keyboard.
fn in_terminal_foreground() -> bool {
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return false;
    };
    termios::tcgetpgrp(&tty).is_ok_and(|g| g == rustix::process::getpgrp())
}

/// Move bytes until every output is closed or the program has ended and what it wrote is out:
/// outputs masked to envref's stdout/stderr, keys typed to the pseudo-terminal.
fn pump(outputs: Vec<Output>, input: Option<OwnedFd>, woken: &UnixStream, secrets: &Secrets) {
    let mut streams: Vec<(Output, Masker)> = outputs
        .into_iter()
        .map(|o| (o, Masker::new(secrets)))
        .collect();
    let mut input = input;
    let mut ended = false;
    let mut buf = vec![0u8; 64 * 1024];
    let mut masked = Vec::with_capacity(buf.len() + 1024);
    // Once the program has ended: only what is already written, no waiting.
    let no_wait = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    while !streams.is_empty() {
        let stdin = io::stdin();
        let mut fds: Vec<PollFd> = streams
            .iter()
            .map(|(o, _)| PollFd::new(&o.source, PollFlags::IN))
            .collect();
        if !ended {
            fds.push(PollFd::new(woken, PollFlags::IN));
            if input.is_some() {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
        }
        match poll(&mut fds, ended.then_some(&no_wait)) {
            Ok(0) if ended => break,
            Err(rustix::io::Errno::INTR) | Ok(_) => {}
            Err(_) => break,
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let n = streams.len();
        if !ended && ready.get(n + 1) == Some(&true) && !type_keys(input.as_ref(), &mut buf) {
            input = None;
        }
        ended |= ready.get(n) == Some(&true);
        let mut ready = ready.into_iter();
        streams.retain_mut(|(output, masker)| {
            !ready.next().unwrap_or(false) || relay_once(output, masker, &mut buf, &mut masked)
        });
    }
    for (output, mut masker) in streams {
        masked.clear();
        masker.finish(&mut masked);
        let _ = write_all(output.dest, &masked);
    }
}

/// One read of the program's output, masked and written out. `false`: the stream is closed.
fn relay_once(output: &Output, masker: &mut Masker, buf: &mut [u8], masked: &mut Vec<u8>) -> bool {
    let n = match rustix::io::read(&output.source, &mut *buf) {
        Ok(n) => n,
        Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => return true,
        // EIO: the pseudo-terminal's last user closed it.
        Err(_) => 0,
    };
    masked.clear();
    if n == 0 {
        masker.finish(masked);
        let _ = write_all(output.dest, masked);
        return false;
    }
    masker.feed(&buf[..n], masked);
    // A reader that went away (`| head`): close our end so the program learns it too.
    write_all(output.dest, masked).is_ok()
}

/// Copy what was typed to the pseudo-terminal. `false`: stdin is closed.
fn type_keys(master: Option<&OwnedFd>, buf: &mut [u8]) -> bool {
    let Some(master) = master else {
        return false;
    };
    match rustix::io::read(io::stdin(), &mut *buf) {
        Ok(0) => false,
        Ok(n) => write_fd(master.as_fd(), &buf[..n]).is_ok(),
        Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => true,
        Err(_) => false,
    }
}

fn write_all(dest: Dest, data: &[u8]) -> io::Result<()> {
    match dest {
        Dest::Stdout => write_fd(io::stdout().as_fd(), data),
        Dest::Stderr => write_fd(io::stderr().as_fd(), data),
    }
}

/// Write straight to the descriptor: no buffering, so nothing waits behind a missing newline.
fn write_fd(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
