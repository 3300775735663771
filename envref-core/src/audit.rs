//! Plaintext-secret detection in env files (`envref audit`, and `envref doctor`).
//!
//! A value is suspect when it contains a known token format (AWS, GitHub, Slack, Stripe,
//! private keys, JWTs, …), a URL with a password in it, when its key name says "secret"
//! (`PASSWORD`, `TOKEN`, `API_KEY`, …) and the value is non-trivial, or when it is a long,
//! high-entropy string. References (`ref://…`, `${ref://…}`) never count: only the literal
//! text of a value is looked at. A finding carries a masked preview, never the value.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;

use crate::config::Config;
use crate::dotenv::{Document, Value};
use crate::template::Segment;

/// Values shorter than this are never reported by the key-name rule.
pub const MIN_NAMED_LEN: usize = 8;
/// The entropy rule looks only at values at least this long…
pub const MIN_ENTROPY_LEN: usize = 20;
/// …whose Shannon entropy is at least this many bits per character.
pub const MIN_ENTROPY: f64 = 4.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A known token format, by name.
    Token(&'static str),
    /// `scheme://user:password@host`.
    UrlPassword,
    /// The key's name says it is a secret and the value is not a placeholder.
    KeyName,
    /// A long random-looking string (bits per character).
    Entropy(f64),
}

impl Kind {
    pub fn reason(&self) -> String {
        match self {
            Kind::Token(name) => format!("matches the {name} format"),
            Kind::UrlPassword => "URL with an embedded password".into(),
            Kind::KeyName => "the key name says secret and the value is not a reference".into(),
            Kind::Entropy(e) => format!("high-entropy value ({e:.2} bits/char)"),
        }
    }

    /// A stable identifier for JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::Token(_) => "token",
            Kind::UrlPassword => "url-password",
            Kind::KeyName => "key-name",
            Kind::Entropy(_) => "entropy",
        }
    }

    /// Whether the finding is near-certain (a token format or a URL password) rather than a
    /// heuristic guess.
    pub fn is_certain(&self) -> bool {
        matches!(self, Kind::Token(_) | Kind::UrlPassword)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub path: PathBuf,
    /// Line of the key.
    pub line: u32,
    pub key: String,
    pub kind: Kind,
    /// The first few characters and `***`; never the whole value.
    pub preview: String,
}

/// Known token formats: (name, pattern). Searched anywhere in the value.
const TOKENS: &[(&str, &str)] = &[
    ("private key", r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    ("AWS access key ID", r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    ("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    ("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    ("Slack webhook URL", r"https://hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]+"),
    ("Stripe key", r"\b[sr]k_(live|test)_[A-Za-z0-9]{10,}\b"),
    ("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("PyPI token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    ("SendGrid key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
    ("Twilio API key", r"\bSK[0-9a-f]{32}\b"),
    ("OpenAI key", r"\bsk-(proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"),
    ("Anthropic key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
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
];

fn tokens() -> &'static [(&'static str, Regex)] {
    static RE: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    RE.get_or_init(|| TOKENS.iter().map(|(n, p)| (*n, Regex::new(p).expect("valid token pattern"))).collect())
}

fn url_password() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@").expect("valid pattern"))
}

/// Scan every definition of a document (duplicates included).
pub fn scan(doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in doc.all_entries() {
        let Value::Template(t) = &e.value else { continue };
        // Only the literal text: `${VAR}` and `${ref://…}` parts are not in the file.
        let text: String = t.segments.iter().filter_map(|s| if let Segment::Lit(l) = s { Some(l.as_str()) } else { None }).collect();
        if let Some(kind) = classify(&e.key, &text) {
            out.push(Finding { path: doc.path().to_path_buf(), line: e.pos.line, key: e.key.clone(), kind, preview: mask(&text) });
        }
    }
    out
}

/// Why `value` (the literal text of `key`'s value) looks like a secret, if it does.
pub fn classify(key: &str, value: &str) -> Option<Kind> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some((name, _)) = tokens().iter().find(|(_, re)| re.is_match(value)) {
        return Some(Kind::Token(name));
    }
    if let Some(c) = url_password().captures(value) {
        let pw = &c[1];
        if !is_placeholder(pw) && !pw.starts_with('$') {
            return Some(Kind::UrlPassword);
        }
    }
    if is_trivial(value) {
        return None;
    }
    let upper = key.to_ascii_uppercase();
    if SECRET_NAMES.iter().any(|n| upper.contains(n))
        && !NOT_SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s))
        && value.chars().count() >= MIN_NAMED_LEN
    {
        return Some(Kind::KeyName);
    }
    if value.chars().count() >= MIN_ENTROPY_LEN
        && !value.chars().any(char::is_whitespace)
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        // Hex digests and UUIDs (commit ids, resource ids) are random but rarely secret.
        && !value.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        let e = entropy(value);
        if e >= MIN_ENTROPY {
            return Some(Kind::Entropy(e));
        }
    }
    None
}

/// Values that are plainly not secrets: numbers, booleans, placeholders, paths, and URLs
/// without a password.
fn is_trivial(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    matches!(lower.as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none" | "nil" | "localhost")
        || value.parse::<f64>().is_ok()
        || is_placeholder(value)
        || value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with("~/")
        || value.contains("://")
}

fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (lower.starts_with('<') && lower.ends_with('>'))
        || lower.chars().all(|c| matches!(c, 'x' | '*' | '.' | '-' | '_'))
        || ["changeme", "change_me", "change-me", "replace", "placeholder", "example", "your_", "your-", "todo", "dummy", "redacted"]
            .iter()
            .any(|p| lower.contains(p))
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
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
pub fn mask(value: &str) -> String {
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
    let base_name = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = base.parent().map(Path::to_path_buf).unwrap_or_else(|| config.root.clone());
    let mut siblings: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&format!("{base_name}.")).map(str::to_string))
                .is_some_and(|suffix| suffix != "local" && crate::config::check_profile_name(&suffix).is_ok())
        })
        .collect();
    siblings.sort();
    files.extend(siblings);
    let mut seen = std::collections::HashSet::new();
    files.into_iter().filter(|p| *p != local && p.is_file() && seen.insert(p.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(key: &str, value: &str) -> Option<&'static str> {
        classify(key, value).map(|k| k.code())
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
        assert_eq!(kind("DATABASE_URL", "postgres://admin:hunter2@db/app"), Some("url-password"));
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
            ("DB_PASSWORD", "short"),
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

    #[test]
    fn references_never_count_and_values_are_masked() {
        let doc = Document::parse(
            "/p/.env",
            "API_KEY=ref://secrets/api_key\nDB=postgres://u:${ref://secrets/pw}@h/db\nTOKEN=\"${ref://secrets/t}\"\nGH=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n",
        )
        .unwrap();
        let f = scan(&doc);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].key.as_str(), f[0].line, f[0].preview.as_str()), ("GH", 4, "ghp_***"));
        assert_eq!(mask("hunter2"), "***");
    }

    #[test]
    fn entropy_of_uniform() {
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
