//! Delivering secrets at run time (issue 15), through the real binary:
//! - `envref run` masks every secret value (and its base64 and URL-encoded forms) in the
//!   program's stdout and stderr, also when written a byte at a time;
//! - on a terminal the program gets a pseudo-terminal: isatty, colours, typed input, window
//!   size and Ctrl-C work, and the exit status passes through;
//! - envref is the parent: signals are passed on and the status is the program's (128+signal);
//!   `--no-mask` (or `mask: false`) keeps exec;
//! - `envref inject` renders templates all or nothing, 0600, atomically;
//! - `envref resolve --format github` writes what GitHub's runner reads back byte for byte.
#![cfg(unix)]

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Project, Run};

const PASSPHRASE: &str = "test-passphrase";
const SECRET: &str = "sk-live-Zq7/x+y?z w";
const MARKER: &str = "<concealed by envref>";

/// A project with a vault holding `api_key` = [`SECRET`] and `short` = `ab`.
fn project(env: &str) -> Project {
    let p = Project::with(
        "project: app\nbackends:\n  - name: vault\n    type: vault\n",
        env,
    )
    .env("ENVREF_VAULT_PASSPHRASE", PASSPHRASE);
    p.envref(&["vault", "init", "--work-factor", "10"]).ok();
    p.envref_stdin(&["secret", "set", "api_key", "--stdin"], SECRET)
        .ok();
    p.envref(&["secret", "set", "short", "--value", "ab"]).ok();
    p
}

fn default_project() -> Project {
    project("API_KEY=ref://secrets/api_key\nSHORT=ref://secrets/short\nMODE=plain-config\n")
}

fn run_sh(p: &Project, script: &str) -> Run {
    p.envref(&["run", "--", "sh", "-c", script])
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret: {text}");
}

// --- masking on pipes --------------------------------------------------------------------------

#[test]
fn stdout_and_stderr_are_masked_separately_and_the_status_passes() {
    let p = default_project();
    let out = run_sh(
        &p,
        "echo out=$API_KEY mode=$MODE short=$SHORT; echo err=$API_KEY >&2; exit 5",
    )
    .fails(5);
    assert_eq!(
        out.stdout,
        format!("out={MARKER} mode=plain-config short=ab\n")
    );
    assert!(
        out.stderr.contains(&format!("err={MARKER}\n")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("not masking SHORT in the output: shorter than 6 characters"),
        "{}",
        out.stderr
    );
    assert_no_secret("stderr", &out.stderr);
}

#[test]
fn a_secret_written_one_byte_at_a_time_is_masked() {
    let p = default_project();
    let script = "import os, time\n\
                  for c in ('[' + os.environ['API_KEY'] + ']').encode():\n    \
                      os.write(1, bytes([c]))\n    time.sleep(0.005)\n";
    let out = p.envref(&["run", "--", "python3", "-c", script]).ok();
    assert_eq!(out.stdout, format!("[{MARKER}]"));
}

#[test]
fn base64_and_url_encoded_forms_are_masked() {
    let p = default_project();
    let script = "import os, base64, urllib.parse\n\
                  v = os.environ['API_KEY']\n\
                  print(base64.b64encode(v.encode()).decode())\n\
                  print(base64.urlsafe_b64encode(v.encode()).decode())\n\
                  print(urllib.parse.quote(v, safe=''))\n\
                  print(urllib.parse.quote_plus(v))\n";
    let out = p.envref(&["run", "--", "python3", "-c", script]).ok();
    for line in out.stdout.lines() {
        assert!(line.starts_with(MARKER), "not masked: {line}");
    }
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
    // The same program unmasked shows the four forms (so the check above means something).
    let plain = p
        .envref(&["run", "--no-mask", "--", "python3", "-c", script])
        .ok();
    assert!(!plain.stdout.contains(MARKER), "{}", plain.stdout);
}

#[test]
fn no_mask_and_mask_false_keep_exec() {
    let p = default_project();
    let mut c = p.envref_cmd(&["run", "--no-mask", "--", "sh", "-c", "echo $$ $API_KEY"]);
    c.stdout(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text, format!("{pid} {SECRET}\n"), "exec: same process");

    p.write(
        ".envref.yaml",
        "project: app\nmask: false\nbackends:\n  - name: vault\n    type: vault\n",
    );
    let out = run_sh(&p, "echo $API_KEY").ok();
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    let out = p
        .envref(&["run", "--mask", "--", "sh", "-c", "echo $API_KEY"])
        .ok();
    assert_eq!(
        out.stdout,
        format!("{MARKER}\n"),
        "--mask wins over the config"
    );
}

// --- envref as the parent: signals and statuses ------------------------------------------------

fn wait_for_file(path: &Path) {
    for _ in 0..500 {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// The child's output once it exits; after 30 s it and the program `ready` names are killed.
fn finish(mut child: std::process::Child, ready: &Path) -> std::process::Output {
    for _ in 0..1500 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let program = std::fs::read_to_string(ready).unwrap_or_default();
    if let Ok(pid) = program.trim().parse::<u32>() {
        kill(pid, "KILL");
    }
    let _ = child.kill();
    panic!("envref did not finish within 30 s");
}

#[test]
fn signals_reach_the_program_and_its_status_is_returned() {
    let p = default_project();
    let ready = p.root.join("ready");
    for (signal, script, want_code, want_out) in [
        // The program handles the signal and exits 0: envref reports 0 and relays its last words.
        (
            "TERM",
            "trap 'echo got TERM $API_KEY; exit 0' TERM",
            0,
            format!("got TERM {MARKER}\n"),
        ),
        (
            "HUP",
            "trap 'echo got HUP; exit 3' HUP",
            3,
            "got HUP\n".into(),
        ),
        (
            "INT",
            "trap 'echo got INT; exit 4' INT",
            4,
            "got INT\n".into(),
        ),
        // Killed by the signal: 128 + signal, as a shell reports it.
        ("TERM", "", 143, String::new()),
    ] {
        let _ = std::fs::remove_file(&ready);
        let body = format!(
            "{script}\necho $$ > '{}'\nwhile :; do sleep 0.05; done",
            ready.display()
        );
        let mut c = p.envref_cmd(&["run", "--", "sh", "-c", &body]);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().unwrap();
        wait_for_file(&ready);
        kill(child.id(), signal);
        let out = finish(child, &ready);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(want_code),
            "SIG{signal} {script}: {stdout}"
        );
        assert_eq!(stdout, want_out, "SIG{signal} {script}");
    }
}

#[test]
fn a_stopped_program_stops_envref_and_continues_with_it() {
    let p = default_project();
    let ready = p.root.join("ready");
    let body = format!("echo $$ > '{}'; read line; echo got $line", ready.display());
    let mut c = p.envref_cmd(&["run", "--", "sh", "-c", &body]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    // A group of its own whose leader's parent (this test) is in another group of the session:
    // the kernel discards SIGTSTP in an orphaned process group, which the test's own group is
    // when whatever started the suite has exited (CI runs started in the background).
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut child = c.spawn().unwrap();
    wait_for_file(&ready);
    kill(child.id(), "TSTP");
    let state = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')').next().unwrap_or("").trim().chars().next()
    };
    let program: u32 = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut stopped = false;
    for _ in 0..200 {
        if state(child.id()) == Some('T') && state(program) == Some('T') {
            stopped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        stopped,
        "envref {:?}, program {:?}",
        state(child.id()),
        state(program)
    );
    kill(child.id(), "CONT");
    child.stdin.take().unwrap().write_all(b"on\n").unwrap();
    let out = finish(child, &ready);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got on\n");
    assert_eq!(out.status.code(), Some(0));
}

// --- on a terminal -------------------------------------------------------------------------------

/// Runs a command on a pseudo-terminal of 33x101 and plays `steps` (JSON): ["expect", text]
/// waits for text in the output, ["send", text] types it, ["size", rows, cols] resizes. Prints
/// the output and exits with the command's status.
const PTY_DRIVER: &str = r#"
import json, os, pty, select, struct, sys, termios, time, fcntl
steps = json.loads(sys.argv[1]); command = sys.argv[2:]
def size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    size(0, 33, 101)
    os.execvp(command[0], command)
out = b""; seen = 0; deadline = time.time() + 30
def read(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        out += data
    return True
alive = True
for step in steps:
    if step[0] == "expect":
        while alive and step[1].encode() not in out[seen:] and time.time() < deadline:
            alive = read(0.05)
        if step[1].encode() in out[seen:]:
            seen = out.index(step[1].encode(), seen) + len(step[1])
    elif step[0] == "send":
        os.write(fd, step[1].encode())
    elif step[0] == "size":
        size(fd, step[1], step[2]); time.sleep(0.3)
while alive and time.time() < deadline:
    alive = read(0.05)
if time.time() >= deadline:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;

fn on_terminal(p: &Project, steps: &str, command: &[&str]) -> Run {
    let driver = p.root.join("pty-driver.py");
    std::fs::write(&driver, PTY_DRIVER).unwrap();
    let mut c = p.command("python3");
    c.arg(&driver).arg(steps).args(command);
    support::run(c)
}

#[test]
fn on_a_terminal_the_program_gets_one_and_its_output_is_masked() {
    let p = default_project();
    let envref = support::ENVREF;
    let script = "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-yes; \
                  printf '\\033[31mred\\033[0m %s\\n' \"$API_KEY\"; \
                  stty size; printf 'name? '; read name; echo \"hello $name\"; \
                  printf 'again? '; read x; stty size; exit 7";
    let steps = r#"[["expect", "name? "], ["send", "typed-in\n"], ["expect", "again? "],
                    ["size", 40, 120], ["send", "x\n"], ["expect", "120"]]"#;
    let out = on_terminal(&p, steps, &[envref, "run", "--", "sh", "-c", script]).fails(7);
    let text = out.stdout;
    assert!(text.contains("tty-yes"), "isatty: {text:?}");
    assert!(
        text.contains(&format!("\x1b[31mred\x1b[0m {MARKER}")),
        "colours and the marker: {text:?}"
    );
    assert_no_secret("the terminal", &text);
    assert!(text.contains("33 101"), "window size: {text:?}");
    assert!(text.contains("hello typed-in"), "input: {text:?}");
    assert!(text.contains("40 120"), "SIGWINCH: {text:?}");
}

#[test]
fn ctrl_c_on_the_terminal_interrupts_the_program() {
    let p = default_project();
    let envref = support::ENVREF;
    let steps = r#"[["expect", "waiting"], ["send", "\u0003"]]"#;
    let start = std::time::Instant::now();
    // `exec`: no shell between the terminal and sleep to defer the signal while it forks.
    let script = "echo waiting; exec sleep 20";
    let out = on_terminal(&p, steps, &[envref, "run", "--", "sh", "-c", script]).fails(130);
    assert!(out.stdout.contains("waiting"), "{}", out.stdout);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "sleep was not interrupted: {:?}",
        start.elapsed()
    );
}

// --- cargo envref --------------------------------------------------------------------------------

/// An executable `name` in the project's root running `script` (sh).
fn fake(p: &Project, name: &str, script: &str) -> PathBuf {
    let path = p.root.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&path, mode).unwrap();
    path
}

/// `cargo envref` with a fake cargo that runs a program through the runner `cargo envref`
/// configured, as cargo does, and a fake rustc that names the host.
fn cargo_envref(p: &Project, args: &[&str]) -> Run {
    let cargo = fake(
        p,
        "fake-cargo",
        "runner=$(env | sed -n 's/^CARGO_TARGET_.*_RUNNER=//p' | head -n 1)\n\
         echo \"cargo sees: $API_KEY\"\n\
         $runner sh -c 'echo program sees: $API_KEY; exit 9'\n",
    );
    let rustc = fake(p, "fake-rustc", "echo 'host: x86_64-unknown-linux-gnu'\n");
    let mut c = p.command(env!("CARGO_BIN_EXE_cargo-envref"));
    c.arg("envref")
        .args(args)
        .env("CARGO", &cargo)
        .env("RUSTC", &rustc);
    support::run(c)
}

#[test]
fn cargo_envref_masks_the_programs_output() {
    let p = default_project();
    let out = cargo_envref(&p, &["run"]).fails(9);
    assert_eq!(
        out.stdout,
        format!("cargo sees: \nprogram sees: {MARKER}\n"),
        "{}",
        out.stderr
    );
    let out = cargo_envref(&p, &["--no-mask", "run"]).fails(9);
    assert!(
        out.stdout.contains(&format!("program sees: {SECRET}")),
        "{}",
        out.stdout
    );
}

// --- envref inject -------------------------------------------------------------------------------

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn inject_renders_tags_and_passes_everything_else() {
    let p = default_project();
    let template = "db:\r\n  key: {{ref://secrets/api_key}}\r\n  again: \"{{  ref://vault/api_key\t}}\"\n\
                    ci: ${{ github.token }} {{ .Values.x }}\nliteral: \\{{ ref://secrets/api_key }}\n";
    p.write("config.tpl", template);
    std::fs::write(p.dir.join("config.yml"), "old").unwrap();
    let config = p.dir.join("config.yml");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = p
        .envref(&["inject", "-i", "config.tpl", "-o", "config.yml"])
        .ok();
    assert_no_secret("stderr", &out.stderr);
    assert_eq!(out.stdout, "");
    let want = format!(
        "db:\r\n  key: {SECRET}\r\n  again: \"{SECRET}\"\n\
         ci: ${{{{ github.token }}}} {{{{ .Values.x }}}}\nliteral: {{{{ ref://secrets/api_key }}}}\n"
    );
    assert_eq!(p.read("config.yml"), want);
    assert_eq!(mode(&config), 0o600, "a wider existing mode is narrowed");
    // Without -o: stdout.
    let out = p.envref(&["inject", "-i", "config.tpl"]).ok();
    assert_eq!(out.stdout, want);
}

#[test]
fn inject_is_all_or_nothing() {
    let p = default_project();
    p.write(
        "config.tpl",
        "key: {{ ref://secrets/api_key }}\nmissing: {{ ref://secrets/nope }}\n",
    );
    let out = p
        .envref(&["inject", "-i", "config.tpl", "-o", "config.yml"])
        .fails(1);
    assert!(!p.dir.join("config.yml").exists(), "no output file");
    assert_eq!(out.stdout, "");
    assert_no_secret("stderr", &out.stderr);
    assert!(
        out.stderr
            .contains("config.tpl:2:10: ref://secrets/nope: vault: not found"),
        "{}",
        out.stderr
    );
    // A malformed tag: where, and nothing written.
    p.write("bad.tpl", "ok\nx: {{ ref://secrets/api_key\n");
    let out = p
        .envref(&["inject", "-i", "bad.tpl", "-o", "config.yml"])
        .fails(1);
    assert!(
        out.stderr.contains("bad.tpl:2:4: {{ is never closed"),
        "{}",
        out.stderr
    );
    assert!(!p.dir.join("config.yml").exists());
}

// --- resolve --format github ---------------------------------------------------------------------

/// The runner's reading of `$GITHUB_ENV` (actions/runner, `SetEnvFileCommand` on Linux): lines
/// end at LF; `NAME=VALUE` when `=` comes before `<<`; else `NAME<<DELIMITER`, then the value is
/// every byte up to the LF before the first line that equals the delimiter.
fn parse_github_env(text: &str) -> Vec<(String, String)> {
    fn read_line<'t>(text: &'t str, index: &mut usize) -> Option<(&'t str, usize)> {
        if *index >= text.len() {
            return None;
        }
        let start = *index;
        match text[start..].find('\n') {
            Some(lf) => {
                *index = start + lf + 1;
                Some((&text[start..start + lf], 1))
            }
            None => {
                *index = text.len();
                Some((&text[start..], 0))
            }
        }
    }
    let (mut vars, mut index) = (Vec::new(), 0);
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let (equals, heredoc) = (line.find('='), line.find("<<"));
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                vars.push((line[..e].to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                assert!(!name.is_empty() && !delimiter.is_empty(), "{line}");
                let (start, mut end) = (index, index);
                loop {
                    let (l, newline) = read_line(text, &mut index)
                        .unwrap_or_else(|| panic!("delimiter {delimiter} not found"));
                    if l == delimiter {
                        break;
                    }
                    end = index - newline;
                }
                let value = if end > start { &text[start..end] } else { "" };
                vars.push((name.to_string(), value.to_string()));
            }
            _ => panic!("invalid line {line}"),
        }
    }
    vars
}

#[test]
fn github_format_round_trips_through_the_runners_parse() {
    let p = default_project();
    let tricky = "line one\nKEY<<EOF\nEOF\n<<\r\nx=y ghadelimiter_\n";
    // `--stdin` takes off one final newline, as typed input ends with one.
    p.envref_stdin(&["secret", "set", "pem", "--stdin"], &format!("{tricky}\n"))
        .ok();
    p.write(
        ".env",
        "API_KEY=ref://secrets/api_key\nPEM=ref://secrets/pem\nPLAIN=\"a<<b=c\"\nEMPTY=\n",
    );
    let json = p.envref(&["resolve", "--format", "json"]).ok().stdout;
    let want: Vec<(String, String)> = serde_json::from_str::<serde_json::Map<_, _>>(&json)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
        .collect();
    assert!(want.iter().any(|(_, v)| v == tricky), "{json}");

    let env_file = p.root.join("github_env");
    std::fs::write(&env_file, "EARLIER=1\n").unwrap();
    let mut c = p.envref_cmd(&["resolve", "--format", "github"]);
    c.env("GITHUB_ENV", &env_file);
    let out = support::run(c).ok();
    let text = std::fs::read_to_string(&env_file).unwrap();
    let mut got = parse_github_env(&text);
    assert_eq!(got.remove(0), ("EARLIER".into(), "1".into()), "appended");
    assert_eq!(got, want, "file:\n{text}");
    // A mask per non-empty line of each secret; nothing else on stdout.
    let masks: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        masks,
        [
            format!("::add-mask::{SECRET}").as_str(),
            "::add-mask::line one",
            "::add-mask::KEY<<EOF",
            "::add-mask::EOF",
            "::add-mask::<<",
            "::add-mask::x=y ghadelimiter_",
        ]
    );

    // Outside GitHub Actions: a clear error, nothing printed.
    let out = p.envref(&["resolve", "--format", "github"]).fails(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("$GITHUB_ENV, which is not set"),
        "{}",
        out.stderr
    );
}
