//! Plaintext-secret detection in env files (`envref audit`, and `envref doctor`).
//!
//! A value is suspect when it contains a known token format (AWS, GitHub, Slack, Stripe,
//! private keys, JWTs, …), a URL with a password in it, when its key name says "secret"
//! (`PASSWORD`, `TOKEN`, `API_KEY`, …) and the value is not a placeholder, a path, a URL or a
//! flag, or when it is a long, high-entropy string. Under a password-like name (`PASSWORD`,
//! `PASSPHRASE`, `PIN`) digits count too: a PIN is a secret, while `MAX_TOKENS=4096` is a
//! count. References (`ref://…`, `${ref://…}`, embedded `ref://…`, `op://…`) never count: only the literal text of a value
//! is looked at. A finding carries a masked preview, never the value.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use crate::config::Config;
use crate::dotenv::{Document, Value};
use crate::template::Segment;

/// Values shorter than this are never reported by the key-name rule…
pub(crate) const MIN_NAMED_LEN: usize = 6;
/// …except under a password-like name, where a 4-digit PIN is already a secret.
pub(crate) const MIN_PASSWORD_LEN: usize = 4;
/// The entropy rule looks only at values at least this long…
pub(crate) const MIN_ENTROPY_LEN: usize = 20;
/// …whose Shannon entropy is at least this many bits per character.
pub(crate) const MIN_ENTROPY: f64 = 4.0;

/// Why a value looks like a plaintext secret.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    /// A known token format, by name.
    Token(&'static str),
    /// `scheme://user:password@host`.
    UrlPassword,
    /// The key's name says it is a secret and the value is not a placeholder.
    KeyName,
    /// A long random-looking string (bits per character).
    Entropy(f64),
    /// Looks like a reference but is passed through as text (why).
    Unresolved(&'static str),
}

impl Evidence {
    /// Why the value looks like a secret, for the finding's message.
    pub fn reason(&self) -> String {
        match self {
            Evidence::Token(name) => format!("matches the {name} format"),
            Evidence::UrlPassword => "URL with an embedded password".into(),
            Evidence::KeyName => "the key name says secret and the value is not a reference".into(),
            Evidence::Entropy(e) => format!("high-entropy value ({e:.2} bits/char)"),
            Evidence::Unresolved(why) => {
                format!("looks like a reference but is not resolved: {why}")
            }
        }
    }

    /// A stable identifier for JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Evidence::Token(_) => "token",
            Evidence::UrlPassword => "url-password",
            Evidence::KeyName => "key-name",
            Evidence::Entropy(_) => "entropy",
            Evidence::Unresolved(_) => "unresolved",
        }
    }
}

/// A value in an env file that looks like a plaintext secret, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspectValue {
    /// The env file.
    pub path: PathBuf,
    /// Line of the key.
    pub line: u32,
    /// The variable.
    pub key: String,
    /// What made the value suspect.
    pub evidence: Evidence,
    /// The first few characters and `***`; never the whole value.
    pub preview: String,
}

/// Known token formats: (name, pattern). Searched anywhere in the value.
const TOKENS: &[(&str, &str)] = &[
    (
        "private key",
        r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----",
    ),
    (
        "AWS access key ID",
        r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    ),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    (
        "GitHub fine-grained token",
        r"\bgithub_pat_[A-Za-z0-9_]{22,}\b",
    ),
    ("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    (
        "Slack webhook URL",
        r"https://hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]+",
    ),
    ("Stripe key", r"\b[sr]k_(live|test)_[A-Za-z0-9]{10,}\b"),
    ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("PyPI token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    (
        "SendGrid key",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
    ),
    ("Twilio API key", r"\bSK[0-9a-f]{32}\b"),
    (
        "OpenAI key",
        r"\bsk-(proj|svcacct|admin)-[A-Za-z0-9_-]{20,}",
    ),
    ("Anthropic key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    (
        "JSON Web Token",
        r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    ),
    ("age secret key", r"\bAGE-SECRET-KEY-1[0-9A-Z]{58}\b"),
];

/// Key-name fragments that say "this is a secret" (matched on the upper-cased key).
const SECRET_NAMES: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "AUTH_KEY",
    "CREDENTIAL",
    "ENCRYPTION_KEY",
    "SIGNING_KEY",
    "MASTER_KEY",
];

/// Key-name fragments that say "this is a password", where even digits are a secret. `PIN`
/// and `PWD` count only as a whole word of the key (not in `SHIPPING`), and `PWD` alone is
/// the shell's working directory.
const PASSWORD_NAMES: &[&str] = &["PASSWORD", "PASSWD", "PASSPHRASE"];
const PASSWORD_WORDS: &[&str] = &["PIN", "PWD"];

/// Words that make a value a placeholder (`replace-me`, `your_api_key_here`, `changeme123`),
/// matched against whole words so `replaceXk29…` is not one.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change",
    "replace",
    "replaceme",
    "placeholder",
    "example",
    "sample",
    "your",
    "todo",
    "tbd",
    "fixme",
    "dummy",
    "redacted",
    "insert",
];

/// Key-name endings that describe a secret without being one (`TOKEN_URL`, `PASSWORD_MIN_LENGTH`).
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "_FILE",
    "_PATH",
    "_DIR",
    "_URL",
    "_URI",
    "_ENDPOINT",
    "_HOST",
    "_PORT",
    "_TTL",
    "_TIMEOUT",
    "_LENGTH",
    "_ENABLED",
    "_EXPIRY",
    "_EXPIRES",
    "_TYPE",
    "_HEADER",
    "_NAME",
    "_ALGORITHM",
    "_ISSUER",
    "_AUDIENCE",
    "_ID",
    "_VERSION",
    "_PREFIX",
    "_POLICY",
    "_HASHER",
    "_MODE",
    "_BACKEND",
    "_PROVIDER",
    "_COUNT",
    "_SIZE",
    "_LIMIT",
    "_DAYS",
    "_SECONDS",
    "_REQUIRED",
    "_STORE",
    "_CACHE",
    "_LOCATION",
];

fn tokens() -> &'static [(&'static str, Regex)] {
    static RE: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    RE.get_or_init(|| {
        TOKENS
            .iter()
            .map(|(n, p)| (*n, Regex::new(p).expect("valid token pattern")))
            .collect()
    })
}

fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@").expect("valid pattern")
    })
}

/// Why a value that envref passes through as text looks like a reference it should have
/// resolved: `ref://` text that is not a reference (quoted literally, or not valid), or
/// `op://` inside text (only a whole value or `${op://…}` resolves).
pub(crate) fn unresolved_reason(value: &Value) -> Option<&'static str> {
    let Value::Template(t) = value else {
        return None;
    };
    let text_has = |needle: &str| {
        t.segments()
            .iter()
            .any(|s| matches!(s, Segment::Lit(l) if l.contains(needle)))
    };
    // A whole-value `op://…` and `${op://…}` are references; inside text op run reads none.
    if text_has("op://") {
        return Some("op:// inside text is not resolved (op run reads only whole values): make the reference the whole value or write ${op://…}");
    }
    // Valid embedded `ref://` text is a reference already: what is left is literal.
    text_has("ref://").then_some("this ref:// stays text: single quotes and backticks keep it literal, and unquoted or double-quoted it is not a valid ref://<backend>/<key> (an embedded reference extends over letters, digits and `/_.-`); write ${ref://…} to interpolate it")
}

/// Scan every definition of a document (duplicates included).
pub fn scan(doc: &Document) -> Vec<SuspectValue> {
    let mut out = Vec::new();
    for e in doc.all_entries() {
        let Value::Template(t) = &e.value else {
            continue;
        };
        // Only the literal text: `${VAR}` and `${ref://…}` parts are not in the file.
        let text: String = t
            .segments()
            .iter()
            .filter_map(|s| {
                if let Segment::Lit(l) = s {
                    Some(&**l)
                } else {
                    None
                }
            })
            .collect();
        if let Some(why) = unresolved_reason(&e.value) {
            out.push(SuspectValue {
                path: doc.path().to_path_buf(),
                line: e.pos.line,
                key: e.key.clone(),
                evidence: Evidence::Unresolved(why),
                preview: mask(&text),
            });
        } else if let Some(evidence) = classify(&e.key, &text) {
            out.push(SuspectValue {
                path: doc.path().to_path_buf(),
                line: e.pos.line,
                key: e.key.clone(),
                evidence,
                preview: mask(&text),
            });
        }
    }
    out
}

/// Why `value` (the literal text of `key`'s value) looks like a secret, if it does.
pub(crate) fn classify(key: &str, value: &str) -> Option<Evidence> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some((name, _)) = tokens().iter().find(|(_, re)| re.is_match(value)) {
        return Some(Evidence::Token(name));
    }
    if has_url_password(value) {
        return Some(Evidence::UrlPassword);
    }
    let number = value.parse::<f64>().is_ok();
    if is_trivial(value) {
        return None;
    }
    let len = value.chars().count();
    match secret_name(key) {
        Some(Named::Password) if len >= MIN_PASSWORD_LEN => return Some(Evidence::KeyName),
        Some(Named::Secret) if len >= MIN_NAMED_LEN && !number => return Some(Evidence::KeyName),
        _ => {}
    }
    if number {
        return None;
    }
    if len >= MIN_ENTROPY_LEN
        && !value.chars().any(char::is_whitespace)
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        // Hex digests and UUIDs (commit ids, resource ids) are random but rarely secret.
        && !value.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        let e = entropy(value);
        if e >= MIN_ENTROPY {
            return Some(Evidence::Entropy(e));
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    /// `PASSWORD`, `PASSPHRASE`, `PIN`: any value of 4+ characters, digits included.
    Password,
    /// `TOKEN`, `SECRET`, `API_KEY`, …: 6+ characters, not a plain number.
    Secret,
}

/// Whether the key's name says its value is a secret (and not something about one, like
/// `TOKEN_URL` or `PASSWORD_MIN_LENGTH`).
fn secret_name(key: &str) -> Option<Named> {
    let upper = key.to_ascii_uppercase();
    if NOT_SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
        return None;
    }
    let mut words = upper.split(|c: char| !c.is_ascii_alphanumeric());
    if PASSWORD_NAMES.iter().any(|n| upper.contains(n))
        || (upper != "PWD" && words.any(|w| PASSWORD_WORDS.contains(&w)))
    {
        Some(Named::Password)
    } else if SECRET_NAMES.iter().any(|n| upper.contains(n)) {
        Some(Named::Secret)
    } else {
        None
    }
}

/// Values that are plainly not secrets: flags, placeholders, paths, and URLs (a URL's
/// password is looked for before). Numbers are decided by the key's name.
fn is_trivial(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none" | "nil" | "localhost"
    ) || is_placeholder(value)
        || is_path(value)
        || is_url(value)
}

/// `/run/secrets/db`, `./certs/key.pem`, `~/.ssh/id_ed25519`, `/data`: starts like a path
/// and holds only path characters, with a directory, a file extension or a plain lower-case
/// name. `/xK9#mP2q` and `./8fJ2kQ9zLm` are not paths but secrets that start with `/`.
fn is_path(value: &str) -> bool {
    let Some(rest) = ["/", "./", "../", "~/"]
        .iter()
        .find_map(|p| value.strip_prefix(p))
    else {
        return false;
    };
    let path_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~'));
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let has_ext = last
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    let plain_name = last
        .chars()
        .all(|c| c.is_ascii_lowercase() || matches!(c, '_' | '-'));
    path_chars && !rest.is_empty() && (rest.contains('/') || has_ext || plain_name)
}

fn is_url(value: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$").expect("valid pattern"))
        .is_match(value)
}

/// `<your token>`, `xxxx`, `***`, or a value with a placeholder word (`replace-me`,
/// `your_api_key_here`, `changeme123`); `replaceXk29…` is not one.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with('<') && lower.ends_with('>'))
        || (lower.starts_with("{{") && lower.ends_with("}}"))
        || lower
            .chars()
            .all(|c| matches!(c, 'x' | '*' | '.' | '-' | '_'))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(|w| w.trim_end_matches(|c: char| c.is_ascii_digit()))
            .any(|w| PLACEHOLDER_WORDS.contains(&w))
}

/// Whether `value` holds `scheme://user:password@` with a password that is not a
/// placeholder (for `audit` and for `doctor`'s check of `.envref.yaml`).
pub(crate) fn has_url_password(value: &str) -> bool {
    url_password()
        .captures_iter(value)
        .any(|c| !is_placeholder(&c[1]) && !c[1].starts_with('$'))
}

/// Shannon entropy in bits per character.
pub(crate) fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// A preview that never shows the value: up to 4 leading characters (fewer for short
/// values, none for very short ones) and `***`.
pub(crate) fn mask(value: &str) -> String {
    let n = value.chars().count();
    let shown = match n {
        0..=9 => 0,
        10..=15 => 2,
        _ => 4,
    };
    let head: String = value.chars().take(shown).collect();
    format!("{head}***")
}

/// The env files of a project that are meant to be committed: the base file, every
/// configured profile's file, and `.env.<name>` files beside the base file (`.env.staging`,
/// `.env.example`); never the local file. Only files that exist, in a stable order.
pub fn committed_env_files(config: &Config) -> Vec<PathBuf> {
    let local = config.root.join(&config.local_file);
    let base = config.root.join(&config.env_file);
    let mut files = vec![base.clone()];
    for name in config.profiles.keys() {
        files.push(config.profile_file(name));
    }
    let base_name = base
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = base
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.root.clone());
    let mut siblings: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&format!("{base_name}.")).map(str::to_string))
                .is_some_and(|suffix| {
                    suffix != "local" && crate::config::check_profile_name(&suffix).is_ok()
                })
        })
        .collect();
    siblings.sort();
    files.extend(siblings);
    let mut seen = std::collections::HashSet::new();
    files
        .into_iter()
        .filter(|p| *p != local && p.is_file() && seen.insert(p.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(key: &str, value: &str) -> Option<&'static str> {
        classify(key, value).map(|k| k.code())
    }

    #[test]
    fn unresolved_looking_values() {
        let doc = Document::parse(
            "/p/.env",
            "A=postgres://ref://secrets/u:ref://secrets/pw@h\nB=op://Vault/item/field\nC='x ref://a/b'\nD=ref://secrets/ok\nE=${ref://secrets/ok}x${op://V/i/f}\nF=see https://op.example\nG=x op://V/i/f\nH=\"see ref://secrets/ here\"\nI=`x ref://secrets/k`\n",
        )
        .unwrap();
        // References resolve, embedded or whole (A, B, D, E), and their text is not a finding
        // (A's literal parts are `postgres://`, `:` and `@h`: no password in a URL).
        let found: Vec<(String, &str)> = scan(&doc)
            .into_iter()
            .map(|f| (f.key, f.evidence.code()))
            .collect();
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["C", "G", "H", "I"]);
        assert!(found.iter().all(|(_, c)| *c == "unresolved"), "{found:?}");
    }

    #[test]
    fn token_formats() {
        for v in [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "xoxb-123456789012-abcdefghij",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ] {
            assert_eq!(kind("ANYTHING", v), Some("token"), "{v}");
        }
        assert_eq!(
            kind("DATABASE_URL", "postgres://admin:hunter2@db/app"),
            Some("url-password")
        );
    }

    #[test]
    fn names_and_entropy() {
        assert_eq!(kind("DB_PASSWORD", "hunter2hunter2"), Some("key-name"));
        assert_eq!(kind("api_key", "abcdefgh12"), Some("key-name"));
        assert_eq!(kind("SESSION", "q8Zr2LmX9vT4wK7pN3bY6cHf"), Some("entropy"));
    }

    #[test]
    fn not_secrets() {
        for (k, v) in [
            ("DB_PASSWORD", ""),
            ("API_TOKEN", "short"),
            ("API_TOKEN", "changeme-please"),
            ("API_TOKEN", "<your token>"),
            ("TOKEN_URL", "https://auth.example.com/oauth/token"),
            ("PASSWORD_MIN_LENGTH", "12"),
            ("SECRET_ENABLED", "true"),
            ("DATABASE_URL", "postgres://admin@db/app"),
            ("DATABASE_URL", "postgres://localhost:5432/app"),
            ("APP_NAME", "my-application-name"),
            ("BUILD", "0123456789abcdef0123456789abcdef01234567"),
            ("APP_ENV", "development"),
        ] {
            assert_eq!(kind(k, v), None, "{k}={v}");
        }
    }

    /// The reviewed corpus: (key, value, what audit must say). Secrets first, then values that
    /// only look like one.
    const CORPUS: &[(&str, &str, Option<&str>)] = &[
        // Digits under a password-like name are a secret (a PIN, a numeric password)…
        ("DB_PASSWORD", "12345678", Some("key-name")),
        ("CARD_PIN", "4821", Some("key-name")),
        ("ADMIN_PASSPHRASE", "20240917", Some("key-name")),
        ("DB_PWD", "s3cr3t!", Some("key-name")),
        // …but a count or a duration under another secret name is not.
        ("MAX_TOKENS", "4096", None),
        ("TOKEN_TTL", "3600", None),
        ("PASSWORD_MIN_LENGTH", "12", None),
        ("SHIPPING_ZONE", "4821", None),
        // A value that starts with `/` or `./` but is no path is a secret…
        ("DB_PASSWORD", "/xK9#mP2q!Lw", Some("key-name")),
        ("API_TOKEN", "./8fJ2kQ9zLmX4", Some("key-name")),
        ("SESSION_SECRET", "/Zq8rT2vX", Some("key-name")),
        // …a path to where the secret lives is not.
        ("SECRET_FILE", "/run/secrets/x", None),
        ("DB_PASSWORD", "/run/secrets/db_password", None),
        ("TLS_PRIVATE_KEY", "./certs/server.key", None),
        ("SSH_PRIVATE_KEY", "~/.ssh/id_ed25519", None),
        ("VAULT_PASSWORD", "/vault", None),
        ("PWD", "/app", None),
        // A placeholder word makes a placeholder; the same letters inside a random string do not.
        ("API_TOKEN", "replace-me", None),
        ("API_TOKEN", "REPLACE_ME", None),
        ("API_KEY", "your_api_key_here", None),
        ("DB_PASSWORD", "changeme123", None),
        ("API_TOKEN", "<your token>", None),
        ("API_TOKEN", "{{ api_token }}", None),
        ("DB_PASSWORD", "xxxxxxxx", None),
        ("API_TOKEN", "replaceXk29mQ7vL", Some("key-name")),
        ("DB_PASSWORD", "examplEq9Zr2", Some("key-name")),
        ("DATABASE_URL", "postgres://app:replace-me@db/app", None),
        (
            "DATABASE_URL",
            "postgres://app:replaceXk29mQ7@db/app",
            Some("url-password"),
        ),
        // Plain secrets, tokens and URLs.
        ("DB_PASSWORD", "hunter2hunter2", Some("key-name")),
        ("api_key", "abcdefgh12", Some("key-name")),
        ("dbPassword", "Tr0ub4dor", Some("key-name")),
        (
            "GH",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
            Some("token"),
        ),
        ("SESSION", "q8Zr2LmX9vT4wK7pN3bY6cHf", Some("entropy")),
        ("NOTE", "/q8Zr2LmX9vT4wK7pN3bY6cHf", Some("entropy")),
        ("TOKEN_URL", "https://auth.example.com/oauth/token", None),
        ("API_TOKEN", "https://vault.internal/v1/secret/api", None),
        ("SECRET_ENABLED", "true", None),
        ("DB_PASSWORD", "short", Some("key-name")),
        ("DB_PASSWORD", "pw", None),
        ("API_TOKEN", "short", None),
        ("DB_PASSWORD", "", None),
        ("TOKEN_PREFIX", "Bearer", None),
        ("PASSWORD_HASHER", "argon2id", None),
        ("APP_NAME", "my-application-name", None),
        ("BUILD", "0123456789abcdef0123456789abcdef01234567", None),
        ("PORT", "8080", None),
    ];

    #[test]
    fn corpus() {
        let wrong: Vec<String> = CORPUS
            .iter()
            .filter(|(k, v, want)| kind(k, v) != *want)
            .map(|(k, v, want)| format!("{k}={v}: want {want:?}, got {:?}", kind(k, v)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn references_never_count_and_values_are_masked() {
        let doc = Document::parse(
            "/p/.env",
            "API_KEY=ref://secrets/api_key\nDB=postgres://u:${ref://secrets/pw}@h/db\nTOKEN=\"${ref://secrets/t}\"\nGH=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
        )
        .unwrap();
        let f = scan(&doc);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].key.as_str(), f[0].line, f[0].preview.as_str()),
            ("GH", 4, "ghp_***")
        );
        assert_eq!(mask("hunter2"), "***");
    }

    #[test]
    fn entropy_of_uniform() {
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
