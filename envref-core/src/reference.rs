//! `ref://<target>/<key>`: `<target>` is `secrets` (walk the chain) or the configured name of
//! one backend (ask only that one).

use std::fmt;

pub const PREFIX: &str = "ref://";
/// The target that means "walk the whole chain".
pub const CHAIN: &str = "secrets";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub target: String,
    pub key: String,
}

impl Reference {
    /// Parse a whole `ref://target/key` string. The error names the problem, never the text.
    pub fn parse(s: &str) -> Result<Reference, String> {
        let rest = s.strip_prefix(PREFIX).ok_or_else(|| "a reference starts with ref://".to_string())?;
        let Some((target, key)) = rest.split_once('/') else {
            return Err("invalid reference: expected ref://secrets/<key> or ref://<backend>/<key>".into());
        };
        if target.is_empty() || !target.chars().all(is_name_char) {
            return Err("invalid reference: the backend part (between ref:// and /) must be `secrets` or a backend name".into());
        }
        check_secret_key(key).map_err(|m| format!("invalid reference: {m}"))?;
        Ok(Reference { target: target.to_string(), key: key.to_string() })
    }

    /// Whether this reference walks the chain rather than naming one backend.
    pub fn is_chain(&self) -> bool {
        self.target == CHAIN
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}/{}", self.target, self.key)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Secret keys: letters, digits, `_ . -`, and `/` between non-empty segments.
pub fn check_secret_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the secret key is empty".into());
    }
    if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err("the secret key has an empty, `.` or `..` path segment".into());
    }
    if let Some(c) = key.chars().find(|&c| !(is_name_char(c) || c == '/')) {
        return Err(format!("the secret key contains {c:?}; use letters, digits, `_`, `.`, `-` or `/`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let r = Reference::parse("ref://secrets/api_key").unwrap();
        assert!(r.is_chain());
        assert_eq!(r.key, "api_key");
        assert_eq!(r.to_string(), "ref://secrets/api_key");
        let r = Reference::parse("ref://ssm-prod/team/db.url").unwrap();
        assert_eq!((r.target.as_str(), r.key.as_str()), ("ssm-prod", "team/db.url"));
        for bad in ["ref://", "ref://secrets", "ref://secrets/", "ref:///x", "ref://s/a b", "ref://s/a//b", "ref://s/../x"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
