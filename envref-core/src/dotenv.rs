//! The `.env` grammar (DESIGN.md §3) and a lossless document model.
//!
//! [`Document`] keeps the file's text untouched and records, for each entry, where its value
//! sits in that text. An edit replaces only the bytes of one value, so comments, blank lines,
//! `export` prefixes, quoting and order elsewhere survive byte for byte.
//!
//! Errors are `path:line:col: what is wrong` and never contain value text: a `.env` may hold a
//! plaintext secret by mistake.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::reference::Reference;
use crate::template::{self, Template};
use crate::{Error, Result};

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub col: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A place in a file, printed as `path:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// Shared: every definition of a file points at the same path.
    pub path: Arc<Path>,
    /// The line and column in that file.
    pub pos: Position,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.pos)
    }
}

/// How a value was quoted, which decides escapes and interpolation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// Unquoted: interpolated, trailing blanks trimmed, ` #` starts a comment.
    None,
    /// `'single'`: literal.
    Single,
    /// `"double"`: escapes and interpolation.
    Double,
    /// `` `backtick` ``: literal.
    Backtick,
}

/// What a value means once its quoting is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// The whole value is `ref://<target>/<key>`, in any quoting. Boxed: the rarer, bigger case.
    Reference(Box<Reference>),
    /// Text with `${…}` interpolation (unquoted, double-quoted) or a literal (single, backtick).
    Template(Template),
}

impl Value {
    /// Every reference this value names directly (whole-value or `${ref://…}` inside).
    pub fn references(&self) -> Vec<&Reference> {
        match self {
            Value::Reference(r) => vec![&**r],
            Value::Template(t) => t.references(),
        }
    }
}

/// One `KEY=value` definition of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The variable name.
    pub key: String,
    /// How the value was quoted.
    pub quote: Quote,
    /// The value, parsed.
    pub value: Value,
    /// Where the key starts.
    pub pos: Position,
    /// Where the value's text starts (the opening quote, if quoted).
    pub value_pos: Position,
    /// Byte range of the value in the document text, quotes included.
    span: Range<usize>,
}

/// A syntax error at a place in a file; the message never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the error is.
    pub location: Location,
    /// Borrowed when fixed: 100k bad lines then cost no string each.
    pub message: Cow<'static, str>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A parsed `.env` file that can be edited without disturbing anything but the edited value.
#[derive(Clone)]
pub struct Document {
    path: PathBuf,
    text: String,
    /// Every definition in file order, duplicates included.
    entries: Vec<Entry>,
    warnings: Vec<String>,
}

/// Without the text: a `.env` may hold a plaintext secret (entries show no value text either).
impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("path", &self.path)
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl Document {
    /// Parse `text`, read from `path` (used only in messages); every syntax error is returned,
    /// not just the first.
    pub fn parse(
        path: impl Into<PathBuf>,
        text: impl Into<String>,
    ) -> Result<Document, Vec<ParseError>> {
        let path = path.into();
        let text = text.into();
        let (entries, errors) = Parser::new(&path, &text).run();
        if !errors.is_empty() {
            return Err(errors);
        }
        let warnings = duplicate_warnings(&path, &entries);
        Ok(Document {
            path,
            text,
            entries,
            warnings,
        })
    }

    /// Read and parse a file; parse errors are joined into one [`Error`], one per line.
    pub fn load(path: &Path) -> Result<Document> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let pos = position_at(
                &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
                usize::MAX,
            );
            Error::parse(format!(
                "{}:{}: file is not valid UTF-8",
                path.display(),
                pos
            ))
            .with_hint("save the file as UTF-8")
        })?;
        Document::parse(path, text).map_err(parse_errors_to_error)
    }

    /// Like [`Document::load`], but a missing file is an empty document.
    pub(crate) fn load_or_empty(path: &Path) -> Result<Document> {
        if path.exists() {
            Document::load(path)
        } else {
            Ok(Document::empty(path))
        }
    }

    /// An empty document for `path` (a file about to be created).
    pub fn empty(path: impl Into<PathBuf>) -> Document {
        Document {
            path: path.into(),
            text: String::new(),
            entries: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The file the document was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document's text, exactly as read (or as edited).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The path, the definitions and the warnings, without the text (merging needs no more).
    pub(crate) fn into_entries(self) -> (PathBuf, Vec<Entry>, Vec<String>) {
        (self.path, self.entries, self.warnings)
    }

    /// All definitions in file order, duplicates included.
    pub fn all_entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Warnings found while parsing (duplicate keys), ready to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The definition that wins for `key` (the last one).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    /// Set `key` to `source`, which is `.env` value text (`${VAR}` in it interpolates). The
    /// winning definition's value bytes are replaced; a new key is appended at the end.
    pub fn set(&mut self, key: &str, source: &str) -> Result<()> {
        check_key(key)?;
        let rendered = render_value(source);
        let mut text = self.text.clone();
        match self.get(key) {
            Some(entry) => {
                // After a closing quote `#` needs no blank; after a bare value it would join it.
                let glued = text[entry.span.end..].starts_with('#')
                    && !rendered.starts_with(['"', '\'', '`']);
                let rendered = if glued {
                    format!("\"{rendered}\"")
                } else {
                    rendered
                };
                text.replace_range(entry.span.clone(), &rendered)
            }
            None => {
                // The file's own line ending: a CRLF file stays CRLF.
                let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
                if text.ends_with('\r') {
                    // A last line ending in a lone CR: complete its CRLF rather than add to its value.
                    text.push('\n');
                } else if !text.is_empty() && !text.ends_with('\n') {
                    text.push_str(eol);
                }
                text.push_str(&format!("{key}={rendered}{eol}"));
            }
        }
        self.replace_text(text)
    }

    fn replace_text(&mut self, text: String) -> Result<()> {
        *self = Document::parse(self.path.clone(), text).map_err(parse_errors_to_error)?;
        Ok(())
    }

    /// Write the document back atomically (temp file next to the target, then rename;
    /// through a symlink, the target is replaced), keeping the file's permissions.
    pub(crate) fn save(&self) -> Result<()> {
        crate::atomic::write_atomic(&self.path, self.text.as_bytes(), None)
    }

    /// Load `path` (missing is empty), apply `change`, and save, holding the edit lock from
    /// before the read until after the rename, so concurrent edits are not lost.
    pub fn edit<T>(path: &Path, change: impl FnOnce(&mut Document) -> Result<T>) -> Result<T> {
        let _lock = crate::atomic::EditLock::acquire(path)?;
        let mut doc = Document::load_or_empty(path)?;
        let out = change(&mut doc)?;
        doc.save()?;
        Ok(out)
    }
}

/// Parse errors as one [`Error`] (capped at a readable number of lines), with the fix.
pub fn parse_errors_to_error(errors: Vec<ParseError>) -> Error {
    Error::parse(report_capped(&errors))
        .with_hint("fix the line(s) above; each definition is KEY=VALUE, see `envref --help`")
}

/// How many errors one report prints; the rest are counted.
pub(crate) const MAX_REPORTED: usize = 20;

/// One line per item, the first 20 of them, then how many more there are:
/// a generated file with 100k bad lines gives a short report.
pub fn report_capped<T: fmt::Display>(items: &[T]) -> String {
    let mut out = items
        .iter()
        .take(MAX_REPORTED)
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if items.len() > MAX_REPORTED {
        out.push_str(&format!("\n… and {} more", items.len() - MAX_REPORTED));
    }
    out
}

/// Validate a key against `[A-Za-z_][A-Za-z0-9_.-]*`.
pub fn check_key(key: &str) -> Result<()> {
    let mut chars = key.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(is_key_char);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("invalid key {key:?}")).with_hint(
            "keys start with a letter or `_` and contain letters, digits, `_`, `.` or `-`",
        ))
    }
}

/// A line that is not a definition; a multi-line value that is not quoted is the usual cause.
const NO_EQUALS: &str =
    "expected KEY=VALUE, found a line without `=` (a value that spans lines must be quoted)";

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Render `.env` source text for a value: bare when that reads back identically, otherwise
/// double-quoted with `\\`, `\"`, `\n`, `\r`, `\t` escaped (`$` keeps its meaning).
pub fn render_value(source: &str) -> String {
    let bare_ok = !source.is_empty()
        && source
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | '\\' | '#'));
    if bare_ok || source.is_empty() {
        return source.to_string();
    }
    let mut out = String::with_capacity(source.len() + 2);
    out.push('"');
    for c in source.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Quote a literal value (no interpolation) so it reads back byte for byte. A CR goes in
/// double quotes as `\r`: raw, a CRLF inside quotes reads back as LF.
pub(crate) fn render_literal(value: &str) -> String {
    if !value.contains(['\'', '\r']) {
        return format!("'{value}'");
    }
    // Double quotes with `$` escaped as `\$` keep everything literal.
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn duplicate_warnings(path: &Path, entries: &[Entry]) -> Vec<String> {
    // Positions sorted by key (stable: equal keys stay in file order) instead of a map from
    // key to line: 4 bytes per entry, at the moment a large file's text and entries are live.
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    order.sort_by(|&a, &b| entries[a as usize].key.cmp(&entries[b as usize].key));
    // (a later definition, the line of the first one), reported in file order.
    let mut later: Vec<(u32, u32)> = Vec::new();
    for run in order.chunk_by(|&a, &b| entries[a as usize].key == entries[b as usize].key) {
        let first = entries[run[0] as usize].pos.line;
        later.extend(run[1..].iter().map(|&i| (i, first)));
    }
    later.sort_unstable();
    later
        .into_iter()
        .map(|(i, line)| {
            let e = &entries[i as usize];
            format!(
                "{}:{}: duplicate key {} (first defined on line {line}); the last definition wins",
                path.display(),
                e.pos.line,
                e.key
            )
        })
        .collect()
}

/// Line/column of byte offset `at` (clamped to the text).
pub(crate) fn position_at(text: &str, at: usize) -> Position {
    position_from(text, 0, 1, at)
}

/// Line/column of byte offset `at`, counting from `from`, the start of line `line`: the
/// parser passes the line it is on, so each error costs its own line, not the whole file.
fn position_from(text: &str, from: usize, line: u32, at: usize) -> Position {
    let at = at.min(text.len()).max(from);
    let between = &text[from..at];
    let line = line + between.matches('\n').count() as u32;
    let line_start = between.rfind('\n').map_or(from, |i| from + i + 1);
    let col = text[line_start..at].chars().count() as u32 + 1;
    Position { line, col }
}

/// The 1-based column of byte `offset` on the line starting at `line_start`.
fn col_between(text: &str, line_start: usize, offset: usize) -> u32 {
    text[line_start..offset].chars().count() as u32 + 1
}

/// The offset of the quote `qchar` that closes a body starting at `from`; in double quotes a
/// backslash escapes the next character.
fn closing_quote(text: &str, from: usize, qchar: char, escapes: bool) -> Option<usize> {
    let mut q = from;
    loop {
        let c = text[q..].chars().next()?;
        if c == qchar {
            return Some(q);
        }
        if c == '\\' && escapes {
            q += 1;
            if let Some(n) = text[q..].chars().next() {
                q += n.len_utf8();
            }
            continue;
        }
        q += c.len_utf8();
    }
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    entries: Vec<Entry>,
    errors: Vec<ParseError>,
    /// Start offset and number of the line being parsed.
    line_start: usize,
    line_no: u32,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Parser {
            path,
            text,
            entries: Vec::new(),
            errors: Vec::new(),
            line_start: 0,
            line_no: 1,
        }
    }

    /// An error at byte `at`, which is on the current line or after it.
    fn error(&mut self, at: usize, message: impl Into<Cow<'static, str>>) {
        let pos = position_from(self.text, self.line_start, self.line_no, at);
        self.errors.push(ParseError {
            location: Location {
                path: self.path.into(),
                pos,
            },
            message: message.into(),
        });
    }

    fn run(mut self) -> (Vec<Entry>, Vec<ParseError>) {
        let (mut entries, errors) = self.parse_lines();
        // Growth leaves up to twice the room needed; a document may live as long as the run.
        entries.shrink_to_fit();
        (entries, errors)
    }

    fn parse_lines(&mut self) -> (Vec<Entry>, Vec<ParseError>) {
        let text = self.text;
        let mut i = if text.starts_with('\u{feff}') { 3 } else { 0 };
        // Line numbers are tracked incrementally: recomputing from the start would be quadratic.
        let mut line: u32 = 1;
        while i < text.len() {
            let line_end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            (self.line_start, self.line_no) = (i, line);
            let next = match self.line(i, line_end, line) {
                Some(next) => next,
                None => break, // unrecoverable (unterminated quote): stop here
            };
            line += text[i..next].matches('\n').count() as u32;
            i = next;
        }
        (
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.errors),
        )
    }

    /// Parse the definition starting at `start`; returns the offset of the next line.
    fn line(&mut self, start: usize, line_end: usize, line_no: u32) -> Option<usize> {
        let text = self.text;
        let after_line = (line_end + 1).min(text.len());
        let content_end = if text[start..line_end].ends_with('\r') {
            line_end - 1
        } else {
            line_end
        };
        // Blank and comment lines, and lines whose key is reported, end here.
        let Some((key, key_start, eq_end)) = self.key(start, content_end) else {
            return Some(after_line);
        };
        let mut p = eq_end;
        while text[p..content_end].starts_with(is_blank) {
            p += 1;
        }
        let pos = Position {
            line: line_no,
            col: col_between(text, start, key_start),
        };
        let quote = match text[p..content_end].chars().next() {
            Some('\'') => Quote::Single,
            Some('"') => Quote::Double,
            Some('`') => Quote::Backtick,
            _ => Quote::None,
        };
        if quote == Quote::None {
            return self.unquoted(key, pos, eq_end, p, content_end, line_no, after_line);
        }
        self.quoted(key, quote, pos, start, p)
    }

    /// The key of the line at `start` (after an optional `export`) and the `=` after it:
    /// `(key, key start, offset after the =)`. `None` for a blank or comment line, and after
    /// reporting a line without a valid `KEY=`.
    fn key(&mut self, start: usize, content_end: usize) -> Option<(String, usize, usize)> {
        let text = self.text;
        let content = &text[start..content_end];
        let trimmed = content.trim_start_matches(is_blank);
        let mut p = start + (content.len() - trimmed.len());
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix("export") {
            if rest.starts_with(is_blank) {
                let rest2 = rest.trim_start_matches(is_blank);
                p += trimmed.len() - rest2.len();
            }
        }
        let key_start = p;
        // Until `KEY=` is recognised the line may be value text (an unquoted multi-line value,
        // a pasted token): messages name no part of it.
        if !text[p..content_end].contains('=') {
            self.error(p, NO_EQUALS);
            return None;
        }
        let first = text[p..content_end].chars().next();
        if !matches!(first, Some(c) if c.is_ascii_alphabetic() || c == '_') {
            let message = if text[p..content_end].starts_with('=') {
                "missing key before `=`"
            } else {
                "invalid key: keys start with a letter or `_`"
            };
            self.error(p, message);
            return None;
        }
        p += text[p..content_end]
            .find(|c| !is_key_char(c))
            .unwrap_or(content_end - p);
        let key = text[key_start..p].to_string();
        while text[p..content_end].starts_with(is_blank) {
            p += 1;
        }
        if !text[p..content_end].starts_with('=') {
            let message = "invalid character in key: keys contain letters, digits, `_`, `.` or `-`";
            self.error(p, message);
            return None;
        }
        Some((key, key_start, p + 1))
    }

    /// A quoted value opening at `open`, on the line that starts at `start`; returns the
    /// offset of the line after the closing quote (`None` when there is none).
    fn quoted(
        &mut self,
        key: String,
        quote: Quote,
        pos: Position,
        start: usize,
        open: usize,
    ) -> Option<usize> {
        let text = self.text;
        let qchar = text.as_bytes()[open] as char;
        let Some(close) = closing_quote(text, open + 1, qchar, quote == Quote::Double) else {
            let kind = match quote {
                Quote::Single => "single",
                Quote::Double => "double",
                _ => "backtick",
            };
            self.error(
                open,
                format!("unterminated {kind}-quoted value for key {key}: add the closing {qchar}"),
            );
            return None;
        };
        // After the closing quote: only blanks and a comment.
        let close_line_end = text[close..].find('\n').map_or(text.len(), |n| close + n);
        let next_line = (close_line_end + 1).min(text.len());
        let rest_end = if text[close..close_line_end].ends_with('\r') {
            close_line_end - 1
        } else {
            close_line_end
        };
        let after = &text[close + 1..rest_end];
        let after_trim = after.trim_start_matches(is_blank);
        if !after_trim.is_empty() && !after_trim.starts_with('#') {
            let at = close + 1 + (after.len() - after_trim.len());
            self.error(at, format!("unexpected text after the closing quote of {key}: only a `# comment` may follow"));
            return Some(next_line);
        }
        let raw = &text[open + 1..close];
        let body: Cow<str> = if raw.contains("\r\n") {
            Cow::Owned(raw.replace("\r\n", "\n"))
        } else {
            Cow::Borrowed(raw)
        };
        let value_col = col_between(text, start, open);
        let value_pos = Position {
            line: pos.line,
            col: value_col,
        };
        let body_pos = Position {
            line: pos.line,
            col: value_col + 1,
        };
        self.push_entry(key, quote, &body, pos, value_pos, body_pos, open..close + 1);
        Some(next_line)
    }

    #[allow(clippy::too_many_arguments)]
    fn unquoted(
        &mut self,
        key: String,
        pos: Position,
        eq_end: usize,
        value_start: usize,
        content_end: usize,
        line_no: u32,
        after_line: usize,
    ) -> Option<usize> {
        let text = self.text;
        // `#` starts a comment only after a blank (`a#b` is a value); the blank may be the
        // one that followed `=`.
        let raw = &text[eq_end..content_end];
        let mut cut = raw.len();
        let mut prev_blank = false;
        for (i, c) in raw.char_indices() {
            if c == '#' && prev_blank {
                cut = i;
                break;
            }
            prev_blank = is_blank(c);
        }
        let value_end = eq_end + raw[..cut].trim_end_matches(is_blank).len();
        let (span, body) = if value_start >= value_end {
            (eq_end..eq_end, "")
        } else {
            (value_start..value_end, &text[value_start..value_end])
        };
        let col = text[..span.start]
            .rfind('\n')
            .map_or(span.start, |n| span.start - n - 1);
        let line_start = span.start - col;
        let value_pos = Position {
            line: line_no,
            col: text[line_start..span.start].chars().count() as u32 + 1,
        };
        self.push_entry(key, Quote::None, body, pos, value_pos, value_pos, span);
        Some(after_line)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_entry(
        &mut self,
        key: String,
        quote: Quote,
        body: &str,
        pos: Position,
        value_pos: Position,
        body_pos: Position,
        span: Range<usize>,
    ) {
        let value = if crate::reference::starts_reference(body) {
            match Reference::parse(body) {
                Ok(r) => Value::Reference(Box::new(r)),
                Err(msg) => {
                    let location = Location {
                        path: self.path.into(),
                        pos: body_pos,
                    };
                    self.errors.push(ParseError {
                        location,
                        message: format!("{key}: {msg}").into(),
                    });
                    return;
                }
            }
        } else {
            match template::parse(body, quote, body_pos) {
                Ok(t) => Value::Template(t),
                Err((at, msg)) => {
                    let location = Location {
                        path: self.path.into(),
                        pos: at,
                    };
                    self.errors.push(ParseError {
                        location,
                        message: format!("{key}: {msg}").into(),
                    });
                    return;
                }
            }
        };
        self.entries.push(Entry {
            key,
            quote,
            value,
            pos,
            value_pos,
            span,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Document {
        Document::parse("t.env", text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn err(text: &str) -> String {
        Document::parse("t.env", text).unwrap_err()[0].to_string()
    }

    fn lit(doc: &Document, key: &str) -> String {
        match &doc.get(key).unwrap().value {
            Value::Template(t) => t.as_literal().expect("literal").to_string(),
            Value::Reference(r) => r.to_string(),
        }
    }

    #[test]
    fn forms() {
        let d = parse("\u{feff}A=1\r\nexport B = two words  # c\nC='x $Y'\nD=\"l1\\nl2\"\nE=`a\nb`\nF=a#b\nG= #c\nH=\n");
        assert_eq!(lit(&d, "A"), "1");
        assert_eq!(lit(&d, "B"), "two words");
        assert_eq!(lit(&d, "C"), "x $Y");
        assert_eq!(lit(&d, "D"), "l1\nl2");
        assert_eq!(lit(&d, "E"), "a\nb");
        assert_eq!(lit(&d, "F"), "a#b");
        assert_eq!(lit(&d, "G"), "");
        assert_eq!(lit(&d, "H"), "");
    }

    #[test]
    fn errors_have_positions_and_no_values() {
        assert_eq!(err("A=1\nJUSTAKEY\n"), format!("t.env:2:1: {NO_EQUALS}"));
        assert_eq!(
            err("  1A=x\n"),
            "t.env:1:3: invalid key: keys start with a letter or `_`"
        );
        let e = err("A=\"hunter2\" trailing\n");
        assert!(e.starts_with("t.env:1:13:"), "{e}");
        assert!(!e.contains("hunter2"));
        let e = err("A=1\nB='hunter2\n");
        assert!(
            e.starts_with("t.env:2:3: unterminated single-quoted value for key B"),
            "{e}"
        );
        assert!(!e.contains("hunter2"));
    }

    /// Lines that are not definitions are value text (a pasted token, an unquoted PEM body):
    /// no part of them, not even the would-be key, reaches the message.
    #[test]
    fn non_definitions_are_not_quoted() {
        let cases = [
            ("ghp_SECRETtoken\n", "1:1: expected KEY=VALUE"),
            ("ghp_SECRETtoken # mine\n", "1:1: expected KEY=VALUE"),
            ("ghp_SECRET token\n", "1:1: expected KEY=VALUE"),
            (
                "K=-----BEGIN KEY-----\nMIIEvSECRET\nAbSECRET+/x==\n-----END KEY-----\n",
                "2:1: expected KEY=VALUE",
            ),
            ("A=1\nSECRET: x=y\n", "2:7: invalid character in key"),
        ];
        for (text, want) in cases {
            let errors = Document::parse("t.env", text).unwrap_err();
            let all: String = errors.iter().map(|e| format!("{e}\n")).collect();
            assert!(all.contains(want), "{text:?}: {all}");
            assert!(!all.contains("SECRET"), "{text:?}: {all}");
        }
        let errors = Document::parse(
            "t.env",
            "K=-----BEGIN KEY-----\nMIIEvSECRET\nAbSECRET+/x==\n-----END KEY-----\n",
        )
        .unwrap_err();
        let lines: Vec<String> = errors.iter().map(|e| e.location.pos.to_string()).collect();
        assert_eq!(lines, ["2:1", "3:9", "4:1"]);
    }

    #[test]
    fn debug_shows_no_value_text() {
        let d = parse("A=SECRET\nB='SECRET'\nC=\"x${SECRET:-SECRET}\"\n");
        let shown = format!("{d:?}");
        assert!(
            shown.contains("\"A\"") && !shown.contains("SECRET"),
            "{shown}"
        );
    }

    #[test]
    fn duplicates_warn() {
        let d = parse("A=1\nB=2\nA=3\n");
        assert_eq!(lit(&d, "A"), "3");
        assert_eq!(d.warnings().len(), 1);
        assert!(d.warnings()[0].contains("t.env:3: duplicate key A (first defined on line 1)"));
    }

    #[test]
    fn set_changes_one_value_only() {
        let src = "# top\n\nexport A = 'old'   # keep\nB=\"x\"\n";
        let mut d = parse(src);
        d.set("A", "new value").unwrap();
        assert_eq!(
            d.text(),
            "# top\n\nexport A = \"new value\"   # keep\nB=\"x\"\n"
        );
        d.set("C", "z").unwrap();
        assert!(d.text().ends_with("B=\"x\"\nC=z\n"));
        d.set("E", "").unwrap();
        d.set("E", "v").unwrap();
        assert!(d.text().ends_with("E=v\n"), "{}", d.text());
    }
}
