//! Minimal edits of `.envref.yaml`: set or clear `active_profile`, register a profile, add or
//! remove a team member.
//!
//! Edits are line-based, like the Go envref's, so comments, blank lines, order and quoting
//! elsewhere survive byte for byte. Unlike the Go envref's, no edit is written unless its
//! result parses, means exactly the old configuration plus the one intended change, and passes
//! the same validation every command runs on load. Otherwise the file is left unchanged and
//! the error says what to write by hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::atomic::{write_atomic, EditLock};
use crate::config::{
    check_profile_name, parse_config, Config, ConfigFile, ProfileConfig, TeamMember,
};
use crate::{Error, Result};

/// The project's `.envref.yaml` as text and as parsed, ready for one edit. It holds the
/// edit lock from the read until its [`Pending`] edit is written or dropped, so two
/// concurrent edits cannot lose one another.
#[derive(Debug, Clone)]
pub struct ConfigEditor {
    path: PathBuf,
    text: String,
    raw: ConfigFile,
    lock: Arc<EditLock>,
}

impl ConfigEditor {
    /// Open `path` for editing, holding its edit lock until the editor and its pending edits
    /// are dropped.
    pub fn open(path: &Path) -> Result<ConfigEditor> {
        if !path.exists() {
            return Err(Error::io(path, std::io::ErrorKind::NotFound.into()));
        }
        let lock = Arc::new(EditLock::acquire(path)?);
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let raw = parse_config(path, &text)?;
        Ok(ConfigEditor {
            path: path.to_path_buf(),
            text,
            raw,
            lock,
        })
    }

    /// Check `new_text`: it must parse to exactly `expected` and load as a valid
    /// configuration. `change` describes the edit for the error's hint ("set
    /// `active_profile: dev`").
    fn prepare(&self, new_text: String, expected: &ConfigFile, change: &str) -> Result<Pending> {
        let refuse = |why: String| {
            Error::not_allowed(format!("refusing to edit {}: {why}", self.path.display()))
                .with_hint(format!(
                    "the file is unchanged; to make the change by hand, {change}"
                ))
        };
        let parsed = parse_config(&self.path, &new_text)
            .map_err(|e| refuse(format!("the result would not parse: {e}")).with_source(e))?;
        if &parsed != expected {
            return Err(refuse("this file's layout is one the line editor does not understand (flow style or unusual indentation)".into()));
        }
        let config = Config::load_text(&self.path, &new_text).map_err(|e| {
            refuse(format!("the result would be an invalid configuration: {e}")).with_source(e)
        })?;
        Ok(Pending {
            path: self.path.clone(),
            text: new_text,
            config,
            _lock: self.lock.clone(),
        })
    }

    /// Set (`Some`) or remove (`None`) `active_profile`.
    pub fn set_active_profile(&self, name: Option<&str>) -> Result<Pending> {
        if let Some(n) = name {
            check_profile_name(n).map_err(|m| Error::usage(format!("profile {n}: {m}")))?;
        }
        let mut expected = self.raw.clone();
        expected.active_profile = name.map(str::to_string);
        let change = match name {
            Some(n) => format!("set `active_profile: {n}`"),
            None => "delete the `active_profile:` line".to_string(),
        };
        self.prepare(edit_active_profile(&self.text, name), &expected, &change)
    }

    /// Add `name` under `profiles:` with its env file. Returns `Ok(None)` when it is already
    /// registered (nothing written).
    pub fn register_profile(&self, name: &str, env_file: &str) -> Result<Option<Pending>> {
        check_profile_name(name).map_err(|m| Error::usage(format!("profile {name}: {m}")))?;
        if self
            .raw
            .profiles
            .as_ref()
            .is_some_and(|p| p.contains_key(name))
        {
            return Ok(None);
        }
        let mut expected = self.raw.clone();
        expected.profiles.get_or_insert_with(BTreeMap::new).insert(
            name.to_string(),
            ProfileConfig {
                env_file: Some(env_file.to_string()),
            },
        );
        let text = edit_add_profile(&self.text, name, env_file).map_err(|m| self.cannot(m))?;
        let change = format!("add `{name}:` with `env_file: {env_file}` under `profiles:`");
        self.prepare(text, &expected, &change).map(Some)
    }

    /// Append a member to `team:`. The name must be new, the key a valid age public key that
    /// no other member has.
    pub fn add_team_member(&self, name: &str, public_key: &str) -> Result<Pending> {
        if name.trim().is_empty() || name.trim() != name || name.contains(['\n', '\r']) {
            return Err(Error::usage(format!(
                "team member name {name:?}: must not be empty or have leading/trailing spaces"
            )));
        }
        crate::crypto::check_recipient(public_key)
            .map_err(|e| e.context(format!("team member {name}: {public_key}")))?;
        let team = self.raw.team.clone().unwrap_or_default();
        if team.iter().any(|m| m.name == name) {
            return Err(Error::usage(format!(
                "team member {name} already exists in {}",
                self.path.display()
            ))
            .with_hint(format!(
                "to replace the key, `envref team remove {name}` first"
            )));
        }
        if let Some(m) = team.iter().find(|m| m.public_key == public_key) {
            return Err(Error::usage(format!(
                "that public key already belongs to team member {}",
                m.name
            )));
        }
        let mut expected = self.raw.clone();
        expected.team.get_or_insert_with(Vec::new).push(TeamMember {
            name: name.into(),
            public_key: public_key.into(),
        });
        let text =
            edit_add_team_member(&self.text, name, public_key).map_err(|m| self.cannot(m))?;
        let change = format!("add `- name: {name}` with `public_key: {public_key}` under `team:`");
        self.prepare(text, &expected, &change)
    }

    /// Remove the member called `name` from `team:`.
    pub fn remove_team_member(&self, name: &str) -> Result<Pending> {
        let team = self.raw.team.clone().unwrap_or_default();
        let Some(index) = team.iter().position(|m| m.name == name) else {
            let names: Vec<&str> = team.iter().map(|m| m.name.as_str()).collect();
            let hint = if names.is_empty() {
                "the team is empty".to_string()
            } else {
                format!("team members: {}", names.join(", "))
            };
            return Err(Error::not_found(format!(
                "no team member named {name} in {}",
                self.path.display()
            ))
            .with_hint(hint));
        };
        let mut expected = self.raw.clone();
        let rest: Vec<TeamMember> = team
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, m)| m)
            .collect();
        expected.team = if rest.is_empty() { None } else { Some(rest) };
        let text = edit_remove_team_member(&self.text, index).map_err(|m| self.cannot(m))?;
        let change = format!("delete the entry `- name: {name}` under `team:`");
        self.prepare(text, &expected, &change)
    }

    fn cannot(&self, why: String) -> Error {
        Error::not_allowed(format!("cannot edit {}: {why}", self.path.display()))
            .with_hint("the file is unchanged; make the change by hand")
    }
}

/// A checked edit, not yet written. Checking first lets a command do other work (create a
/// profile's file) only when the config edit will go through.
#[derive(Debug, Clone)]
pub struct Pending {
    path: PathBuf,
    text: String,
    config: Config,
    _lock: Arc<EditLock>,
}

impl Pending {
    /// The configuration as it will be after the write.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Write the new text atomically (a temp file and a rename; the mode is kept).
    pub fn write(self) -> Result<Config> {
        write_atomic(&self.path, self.text.as_bytes(), Some(0o644))?;
        Ok(self.config)
    }
}

// ---------------------------------------------------------------- text edits

/// The file's line ending (`\r\n` when the file uses it).
fn eol(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

fn split_lines(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// Make sure the last line ends with a newline, so appending starts a new line.
fn terminate(lines: &mut [String], nl: &str) {
    if let Some(last) = lines.last_mut() {
        if !last.ends_with('\n') {
            last.push_str(nl);
        }
    }
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// A line that starts a new top-level entry (column 0, not a comment, not a list item).
fn is_top_level(line: &str) -> bool {
    let Some(c) = line.chars().next() else {
        return false;
    };
    if c.is_whitespace() || c == '#' {
        return false;
    }
    !(c == '-' && line[1..].chars().next().is_none_or(char::is_whitespace))
}

/// `key:` at column 0; returns what follows the colon.
fn top_level_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.trim_start_matches([' ', '\t']);
    let after = rest.strip_prefix(':')?;
    after
        .chars()
        .next()
        .is_none_or(char::is_whitespace)
        .then_some(after)
}

/// The value text after `key:` without its trailing comment, trimmed.
fn value_without_comment(after_colon: &str) -> &str {
    let v = after_colon.trim_end_matches(['\r', '\n']);
    let v = match v.find(" #").or_else(|| v.find("\t#")) {
        Some(i) => &v[..i],
        None => v,
    };
    v.trim()
}

/// The trailing ` # comment` of a line, if any (without the line ending).
fn trailing_comment(after_colon: &str) -> &str {
    let v = after_colon.trim_end_matches(['\r', '\n']);
    match v.find(" #").or_else(|| v.find("\t#")) {
        Some(i) => &v[i..],
        None => "",
    }
}

/// A section: the header line of top-level `key` and the index after its last line.
fn section(lines: &[String], key: &str) -> Option<(usize, usize)> {
    let header = lines
        .iter()
        .position(|l| top_level_value(l, key).is_some())?;
    let end = lines
        .iter()
        .enumerate()
        .skip(header + 1)
        .find(|(_, l)| is_top_level(l))
        .map(|(i, _)| i)
        .unwrap_or(lines.len());
    Some((header, end))
}

/// Where new content of a section goes: after its last indented (or list) line that is not a
/// blank or column-0 comment, so comments introducing the next key stay with it.
fn content_end(lines: &[String], header: usize, end: usize) -> usize {
    (header + 1..end)
        .rev()
        .find(|&i| !is_blank_or_comment(&lines[i]))
        .map(|i| i + 1)
        .unwrap_or(header + 1)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Append a new top-level block at the end of the file, after one blank line.
fn append_block(lines: &mut Vec<String>, block: &[String], nl: &str) {
    terminate(lines, nl);
    if lines.last().is_some_and(|l| !l.trim().is_empty()) {
        lines.push(nl.to_string());
    }
    lines.extend(block.iter().cloned());
}

/// A YAML scalar: plain when that reads back as the same string, else double-quoted.
pub(crate) fn yaml_scalar(s: &str) -> String {
    const SPECIAL: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", ".nan",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/'))
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '@' | '+'))
        && !SPECIAL.contains(&s.to_ascii_lowercase().as_str())
        && s.parse::<f64>().is_err()
        && !s.starts_with("0x")
        && !s.starts_with("0o");
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialize")
    }
}

/// Replace, insert or delete the top-level `active_profile:` line.
pub(crate) fn edit_active_profile(text: &str, name: Option<&str>) -> String {
    let nl = eol(text);
    let mut lines = split_lines(text);
    let found = lines
        .iter()
        .position(|l| top_level_value(l, "active_profile").is_some());
    match (found, name) {
        (Some(i), Some(n)) => {
            let comment =
                trailing_comment(top_level_value(&lines[i], "active_profile").unwrap_or_default())
                    .to_string();
            let ending = if lines[i].ends_with('\n') { nl } else { "" };
            lines[i] = format!("active_profile: {}{comment}{ending}", yaml_scalar(n));
        }
        (Some(i), None) => {
            lines.remove(i);
        }
        (None, Some(n)) => {
            terminate(&mut lines, nl);
            let line = format!("active_profile: {}{nl}", yaml_scalar(n));
            // After `project:` (and any lines that continue its value), else after the
            // leading comments.
            let at = match lines
                .iter()
                .position(|l| top_level_value(l, "project").is_some())
            {
                Some(p) => lines
                    .iter()
                    .enumerate()
                    .skip(p + 1)
                    .find(|(_, l)| !l.starts_with([' ', '\t']) || l.trim().is_empty())
                    .map(|(i, _)| i)
                    .unwrap_or(lines.len()),
                None => lines
                    .iter()
                    .position(|l| !l.starts_with('#') && !l.trim().is_empty())
                    .unwrap_or(lines.len()),
            };
            lines.insert(at, line);
        }
        (None, None) => {}
    }
    lines.concat()
}

/// Open a block section for appending: handles `key:` (block), `key: {}` / `key: []`
/// (empty flow, rewritten as a block header) and a missing section. Returns where to insert
/// and the indentation of the section's children (`None` when not known yet).
fn open_section(
    lines: &mut [String],
    key: &str,
    nl: &str,
    empty_flow: &str,
    item: impl Fn(&str) -> bool,
) -> Result<Option<(usize, Option<usize>)>, String> {
    let Some((header, end)) = section(lines, key) else {
        return Ok(None);
    };
    let after = top_level_value(&lines[header], key).unwrap_or_default();
    let value = value_without_comment(after);
    if value == empty_flow || value == "~" || value == "null" {
        let comment = trailing_comment(after).to_string();
        lines[header] = format!("{key}:{comment}{nl}");
    } else if !value.is_empty() {
        return Err(format!("`{key}:` is written in flow style ({key}: {value}); the line editor only edits block style"));
    }
    terminate(lines, nl);
    let child = (header + 1..end)
        .map(|i| &lines[i])
        .find(|l| !is_blank_or_comment(l) && item(l))
        .map(|l| indent_of(l));
    Ok(Some((content_end(lines, header, end), child)))
}

/// Add `name: {env_file: …}` under `profiles:`.
pub(crate) fn edit_add_profile(text: &str, name: &str, env_file: &str) -> Result<String, String> {
    let nl = eol(text);
    let mut lines = split_lines(text);
    match open_section(&mut lines, "profiles", nl, "{}", |_| true)? {
        Some((at, child)) => {
            let ind = " ".repeat(child.unwrap_or(2).max(1));
            let block = [
                format!("{ind}{}:{nl}", yaml_scalar(name)),
                format!("{ind}{ind}env_file: {}{nl}", yaml_scalar(env_file)),
            ];
            lines.splice(at..at, block);
        }
        None => {
            let block = [
                "profiles:".to_string() + nl,
                format!("  {}:{nl}", yaml_scalar(name)),
                format!("    env_file: {}{nl}", yaml_scalar(env_file)),
            ];
            append_block(&mut lines, &block, nl);
        }
    }
    Ok(lines.concat())
}

fn is_item(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    t == "-"
        || t.starts_with("- ")
        || t.starts_with("-\t")
        || t.starts_with("-\r")
        || t.starts_with("-\n")
}

/// Append `- name: … / public_key: …` to `team:`.
pub(crate) fn edit_add_team_member(
    text: &str,
    name: &str,
    public_key: &str,
) -> Result<String, String> {
    let nl = eol(text);
    let mut lines = split_lines(text);
    match open_section(&mut lines, "team", nl, "[]", is_item)? {
        Some((at, child)) => {
            let ind = " ".repeat(child.unwrap_or(2));
            let block = [
                format!("{ind}- name: {}{nl}", yaml_scalar(name)),
                format!("{ind}  public_key: {}{nl}", yaml_scalar(public_key)),
            ];
            lines.splice(at..at, block);
        }
        None => {
            let block = [
                "team:".to_string() + nl,
                format!("  - name: {}{nl}", yaml_scalar(name)),
                format!("    public_key: {}{nl}", yaml_scalar(public_key)),
            ];
            append_block(&mut lines, &block, nl);
        }
    }
    Ok(lines.concat())
}

/// Remove the `index`-th item of `team:` (its `-` line and the deeper lines that follow).
/// When no item is left, the `team:` header goes too.
pub(crate) fn edit_remove_team_member(text: &str, index: usize) -> Result<String, String> {
    let mut lines = split_lines(text);
    let Some((header, end)) = section(&lines, "team") else {
        return Err("there is no `team:` section".into());
    };
    let after = top_level_value(&lines[header], "team").unwrap_or_default();
    if !value_without_comment(after).is_empty() {
        return Err(
            "`team:` is written in flow style; the line editor only edits block style".into(),
        );
    }
    let Some(item_indent) = (header + 1..end)
        .map(|i| &lines[i])
        .find(|l| is_item(l))
        .map(|l| indent_of(l))
    else {
        return Err("`team:` has no list items".into());
    };
    let starts: Vec<usize> = (header + 1..end)
        .filter(|&i| is_item(&lines[i]) && indent_of(&lines[i]) == item_indent)
        .collect();
    let Some(&start) = starts.get(index) else {
        return Err(format!(
            "`team:` has {} list items, expected more",
            starts.len()
        ));
    };
    let limit = starts.get(index + 1).copied().unwrap_or(end);
    // The item: its `-` line, then deeper lines up to the last one that is not blank or a comment.
    let stop = (start + 1..limit)
        .rev()
        .find(|&i| !is_blank_or_comment(&lines[i]))
        .map(|i| i + 1)
        .unwrap_or(start + 1);
    lines.drain(start..stop);
    if starts.len() == 1 {
        lines.remove(header);
        // No double blank line where the section was.
        let prev_blank = header > 0 && lines[header - 1].trim().is_empty();
        let next_blank = lines.get(header).is_none_or(|l| l.trim().is_empty());
        if prev_blank && next_blank {
            lines.remove(header - 1);
        }
    }
    Ok(lines.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor(dir: &Path, text: &str) -> ConfigEditor {
        let path = dir.join(".envref.yaml");
        std::fs::write(&path, text).unwrap();
        ConfigEditor::open(&path).unwrap()
    }

    const KEY_A: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const KEY_B: &str = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg";

    #[test]
    fn active_profile_edits_keep_everything_else() {
        let text = "# top comment\nproject: app # the namespace\n\n# profiles we use\nprofiles:\n  dev: {}\n";
        let set = edit_active_profile(text, Some("dev"));
        assert_eq!(set, "# top comment\nproject: app # the namespace\nactive_profile: dev\n\n# profiles we use\nprofiles:\n  dev: {}\n");
        let replaced = edit_active_profile(
            &set.replace("active_profile: dev", "active_profile: dev # chosen"),
            Some("prod"),
        );
        assert!(
            replaced.contains("active_profile: prod # chosen\n"),
            "{replaced}"
        );
        assert_eq!(edit_active_profile(&set, None), text);
        // `project:` last, no trailing newline (the Go envref panicked here).
        assert_eq!(
            edit_active_profile("project: app", Some("dev")),
            "project: app\nactive_profile: dev\n"
        );
        assert_eq!(
            edit_active_profile("a: 1\r\nproject: app\r\n", Some("dev")),
            "a: 1\r\nproject: app\r\nactive_profile: dev\r\n"
        );
    }

    #[test]
    fn profiles_and_team_blocks() {
        let t = edit_add_profile(
            "project: app\nprofiles:\n    dev:\n        env_file: .env.dev\n# trailing\nteam: []\n",
            "staging",
            "env/staging.env",
        )
        .unwrap();
        assert_eq!(t, "project: app\nprofiles:\n    dev:\n        env_file: .env.dev\n    staging:\n        env_file: env/staging.env\n# trailing\nteam: []\n");
        let t =
            edit_add_profile("project: app\nprofiles: {} # none yet\n", "dev", ".env.dev").unwrap();
        assert_eq!(
            t,
            "project: app\nprofiles: # none yet\n  dev:\n    env_file: .env.dev\n"
        );
        assert!(edit_add_profile("project: app\nprofiles: {dev: {}}\n", "x", ".env.x").is_err());
        let t = edit_add_team_member("project: app", "alice", KEY_A).unwrap();
        assert_eq!(
            t,
            format!("project: app\n\nteam:\n  - name: alice\n    public_key: {KEY_A}\n")
        );
        let t = edit_add_team_member(&t, "bob smith", KEY_B).unwrap();
        assert!(
            t.ends_with(&format!(
                "  - name: \"bob smith\"\n    public_key: {KEY_B}\n"
            )),
            "{t}"
        );
        // Column-0 list items are part of the section too.
        let t0 = edit_add_team_member(
            &format!("team:\n- name: alice\n  public_key: {KEY_A}\nproject: app\n"),
            "bob",
            KEY_B,
        )
        .unwrap();
        assert_eq!(t0, format!("team:\n- name: alice\n  public_key: {KEY_A}\n- name: bob\n  public_key: {KEY_B}\nproject: app\n"));
        let removed = edit_remove_team_member(&t0, 0).unwrap();
        assert_eq!(
            removed,
            format!("team:\n- name: bob\n  public_key: {KEY_B}\nproject: app\n")
        );
        let t = "project: app\n\nteam:\n  # alice: laptop key\n  - name: alice\n    public_key: K\n\n# next\nbackends: []\n";
        assert_eq!(
            edit_remove_team_member(t, 0).unwrap(),
            "project: app\n\n  # alice: laptop key\n\n# next\nbackends: []\n"
        );
    }

    #[test]
    fn yaml_scalars_read_back() {
        for s in [
            "dev",
            "yes",
            "1.5",
            "a b",
            "#x",
            "x: y",
            "\"q\"",
            "env/x.env",
            "null",
            "-x",
            "0x1f",
        ] {
            let text = format!("v: {}\n", yaml_scalar(s));
            let v: BTreeMap<String, String> =
                yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(v["v"], s);
        }
    }

    #[test]
    fn editor_validates_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# config\nproject: app\nprofiles:\n  dev: {}\n";
        let ed = editor(dir.path(), text);
        let c = ed.set_active_profile(Some("dev")).unwrap().write().unwrap();
        assert_eq!(c.active_profile.as_deref(), Some("dev"));
        // Flow style: the line edit would not parse, so nothing is written.
        let flow = "{project: app, profiles: {dev: {}}}\n";
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = editor(dir.path(), flow);
        let e = ed.set_active_profile(Some("dev")).unwrap_err();
        assert!(matches!(e, Error::NotAllowed { .. }), "{e:?}");
        assert!(e.hint().unwrap().contains("active_profile: dev"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".envref.yaml")).unwrap(),
            flow
        );
        // A profile that is neither registered nor on disk would be invalid.
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = editor(dir.path(), text);
        let e = ed.set_active_profile(Some("nope")).unwrap_err();
        assert!(matches!(e, Error::NotAllowed { .. }), "{e:?}");
        let cause = std::error::Error::source(&e).and_then(|c| c.downcast_ref::<Error>());
        assert!(matches!(cause, Some(Error::Config { .. })), "{e:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".envref.yaml")).unwrap(),
            text
        );
        // Team.
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = editor(dir.path(), text);
        ed.add_team_member("alice", KEY_A).unwrap().write().unwrap();
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = ConfigEditor::open(&dir.path().join(".envref.yaml")).unwrap();
        assert!(matches!(
            ed.add_team_member("alice", KEY_B),
            Err(Error::Usage { .. })
        ));
        let e = ed.add_team_member("bob", KEY_A).unwrap_err();
        assert!(matches!(e, Error::Usage { .. }), "{e:?}");
        assert!(e
            .to_string()
            .contains("already belongs to team member alice"));
        assert!(ed.add_team_member("bob", "age1nope").is_err());
        ed.add_team_member("bob", KEY_B).unwrap().write().unwrap();
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = ConfigEditor::open(&dir.path().join(".envref.yaml")).unwrap();
        ed.remove_team_member("alice").unwrap().write().unwrap();
        drop(ed); // one edit lock per file per process: the next open would wait for this one
        let ed = ConfigEditor::open(&dir.path().join(".envref.yaml")).unwrap();
        assert!(matches!(
            ed.remove_team_member("alice"),
            Err(Error::NotFound { .. })
        ));
        ed.remove_team_member("bob").unwrap().write().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".envref.yaml")).unwrap(),
            text
        );
    }
}
