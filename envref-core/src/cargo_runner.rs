//! `cargo envref`'s seal: secrets reach only the programs cargo runs (binaries, tests, benches),
//! never cargo, rustc, build scripts or proc-macros.
//!
//! The parent `cargo envref` resolves once and serves the environment on a Unix socket in a
//! private (0700) directory that it removes when cargo exits. Cargo launches each program through
//! `target.<triple>.runner`, which cargo envref points at itself (`cargo-envref __envref-runner
//! <socket> <triple>`); that runner fetches the environment, sets it, and execs the user's own
//! runner if one was configured, else the program. No value travels in argv or an environment
//! variable, and nothing secret is written to disk.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::runner::Invocation;
use crate::{Error, Result};

/// The hidden subcommand cargo runs as the target runner.
pub const RUNNER_SUBCOMMAND: &str = "__envref-runner";

/// What the parent hands each runner: the environment, and the user's own runners by triple.
pub struct Payload {
    /// Every variable the programs cargo runs get, secrets included.
    pub vars: Vec<(String, SecretString)>,
    /// The runner the user configured for each target triple, chained after envref's.
    pub user_runners: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Payload")
            .field("keys", &keys)
            .field("user_runners", &self.user_runners)
            .finish()
    }
}

impl Payload {
    fn encode(&self) -> String {
        let vars: serde_json::Map<String, serde_json::Value> = self
            .vars
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::Value::String(v.expose_secret().to_string()),
                )
            })
            .collect();
        serde_json::json!({ "vars": vars, "user_runners": self.user_runners }).to_string()
    }

    fn decode(text: &str) -> Result<Payload> {
        let bad = || Error::parse("cargo envref: the environment channel sent malformed data");
        let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
        let vars = v["vars"]
            .as_object()
            .ok_or_else(bad)?
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), SecretString::from(s.to_string())))
                    .ok_or_else(bad)
            })
            .collect::<Result<_>>()?;
        let user_runners = serde_json::from_value(v["user_runners"].clone()).map_err(|_| bad())?;
        Ok(Payload { vars, user_runners })
    }
}

/// The environment variable that sets the runner for `triple` (cargo and nextest both read it).
pub fn runner_env_var(triple: &str) -> String {
    let t: String = triple
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CARGO_TARGET_{t}_RUNNER")
}

/// `$RUSTC` if cargo's caller set it, else `rustc` from PATH.
fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())
}

/// The host triple, from `rustc -vV` (`$RUSTC` if cargo's caller set it).
pub fn host_triple() -> Result<String> {
    let out = Invocation::new(rustc())
        .arg("-vV")
        .run()
        .map_err(|e| Error::program(format!("rustc -vV: {e}")))?;
    if !out.success() {
        return Err(
            Error::program(format!("rustc -vV failed: {}", out.stderr_summary())).with_hint(
                "cargo envref asks rustc for the host triple; check that `rustc -vV` works here",
            ),
        );
    }
    out.stdout_str()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| Error::program("rustc -vV did not print a host triple"))
}

/// The triples cargo may build for: `--target` arguments, else `$CARGO_BUILD_TARGET`, else
/// `build.target` from the cargo config, else the host. The host is always included, because
/// build scripts of a cross build still run there (with no runner).
pub fn target_triples(cargo_args: &[OsString], config: &CargoConfig, host: &str) -> Vec<String> {
    let mut triples = Vec::new();
    let mut it = cargo_args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--target" {
            triples.extend(it.next());
        } else if let Some(t) = a.strip_prefix("--target=") {
            triples.push(t.to_string());
        }
    }
    if triples.is_empty() {
        if let Ok(t) = std::env::var("CARGO_BUILD_TARGET") {
            triples.push(t);
        } else {
            triples.extend(config.build_targets());
        }
    }
    // A `.json` target spec is named by its file stem in cargo's runner lookup.
    let mut triples: Vec<String> = triples
        .into_iter()
        .map(|t| {
            if t.ends_with(".json") {
                Path::new(&t)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or(t)
            } else {
                t
            }
        })
        .collect();
    triples.push(host.to_string());
    triples.sort();
    triples.dedup();
    triples
}

/// The cargo configuration files that apply in a directory, nearest first, then `$CARGO_HOME`.
pub struct CargoConfig {
    /// (directory that holds `.cargo/`, parsed file)
    files: Vec<(PathBuf, toml::Value)>,
}

impl CargoConfig {
    /// Read the cargo config files that apply in `cwd` (its ancestors, then `$CARGO_HOME`).
    pub fn discover(cwd: &Path) -> Result<CargoConfig> {
        let mut files = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut dirs: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
        dirs.push(cargo_home());
        for dir in dirs {
            for name in ["config.toml", "config"] {
                let path = dir.join(name);
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if !seen.insert(path.canonicalize().unwrap_or(path.clone())) {
                    break;
                }
                let value: toml::Value = toml::from_str(&text).map_err(|e| {
                    Error::parse(format!("{}: not valid TOML: {e}", path.display())).with_source(e)
                })?;
                // Relative runner paths are relative to the directory that holds `.cargo/`.
                let base = dir.parent().map(Path::to_path_buf).unwrap_or(dir.clone());
                files.push((base, value));
                break;
            }
        }
        Ok(CargoConfig { files })
    }

    fn build_targets(&self) -> Vec<String> {
        for (_, v) in &self.files {
            match v.get("build").and_then(|b| b.get("target")) {
                Some(toml::Value::String(s)) => return vec![s.clone()],
                Some(toml::Value::Array(a)) => {
                    return a
                        .iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                }
                _ => {}
            }
        }
        Vec::new()
    }

    /// The runner the user configured for `triple`: `$CARGO_TARGET_<T>_RUNNER`, else the nearest
    /// config file's `target.<triple>.runner`, else a `target.'cfg(…)'.runner` whose cfg holds
    /// for the triple (`cfgs`: `rustc --print cfg` lines, asked for only when such a table exists).
    pub fn user_runner(
        &self,
        cwd: &Path,
        triple: &str,
        cfgs: &mut dyn FnMut() -> Result<Vec<String>>,
    ) -> Result<Option<Vec<String>>> {
        if let Ok(s) = std::env::var(runner_env_var(triple)) {
            return Ok(runner_from_env(&s, cwd));
        }
        for (base, v) in &self.files {
            if let Some(r) = v
                .get("target")
                .and_then(|t| t.get(triple))
                .and_then(|t| t.get("runner"))
            {
                return runner_value(r, base).map(Some);
            }
        }
        let mut active: Option<Vec<String>> = None;
        for (base, v) in &self.files {
            let Some(targets) = v.get("target").and_then(toml::Value::as_table) else {
                continue;
            };
            for (key, table) in targets {
                let (Some(expr), Some(r)) = (
                    key.strip_prefix("cfg(").and_then(|k| k.strip_suffix(')')),
                    table.get("runner"),
                ) else {
                    continue;
                };
                let lines = active.get_or_insert_with(Vec::new);
                if lines.is_empty() {
                    *lines = cfgs()?;
                }
                if cfg_holds(expr, lines)
                    .map_err(|m| Error::config(format!("cargo config: target.'{key}': {m}")))?
                {
                    return runner_value(r, base).map(Some);
                }
            }
        }
        Ok(None)
    }
}

fn cargo_home() -> PathBuf {
    match std::env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cargo"),
    }
}

/// `CARGO_TARGET_<T>_RUNNER`'s value; an empty one names no runner.
fn runner_from_env(value: &str, cwd: &Path) -> Option<Vec<String>> {
    Some(split_runner(value, cwd)).filter(|r| !r.is_empty())
}

/// A runner written as one string is split on whitespace, as cargo does.
fn split_runner(s: &str, base: &Path) -> Vec<String> {
    let mut parts: Vec<String> = s.split_whitespace().map(String::from).collect();
    if let Some(p) = parts.first_mut() {
        *p = program_path(p, base);
    }
    parts
}

fn runner_value(v: &toml::Value, base: &Path) -> Result<Vec<String>> {
    let parts = match v {
        toml::Value::String(s) => Some(split_runner(s, base)),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .map(|mut p| {
                if let Some(first) = p.first_mut() {
                    *first = program_path(first, base);
                }
                p
            }),
        _ => None,
    };
    parts.filter(|p| !p.is_empty()).ok_or_else(|| {
        Error::config(
            "cargo config: a target runner must be a non-empty string or array of strings",
        )
    })
}

/// Cargo's rule: a program with a slash is relative to the config's base; a bare name is on PATH.
fn program_path(p: &str, base: &Path) -> String {
    if p.contains('/') && !Path::new(p).is_absolute() {
        base.join(p).display().to_string()
    } else {
        p.to_string()
    }
}

/// Evaluate a cfg expression (`all(..)`, `any(..)`, `not(..)`, `name`, `name = "value"`)
/// against `rustc --print cfg` lines.
pub fn cfg_holds(expr: &str, cfgs: &[String]) -> std::result::Result<bool, String> {
    let tokens = cfg_tokens(expr)?;
    let mut pos = 0;
    let v = cfg_expr(&tokens, &mut pos, cfgs)?;
    if pos != tokens.len() {
        return Err("unexpected text after the cfg expression".into());
    }
    Ok(v)
}

#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Open,
    Close,
    Comma,
    Eq,
}

fn cfg_tokens(s: &str) -> std::result::Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' | ',' | '=' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Eq,
                });
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => v.push(c),
                        None => return Err("unterminated string in cfg".into()),
                    }
                }
                out.push(Tok::Str(v));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut v = String::new();
                while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                    v.push(c);
                    chars.next();
                }
                out.push(Tok::Ident(v));
            }
            _ => return Err(format!("unexpected {c:?} in cfg")),
        }
    }
    Ok(out)
}

fn cfg_expr(t: &[Tok], pos: &mut usize, cfgs: &[String]) -> std::result::Result<bool, String> {
    let Some(Tok::Ident(name)) = t.get(*pos) else {
        return Err("expected a cfg name".into());
    };
    *pos += 1;
    match (name.as_str(), t.get(*pos)) {
        ("all" | "any" | "not", Some(Tok::Open)) => {
            *pos += 1;
            let mut vals = Vec::new();
            while t.get(*pos) != Some(&Tok::Close) {
                vals.push(cfg_expr(t, pos, cfgs)?);
                match t.get(*pos) {
                    Some(Tok::Comma) => *pos += 1,
                    Some(Tok::Close) => {}
                    _ => return Err("expected `,` or `)` in cfg".into()),
                }
            }
            *pos += 1;
            match name.as_str() {
                "all" => Ok(vals.iter().all(|v| *v)),
                "any" => Ok(vals.iter().any(|v| *v)),
                _ if vals.len() == 1 => Ok(!vals[0]),
                _ => Err("not(..) takes exactly one predicate".into()),
            }
        }
        (_, Some(Tok::Eq)) => {
            *pos += 1;
            let Some(Tok::Str(value)) = t.get(*pos) else {
                return Err("expected a quoted value after `=` in cfg".into());
            };
            *pos += 1;
            Ok(cfgs.iter().any(|l| *l == format!("{name}=\"{value}\"")))
        }
        _ => Ok(cfgs.iter().any(|l| l == name)),
    }
}

/// `rustc --print cfg --target <triple>` lines.
pub fn rustc_cfgs(triple: &str) -> Result<Vec<String>> {
    let out = Invocation::new(rustc())
        .args(["--print", "cfg", "--target", triple])
        .run()
        .map_err(|e| Error::program(format!("rustc --print cfg: {e}")))?;
    if !out.success() {
        return Err(Error::program(format!(
            "rustc --print cfg --target {triple}: {}",
            out.stderr_summary()
        )));
    }
    Ok(out.stdout_str().lines().map(String::from).collect())
}

#[cfg(unix)]
pub use unix::{fetch, Channel};

#[cfg(unix)]
mod unix {
    use std::io::{Read, Write};
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use super::Payload;
    use crate::runner::TempPath;
    use crate::{Error, Result};

    /// The parent's end: a socket in a private directory, served from a thread until dropped.
    /// The directory is a [`TempPath`], so an interrupt removes it too.
    pub struct Channel {
        dir: TempPath,
        socket: PathBuf,
    }

    impl Channel {
        /// Serve `payload` on a fresh socket in a private directory, for the runners to take.
        pub fn serve(payload: Payload) -> Result<Channel> {
            let dir = private_dir()?;
            let socket = dir.path().join("env.sock");
            let listener = UnixListener::bind(&socket).map_err(|e| Error::io(&socket, e))?;
            let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600));
            let data = Arc::new(secrecy::SecretString::from(payload.encode()));
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let data = Arc::clone(&data);
                    // One slow client must not hold up the others (tests run in parallel).
                    std::thread::spawn(move || serve_one(stream, &data));
                }
            });
            Ok(Channel { dir, socket })
        }

        /// The socket the runners connect to.
        pub fn socket(&self) -> &Path {
            &self.socket
        }

        /// The private directory holding the socket (removed with the channel).
        pub fn dir(&self) -> &Path {
            self.dir.path()
        }
    }

    fn serve_one(mut stream: UnixStream, data: &secrecy::SecretString) {
        use secrecy::ExposeSecret;
        if !same_user(&stream) {
            return;
        }
        let _ = stream.write_all(data.expose_secret().as_bytes());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn same_user(stream: &UnixStream) -> bool {
        rustix::net::sockopt::socket_peercred(stream)
            .map(|c| c.uid == rustix::process::geteuid())
            .unwrap_or(false)
    }

    /// Elsewhere the 0700 directory is the check.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn same_user(_: &UnixStream) -> bool {
        true
    }

    /// A new 0700 directory under `$XDG_RUNTIME_DIR` (a per-user tmpfs) or the temp dir. Cargo
    /// splits the runner variable on whitespace, so a base with blanks falls back to /tmp.
    fn private_dir() -> Result<TempPath> {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir());
        let mut base = runtime.unwrap_or_else(std::env::temp_dir);
        if base.to_string_lossy().contains(char::is_whitespace) {
            base = PathBuf::from("/tmp");
        }
        for _ in 0..100 {
            let mut nonce = [0u8; 8];
            getrandom::fill(&mut nonce).map_err(|e| {
                Error::io_while("no randomness", std::io::Error::other(e.to_string()))
            })?;
            let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
            let dir = base.join(format!("envref-cargo-{name}"));
            match TempPath::create(dir.clone(), |d| {
                std::fs::DirBuilder::new().mode(0o700).create(d)
            }) {
                Ok(guard) => return Ok(guard),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        // Every one of 100 random names was taken.
        Err(Error::bounds(format!(
            "cannot create a private directory in {}",
            base.display()
        )))
    }

    /// The runner's end: read the whole payload.
    pub fn fetch(socket: &Path) -> Result<Payload> {
        let gone = |e: std::io::Error| {
            Error::io_while(format!("cargo envref: cannot read the environment from {}", socket.display()), e)
                .with_hint("this runner only works under `cargo envref`; run `cargo envref run` or `cargo envref test`")
        };
        let mut stream = UnixStream::connect(socket).map_err(gone)?;
        let mut text = String::new();
        stream.read_to_string(&mut text).map_err(gone)?;
        if text.is_empty() {
            return Err(Error::not_allowed(
                "cargo envref: the environment channel refused this process (another user?)",
            ));
        }
        Payload::decode(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfgs() -> Vec<String> {
        [
            "unix",
            "target_os=\"linux\"",
            "target_arch=\"x86_64\"",
            "debug_assertions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn cfg_expressions() {
        let c = cfgs();
        assert!(cfg_holds("unix", &c).unwrap());
        assert!(!cfg_holds("windows", &c).unwrap());
        assert!(cfg_holds("all(target_os = \"linux\", target_arch=\"x86_64\")", &c).unwrap());
        assert!(!cfg_holds("all(target_os = \"linux\", target_arch=\"aarch64\")", &c).unwrap());
        assert!(cfg_holds("any(windows, not(target_os = \"macos\"))", &c).unwrap());
        assert!(cfg_holds("all()", &c).unwrap());
        for bad in [
            "all(",
            "not(unix, windows)",
            "target_os =",
            "unix windows",
            "x = \"y",
        ] {
            assert!(cfg_holds(bad, &c).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_var_names_and_triples() {
        assert_eq!(
            runner_env_var("x86_64-unknown-linux-gnu"),
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER"
        );
        let cfg = CargoConfig { files: vec![] };
        let args: Vec<OsString> = [
            "build",
            "--target",
            "wasm32-wasip1",
            "--target=spec/my.json",
            "--",
            "--target",
            "no",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            target_triples(&args, &cfg, "host"),
            vec!["host", "my", "wasm32-wasip1"]
        );
    }

    #[test]
    fn runner_from_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(sub.join(".cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::write(
            dir.path().join(".cargo/config.toml"),
            "[target.t1]\nrunner = \"./run.sh --flag\"\n[target.'cfg(unix)']\nrunner = [\"qemu\", \"-L x\"]\n",
        )
        .unwrap();
        std::fs::write(
            sub.join(".cargo/config.toml"),
            "[target.t2]\nrunner = [\"bin/r\", \"a b\"]\n",
        )
        .unwrap();
        let c = CargoConfig::discover(&sub).unwrap();
        let mut asked = 0;
        let mut cfg = || {
            asked += 1;
            Ok(cfgs())
        };
        let base = dir.path().display().to_string();
        assert_eq!(
            c.user_runner(&sub, "t1", &mut cfg).unwrap(),
            Some(vec![format!("{base}/./run.sh"), "--flag".into()])
        );
        assert_eq!(
            c.user_runner(&sub, "t2", &mut cfg).unwrap(),
            Some(vec![format!("{base}/a/b/bin/r"), "a b".into()])
        );
        assert_eq!(
            c.user_runner(&sub, "t3", &mut cfg).unwrap(),
            Some(vec!["qemu".into(), "-L x".into()])
        );
        assert_eq!(asked, 1);
        assert_eq!(runner_from_env(" ", &sub), None);
        for empty in ["runner = \"\"", "runner = []", "runner = 3"] {
            let v: toml::Value = toml::from_str(empty).unwrap();
            assert!(runner_value(&v["runner"], &sub).is_err(), "{empty}");
        }
        assert_eq!(
            runner_from_env("qemu -L x", &sub),
            Some(vec!["qemu".into(), "-L".into(), "x".into()])
        );
    }

    #[test]
    fn payload_round_trips_and_debug_hides_values() {
        let p = Payload {
            vars: vec![("K".into(), SecretString::from("v\"\n\u{1}é".to_string()))],
            user_runners: BTreeMap::from([("t".to_string(), vec!["r".to_string()])]),
        };
        assert!(!format!("{p:?}").contains("v\""));
        let back = Payload::decode(&p.encode()).unwrap();
        assert_eq!(back.vars[0].1.expose_secret(), "v\"\n\u{1}é");
        assert_eq!(back.user_runners, p.user_runners);
    }
}
