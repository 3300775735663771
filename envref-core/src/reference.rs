//! `ref://<target>/<key>`: `<target>` is `secrets` (walk the chain) or the configured name of
//! one backend (ask only that one). `ref://<backend>//<name>` names a secret by its own name in
//! that backend, outside the project namespace (a "raw" reference: read-only, never a chain).
//! `op://<vault>/<item>/[<section>/]<field>` is 1Password's own syntax, read through the first
//! `1password` backend (or an implicit one): a `.env` written for `op run` works unchanged.

use std::fmt;

/// What every reference starts with.
pub const PREFIX: &str = "ref://";
/// The target that means "walk the whole chain".
pub const CHAIN: &str = "secrets";
/// What every 1Password secret reference starts with.
pub const OP_PREFIX: &str = "op://";
/// The `target` of an `op://` reference: the chain asks the first backend of type `1password`,
/// whatever its name, so this is no backend name (none can hold `:` or `/`) and nothing that
/// looks a backend up by name (`onboard`, `status` fixes) takes it for a configured one.
pub const OP_TARGET: &str = "op://";

/// How a reference's key is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Form {
    /// `ref://<target>/<key>`: a key in the project's namespace (`<project>/<key>`).
    Namespaced,
    /// `ref://<backend>//<name>`: the secret's own name in one backend, used verbatim.
    Raw,
    /// `op://<vault>/<item>/[<section>/]<field>`: the key is what follows `op://`.
    OnePassword,
}

/// A parsed `ref://<target>/<key>` or `ref://<backend>//<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// [`CHAIN`] (walk every backend in order) or the name of one backend.
    pub target: String,
    /// The secret's key within the project's namespace, or its own name for [`Form::Raw`].
    pub key: String,
    /// Namespaced (the default) or raw.
    pub form: Form,
}

impl Reference {
    /// Parse a whole `ref://target/key` or `op://…` string. The error names the problem, never
    /// the text.
    pub fn parse(s: &str) -> Result<Reference, String> {
        if let Some(path) = s.strip_prefix(OP_PREFIX) {
            return Self::one_password(path);
        }
        let rest = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| "a reference starts with ref:// or op://".to_string())?;
        let Some((target, key)) = rest.split_once('/') else {
            return Err(
                "invalid reference: expected ref://secrets/<key> or ref://<backend>/<key>".into(),
            );
        };
        if target.is_empty() || !target.chars().all(is_name_char) {
            return Err("invalid reference: the backend part (between ref:// and /) must be `secrets` or a backend name".into());
        }
        if let Some(name) = key.strip_prefix('/') {
            return Self::raw(target, name);
        }
        check_secret_key(key).map_err(|m| format!("invalid reference: {m}"))?;
        Ok(Reference {
            target: target.to_string(),
            key: key.to_string(),
            form: Form::Namespaced,
        })
    }

    fn raw(target: &str, name: &str) -> Result<Reference, String> {
        if target == CHAIN {
            return Err(format!(
                "invalid reference: a secret's own name belongs to one backend; write ref://<backend>//<name>, not ref://{CHAIN}//…"
            ));
        }
        check_raw_name(name).map_err(|m| format!("invalid reference: {m}"))?;
        Ok(Reference {
            target: target.to_string(),
            key: name.to_string(),
            form: Form::Raw,
        })
    }

    fn one_password(path: &str) -> Result<Reference, String> {
        check_op_path(path).map_err(|m| {
            format!("invalid 1Password reference: {m}; the form is op://<vault>/<item>/[<section>/]<field>")
        })?;
        Ok(Reference {
            target: OP_TARGET.to_string(),
            key: path.to_string(),
            form: Form::OnePassword,
        })
    }

    /// The embedded reference at byte `start` of `text`, Go envref's way: it starts at
    /// `ref://` and extends over `[A-Za-z0-9/_.-]`. `None` when that text does not parse (it
    /// stays text). Returns the reference and the byte where it ends.
    pub fn embedded_at(text: &str, start: usize) -> Option<(Reference, usize)> {
        let body = start + PREFIX.len();
        if !text[start..].starts_with(PREFIX) {
            return None;
        }
        let end = body
            + text[body..]
                .find(|c: char| !(is_name_char(c) || c == '/'))
                .unwrap_or(text.len() - body);
        let r = Reference::parse(&text[start..end]).ok()?;
        Some((r, end))
    }

    /// Whether this reference walks the chain rather than naming one backend.
    pub fn is_chain(&self) -> bool {
        self.target == CHAIN
    }

    /// Whether the key is the secret's own name in its backend (outside the namespace):
    /// `ref://<backend>//<name>` and `op://…`.
    pub fn is_raw(&self) -> bool {
        self.form != Form::Namespaced
    }

    /// How a status line names the secret: its key, `//<name>` for a raw name, or the whole
    /// `op://…`.
    pub fn shown_key(&self) -> String {
        match self.form {
            Form::Namespaced => self.key.clone(),
            Form::Raw => format!("//{}", self.key),
            Form::OnePassword => self.to_string(),
        }
    }

    /// The fix for a missing secret that envref does not write (a raw name or `op://`), or
    /// `None` for a namespaced key (`secret set` stores it).
    pub fn outside_namespace_fix(&self) -> Option<String> {
        match self.form {
            Form::Namespaced => None,
            Form::Raw => Some(format!(
                "create {} in backend {} with that store's own tool (envref writes only under the project's namespace)",
                self.key, self.target
            )),
            Form::OnePassword => Some(format!(
                "create the item or field of {self} in 1Password (`op item create`, `op item edit`), or correct the reference"
            )),
        }
    }

    /// Whether this is 1Password's `op://…`.
    pub fn is_one_password(&self) -> bool {
        self.form == Form::OnePassword
    }
}

/// Whether a whole value is meant as a reference: it starts with `ref://` or `op://`.
pub fn starts_reference(value: &str) -> bool {
    value.starts_with(PREFIX) || value.starts_with(OP_PREFIX)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Namespaced => write!(f, "{PREFIX}{}/{}", self.target, self.key),
            Form::Raw => write!(f, "{PREFIX}{}//{}", self.target, self.key),
            Form::OnePassword => write!(f, "{OP_PREFIX}{}", self.key),
        }
    }
}

/// 1Password's secret reference syntax after `op://`: `<vault>/<item>/[<section>/]<field>`,
/// each part made of letters, digits, `-`, `_`, `.` and inner spaces (op's documented set;
/// other names are written by their ID), then optionally `?attribute=…` or `?ssh-format=…`.
pub fn check_op_path(path: &str) -> Result<(), String> {
    let (parts, query) = match path.split_once('?') {
        Some((parts, query)) => (parts, Some(query)),
        None => (path, None),
    };
    let segments: Vec<&str> = parts.split('/').collect();
    if !(3..=4).contains(&segments.len()) {
        return Err(format!(
            "expected 3 or 4 parts separated by `/`, found {}",
            segments.len()
        ));
    }
    for seg in segments {
        if seg.is_empty() || seg != seg.trim() {
            return Err("a part is empty or starts or ends with a space".into());
        }
        if let Some(c) = seg.chars().find(|&c| !(is_name_char(c) || c == ' ')) {
            return Err(format!(
                "a part contains {c:?}; op allows letters, digits, `-`, `_`, `.` and spaces (use the item's or field's ID for other names)"
            ));
        }
    }
    match query.map(|q| q.split_once('=')) {
        None => Ok(()),
        Some(Some(("attribute" | "ssh-format", v)))
            if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Ok(())
        }
        Some(_) => {
            Err("the query must be ?attribute=<otp|totp|type> or ?ssh-format=openssh".into())
        }
    }
}

/// A secret's own name in a backend (`ref://<backend>//<name>`): the store's own rules
/// decide the rest, so only what no store name holds is refused: whitespace, control
/// characters, quotes, `$`, braces, backslash and backtick (which the `.env` grammar or a shell
/// would take apart), and a leading `/` (the form already has its `//`).
pub fn check_raw_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name after `//` is empty".into());
    }
    if name.starts_with('/') {
        return Err("the name after `//` starts with another `/`".into());
    }
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '\'' | '`' | '$' | '{' | '}' | '\\')
    };
    if let Some(c) = name.chars().find(|&c| bad(c)) {
        return Err(format!(
            "the name after `//` contains {c:?}; a raw name has no whitespace, quotes, `$`, braces or backslashes"
        ));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Secret keys: letters, digits, `_ . -`, and `/` between non-empty segments.
pub fn check_secret_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("the secret key is empty".into());
    }
    if key.starts_with('/') {
        return Err("a leading `/` marks a secret's own name, which only a reference reads (`ref://<backend>//<name>` in .env, then `envref resolve`); keys here are in the project's namespace".into());
    }
    if key
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("the secret key has an empty, `.` or `..` path segment".into());
    }
    if let Some(c) = key.chars().find(|&c| !(is_name_char(c) || c == '/')) {
        return Err(format!(
            "the secret key contains {c:?}; use letters, digits, `_`, `.`, `-` or `/`"
        ));
    }
    Ok(())
}

/// Marks the names `secret rotate` archives old values under: `<key>.__history.<N>`, N = 1
/// the newest. Users cannot write such names, so rotate never overwrites a key of theirs.
pub(crate) const HISTORY_MARK: &str = ".__history.";
/// The most old values `secret rotate` keeps.
pub const MAX_HISTORY: u32 = 100;

/// The name of the `n`-th old value of `key` (`n` from 1).
#[cfg(feature = "backends")]
pub(crate) fn history_key(key: &str, n: u32) -> String {
    format!("{key}{HISTORY_MARK}{n}")
}

/// `key` as a rotation archive name `<base>.__history.<N>` (1 ≤ N ≤ [`MAX_HISTORY`]): (base, N).
#[cfg(feature = "backends")]
pub(crate) fn parse_history_key(key: &str) -> Option<(&str, u32)> {
    let (base, digits) = key.rsplit_once(HISTORY_MARK)?;
    let n: u32 = digits.parse().ok()?;
    // Exactly what `history_key` writes: no sign, no leading zero, in range.
    (!base.is_empty() && digits == n.to_string() && (1..=MAX_HISTORY).contains(&n))
        .then_some((base, n))
}

/// A key the user may write (`secret set`, `generate`, `copy`, `rotate`): a valid secret key
/// that is not in the names reserved for rotation history.
pub fn check_writable_key(key: &str) -> Result<(), String> {
    if key.starts_with('/') {
        return Err("a secret's own name (`ref://<backend>//<name>`) is read-only here: envref writes only under the project's namespace; change that secret with its backend's own tool (aws ssm put-parameter, vault kv put, op item edit)".into());
    }
    check_secret_key(key)?;
    if key.contains(HISTORY_MARK) {
        return Err(format!(
            "names containing `{HISTORY_MARK}` are reserved for the old values `secret rotate` keeps; choose another name"
        ));
    }
    Ok(())
}

/// A full stored key, as `vault export` writes it: `<project>/<key>` or
/// `<project>/<profile>/<key>`. Rotation archives of a valid key are accepted, so an export
/// imports back whole.
#[cfg(feature = "backends")]
pub(crate) fn check_stored_key(full: &str) -> Result<(), String> {
    check_secret_key(full)?;
    if !full.contains('/') {
        return Err("a stored key is <project>/<key> (or <project>/<profile>/<key>); this one has no project part".into());
    }
    match parse_history_key(full) {
        Some((base, _)) => check_writable_key(base),
        None => check_writable_key(full),
    }
}

/// A project name as it appears in stored keys (`secret copy --from`): one key segment.
pub fn check_project_name(name: &str) -> Result<(), String> {
    if name.contains('/') {
        return Err("a project name is one name, without `/`".into());
    }
    check_secret_key(name).map_err(|m| m.replace("secret key", "project name"))
}

/// A value any backend can store and any child can receive: not empty, and no NUL (a process
/// environment cannot carry one). Multi-line values (PEM keys) are fine.
pub fn check_secret_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("the value is empty".into());
    }
    if value.contains('\0') {
        return Err(
            "the value contains a NUL byte, which no environment variable can carry".into(),
        );
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
        assert_eq!(
            (r.target.as_str(), r.key.as_str()),
            ("ssm-prod", "team/db.url")
        );
        for bad in [
            "ref://",
            "ref://secrets",
            "ref://secrets/",
            "ref:///x",
            "ref://s/a b",
            "ref://s/a//b",
            "ref://s/../x",
            "ref://secrets//x",
            "ref://s//",
            "ref://s///x",
            "ref://s//a b",
            "ref://s//a$b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn raw_names_are_verbatim_and_print_back() {
        for (text, name) in [
            (
                "ref://ssm//myapp/prod/DATABASE_URL",
                "myapp/prod/DATABASE_URL",
            ),
            (
                "ref://bao//secret/myapp/db#username",
                "secret/myapp/db#username",
            ),
            ("ref://oci//Stripe-Key.v2", "Stripe-Key.v2"),
        ] {
            let r = Reference::parse(text).unwrap();
            assert!(r.is_raw() && !r.is_chain(), "{text}");
            assert_eq!(r.key, name);
            assert_eq!(r.to_string(), text);
        }
        assert!(!Reference::parse("ref://ssm/db").unwrap().is_raw());
    }

    #[test]
    fn one_password_references_are_op_syntax_and_print_back() {
        for (text, key) in [
            (
                "op://Engineering/Stripe/credential",
                "Engineering/Stripe/credential",
            ),
            (
                "op://dev/db/Admin Section/pass word",
                "dev/db/Admin Section/pass word",
            ),
            (
                "op://d3v/stripe.keys/s3ct10n/public_key",
                "d3v/stripe.keys/s3ct10n/public_key",
            ),
            (
                "op://prod/2fa/otp?attribute=otp",
                "prod/2fa/otp?attribute=otp",
            ),
        ] {
            let r = Reference::parse(text).unwrap();
            assert!(r.is_one_password() && r.is_raw() && !r.is_chain(), "{text}");
            assert_eq!((r.key.as_str(), r.target.as_str()), (key, OP_TARGET));
            assert_eq!(r.to_string(), text);
        }
        for bad in [
            "op://",
            "op://v/item",
            "op://v//f",
            "op://v/i/s/f/x",
            "op://h?ack/1Password!/for\"real",
            "op://{vault}/[item]/(section)/field",
            "op://v/ item/f",
            "op://v/i/f?x=1",
            "op://v/i/f?attribute=",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert!(starts_reference("op://v/i/f") && starts_reference("ref://s/k"));
        assert!(!starts_reference("xop://v/i/f"));
    }

    /// The Go envref's embedded-reference extent (`FindAll`): `[A-Za-z0-9/_.-]` from `ref://`.
    #[test]
    fn embedded_references_extend_like_go_envref() {
        let text = "postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app";
        let (r, end) = Reference::embedded_at(text, 11).unwrap();
        assert_eq!((r.key.as_str(), &text[end..end + 1]), ("db_user", ":"));
        let (r, end) = Reference::embedded_at(text, 33).unwrap();
        assert_eq!((r.key.as_str(), &text[end..end + 1]), ("db_pass", "@"));
        for (text, key) in [
            ("Hello ref://secrets/name!", "name"),
            ("x ref://secrets/a.b-c_d/e?q", "a.b-c_d/e"),
            ("x ref://ssm//legacy/TOKEN&y", "legacy/TOKEN"),
            ("x ref://secrets/k=1", "k"),
            ("x ref://secrets/k y", "k"),
        ] {
            let at = text.find("ref://").unwrap();
            assert_eq!(
                Reference::embedded_at(text, at).unwrap().0.key,
                key,
                "{text}"
            );
        }
        // Not a reference: left as text.
        for text in [
            "ref://secrets",
            "ref://secrets/",
            "ref://secrets:x",
            "ref://secrets/a/",
            "ref:///k",
        ] {
            assert!(Reference::embedded_at(text, 0).is_none(), "{text}");
        }
        assert!(Reference::embedded_at("xref", 0).is_none());
    }

    #[test]
    fn history_names_are_reserved() {
        assert_eq!(history_key("db", 3), "db.__history.3");
        assert_eq!(parse_history_key("app/db.__history.3"), Some(("app/db", 3)));
        for not in [
            "app/db",
            "app/db.__history.0",
            "app/db.__history.101",
            "app/db.__history.x",
            "app/db.__history.01",
            ".__history.1",
        ] {
            assert_eq!(parse_history_key(not), None, "{not}");
        }
        assert!(check_writable_key("db").is_ok());
        for bad in [
            "a.__history.1",
            "a.__history.x",
            "",
            "../etc",
            "app//x",
            "a\nb",
            "a\0b",
        ] {
            assert!(check_writable_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_keys() {
        for ok in [
            "app/db",
            "app/staging/db",
            "app/db.__history.2",
            "app/team/db.url",
        ] {
            assert!(check_stored_key(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "db",
            "../etc",
            "app/../etc",
            "app//x",
            "/app/x",
            "app/x/",
            "app/a\nb",
            "app/a\0b",
            "app/x.__history.0",
            "app/x.__history.1.__history.1",
        ] {
            assert!(check_stored_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn project_names_and_values() {
        assert!(check_project_name("other-app").is_ok());
        for bad in ["", "..", ".", "../other", "a/b", "a b"] {
            assert!(check_project_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_secret_value("line1\nline2").is_ok());
        assert!(check_secret_value("").is_err());
        assert!(check_secret_value("a\0b").is_err());
    }
}
