//! Interpolation syntax of unquoted and double-quoted values: `${NAME}`, `$NAME`,
//! `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `$$`, `${ref://…}` and
//! `${op://…}`, and bare embedded references (`postgres://ref://secrets/u:…`) as the Go envref
//! reads them: from `ref://` over `[A-Za-z0-9/_.-]`, left as text when that does not parse.
//! Double-quoted values also take the escapes `\n \r \t \\ \" \$`.
//!
//! Parsing happens once, when the file is read, so syntax errors are parse errors with a
//! position. Evaluation is in [`crate::evaluate`].

use std::fmt;

use crate::dotenv::{Position, Quote};
use crate::reference::{starts_reference, Reference, PREFIX};

/// The fix when a `$` was meant literally (a password containing `$` is the usual case).
pub(crate) const LITERAL_DOLLAR: &str =
    "to keep a `$` literal, single-quote the value or write `$$`";

/// How deep `${A:-${B:-…}}` defaults may nest. Parsing, evaluating and dropping a template
/// recurse once per level, so the limit keeps hostile input from overflowing the stack.
pub(crate) const MAX_NESTING: usize = 32;

/// Most values are one literal: that case is stored inline, without a segment list, so a
/// parsed `.env` costs about one allocation per value (a 100k-line file stays small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    One(Segment),
    Many(Box<[Segment]>),
}

impl Default for Template {
    fn default() -> Template {
        Template {
            repr: Repr::Many(Box::default()),
        }
    }
}

/// 24 bytes: the rare big variants are boxed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Lit(Text),
    Var(Box<VarUse>),
    Ref(Box<Reference>, Position),
}

/// Literal text. Up to [`Text::INLINE`] bytes are stored in place: most literals of a `.env`
/// are short, and a separate allocation would cost more than the text.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Text(TextRepr);

#[derive(Clone, PartialEq, Eq)]
enum TextRepr {
    /// Length and bytes (zero-padded, so equal texts compare equal).
    Inline(u8, [u8; Text::INLINE]),
    Heap(Box<str>),
}

impl Text {
    /// The most that fits in 24 bytes next to the length and the variant.
    pub(crate) const INLINE: usize = 22;
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        if s.len() > Text::INLINE {
            return Text(TextRepr::Heap(s.into()));
        }
        let mut buf = [0; Text::INLINE];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        Text(TextRepr::Inline(s.len() as u8, buf))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        if s.len() > Text::INLINE {
            return Text(TextRepr::Heap(s.into_boxed_str()));
        }
        Text::from(s.as_str())
    }
}

// Like `Segment`: the size, never the text.
impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({} bytes)", self.len())
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            TextRepr::Inline(len, buf) => {
                std::str::from_utf8(&buf[..usize::from(*len)]).expect("built from a str")
            }
            TextRepr::Heap(s) => s,
        }
    }
}

/// A use of a variable in a template: `$NAME`, `${NAME}`, `${NAME:-default}`, …
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct VarUse {
    pub name: Text,
    pub op: VarOp,
    pub pos: Position,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum VarOp {
    Plain,
    /// `${NAME:-default}`: default when unset or empty.
    DefaultIfEmpty(Template),
    /// `${NAME-default}`: default when unset.
    DefaultIfUnset(Template),
    /// `${NAME:?message}`: error when unset or empty.
    ErrorIfEmpty(String),
}

// `Debug` (panics, logs) shows no value text: literals, names and messages by size only.
impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Lit(s) => write!(f, "Lit({} bytes)", s.len()),
            Segment::Var(v) => f.debug_tuple("Var").field(v).finish(),
            Segment::Ref(r, pos) => f.debug_tuple("Ref").field(r).field(pos).finish(),
        }
    }
}

impl fmt::Debug for VarUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VarUse {{ name: {} bytes, op: {:?}, pos: {} }}",
            self.name.len(),
            self.op,
            self.pos
        )
    }
}

impl fmt::Debug for VarOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarOp::Plain => f.write_str("Plain"),
            VarOp::DefaultIfEmpty(t) => f.debug_tuple("DefaultIfEmpty").field(t).finish(),
            VarOp::DefaultIfUnset(t) => f.debug_tuple("DefaultIfUnset").field(t).finish(),
            VarOp::ErrorIfEmpty(m) => write!(f, "ErrorIfEmpty({} bytes)", m.len()),
        }
    }
}

impl Template {
    /// A template of the text `s`, taken literally.
    pub fn literal(s: impl Into<String>) -> Template {
        let s = s.into();
        if s.is_empty() {
            return Template::default();
        }
        Template {
            repr: Repr::One(Segment::Lit(s.into())),
        }
    }

    fn from_segments(mut segments: Vec<Segment>) -> Template {
        match segments.len() {
            1 => Template {
                repr: Repr::One(segments.pop().expect("one segment")),
            },
            _ => Template {
                repr: Repr::Many(segments.into_boxed_slice()),
            },
        }
    }

    /// The literal text, variables and references, in order.
    pub(crate) fn segments(&self) -> &[Segment] {
        match &self.repr {
            Repr::One(seg) => std::slice::from_ref(seg),
            Repr::Many(segs) => segs,
        }
    }

    /// The text if the template has no variables or references.
    pub fn as_literal(&self) -> Option<&str> {
        match self.segments() {
            [] => Some(""),
            [Segment::Lit(s)] => Some(&**s),
            _ => None,
        }
    }

    /// Every reference the template uses (`${ref://…}`, `${op://…}`, bare embedded), in order.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.visit(&mut |seg| {
            if let Segment::Ref(r, _) = seg {
                out.push(&**r);
            }
        });
        out
    }

    /// Names of the variables used, defaults included.
    #[cfg(feature = "backends")]
    pub(crate) fn variables(&self) -> Vec<&VarUse> {
        let mut out = Vec::new();
        self.visit(&mut |seg| {
            if let Segment::Var(v) = seg {
                out.push(&**v);
            }
        });
        out
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Segment)) {
        for seg in self.segments() {
            f(seg);
            if let Segment::Var(v) = seg {
                if let VarOp::DefaultIfEmpty(t) | VarOp::DefaultIfUnset(t) = &v.op {
                    t.visit(f);
                }
            }
        }
    }
}

/// Parse a value body. `start` is the position of its first character.
pub(crate) fn parse(
    body: &str,
    quote: Quote,
    start: Position,
) -> Result<Template, (Position, String)> {
    match quote {
        Quote::Single | Quote::Backtick => Ok(Template::literal(body)),
        // Most values have nothing to interpolate: one exact-size literal.
        Quote::None if !body.contains('$') && !body.contains(PREFIX) => Ok(Template::literal(body)),
        Quote::Double if !body.contains(['$', '\\']) && !body.contains(PREFIX) => {
            Ok(Template::literal(body))
        }
        Quote::None | Quote::Double => {
            let mut s = Scanner {
                src: body,
                i: 0,
                pos: start,
                escapes: quote == Quote::Double,
                depth: 0,
            };
            let t = s.template(false)?;
            Ok(t)
        }
    }
}

/// A `${` opened at `at` that is not closed.
fn unterminated(at: Position) -> (Position, String) {
    (
        at,
        format!("unterminated `${{`: add the closing `}}`; {LITERAL_DOLLAR}"),
    )
}

/// The literal text gathered so far, as a segment.
fn flush(lit: &mut String, segments: &mut Vec<Segment>) {
    if !lit.is_empty() {
        segments.push(Segment::Lit(lit.as_str().into()));
        lit.clear();
    }
}

struct Scanner<'a> {
    src: &'a str,
    i: usize,
    pos: Position,
    escapes: bool,
    /// `${…}` levels open around the current position.
    depth: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.i..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.i..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    /// Parse until the end, or until an unmatched `}` when `nested`.
    fn template(&mut self, nested: bool) -> Result<Template, (Position, String)> {
        let mut segments = Vec::new();
        let mut lit = String::new();
        while let Some(c) = self.peek() {
            match c {
                '}' if nested => break,
                '\\' if self.escapes => {
                    self.bump();
                    self.escape(&mut lit);
                }
                '$' => {
                    if let Some(segment) = self.dollar(&mut lit)? {
                        flush(&mut lit, &mut segments);
                        segments.push(segment);
                    }
                }
                'r' if self.src[self.i..].starts_with(PREFIX) => {
                    if let Some(segment) = self.embedded(&mut lit) {
                        flush(&mut lit, &mut segments);
                        segments.push(segment);
                    }
                }
                _ => {
                    self.bump();
                    lit.push(c);
                }
            }
        }
        flush(&mut lit, &mut segments);
        // One segment is stored inline, more as an exact-size slice (Vec growth leaves room for 4).
        Ok(Template::from_segments(segments))
    }

    /// At `ref://`: the embedded reference that starts here, or `None` after adding the
    /// `ref://` to `lit` (it starts no valid reference; the rest is scanned on).
    fn embedded(&mut self, lit: &mut String) -> Option<Segment> {
        let at = self.pos;
        let found = Reference::embedded_at(self.src, self.i);
        let end = match &found {
            Some((_, end)) => *end,
            None => self.i + PREFIX.len(),
        };
        while self.i < end {
            self.bump();
        }
        match found {
            Some((r, _)) => Some(Segment::Ref(Box::new(r), at)),
            None => {
                lit.push_str(PREFIX);
                None
            }
        }
    }

    /// After a `\` in double quotes: the escaped character; others keep their backslash.
    fn escape(&mut self, lit: &mut String) {
        let Some(c) = self.peek() else {
            lit.push('\\');
            return;
        };
        match c {
            'n' => lit.push('\n'),
            'r' => lit.push('\r'),
            't' => lit.push('\t'),
            '\\' | '"' | '$' => lit.push(c),
            other => {
                lit.push('\\');
                lit.push(other);
            }
        }
        self.bump();
    }

    /// At a `$`: a variable or reference segment, or `None` after adding a literal `$` to `lit`
    /// (`$$`, or a `$` that starts nothing).
    fn dollar(&mut self, lit: &mut String) -> Result<Option<Segment>, (Position, String)> {
        let at = self.pos;
        match self.peek2() {
            Some('$') => {
                self.bump();
                self.bump();
                lit.push('$');
                Ok(None)
            }
            Some('{') => self.braced(at).map(Some),
            Some(n) if n.is_ascii_alphabetic() || n == '_' => {
                self.bump();
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
                    self.bump();
                }
                let name = self.src[start..self.i].into();
                let var = VarUse {
                    name,
                    op: VarOp::Plain,
                    pos: at,
                };
                Ok(Some(Segment::Var(Box::new(var))))
            }
            _ => {
                self.bump();
                lit.push('$');
                Ok(None)
            }
        }
    }

    /// `${…}` starting at `$`.
    fn braced(&mut self, at: Position) -> Result<Segment, (Position, String)> {
        if self.depth >= MAX_NESTING {
            return Err((at, format!("`${{…}}` defaults nested more than {MAX_NESTING} deep: use a variable for the inner default")));
        }
        self.depth += 1;
        let segment = self.braced_body(at);
        self.depth -= 1;
        segment
    }

    fn braced_body(&mut self, at: Position) -> Result<Segment, (Position, String)> {
        self.bump();
        self.bump();
        let unterminated = || unterminated(at);
        if starts_reference(&self.src[self.i..]) {
            let start = self.i;
            let end = self.src[start..]
                .find('}')
                .map(|n| start + n)
                .ok_or_else(unterminated)?;
            let r = Reference::parse(&self.src[start..end]).map_err(|m| (at, m))?;
            while self.i < end {
                self.bump();
            }
            self.bump();
            return Ok(Segment::Ref(Box::new(r), at));
        }
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            self.bump();
        }
        let name: Text = self.src[start..self.i].into();
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return Err((
                at,
                format!("expected a variable name after `${{`; {LITERAL_DOLLAR}"),
            ));
        }
        let op = self.var_op(at)?;
        if self.peek() != Some('}') {
            return Err(unterminated());
        }
        self.bump();
        Ok(Segment::Var(Box::new(VarUse { name, op, pos: at })))
    }
    /// What follows the name in `${NAME…}`: nothing, `:-default`, `-default` or `:?message`.
    fn var_op(&mut self, at: Position) -> Result<VarOp, (Position, String)> {
        let unterminated = || unterminated(at);
        Ok(match (self.peek(), self.peek2()) {
            (Some('}'), _) => VarOp::Plain,
            (Some(':'), Some('-')) => {
                self.bump();
                self.bump();
                VarOp::DefaultIfEmpty(self.template(true)?)
            }
            (Some('-'), _) => {
                self.bump();
                VarOp::DefaultIfUnset(self.template(true)?)
            }
            (Some(':'), Some('?')) => {
                self.bump();
                self.bump();
                let start = self.i;
                while matches!(self.peek(), Some(c) if c != '}') {
                    self.bump();
                }
                VarOp::ErrorIfEmpty(self.src[start..self.i].to_string())
            }
            (None, _) => return Err(unterminated()),
            (Some(_), _) => {
                return Err((
                    self.pos,
                    format!("unexpected character in `${{…}}`: use ${{NAME}}, ${{NAME:-default}}, ${{NAME-default}} or ${{NAME:?message}}; {LITERAL_DOLLAR}"),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Template {
        parse(s, Quote::None, Position { line: 1, col: 1 }).unwrap()
    }

    #[test]
    fn syntax() {
        let t = p("a${B}c$D$$e${F:-x${G}}${H-y}${I:?need I}$1");
        let names: Vec<_> = t.variables().iter().map(|v| v.name.to_string()).collect();
        assert_eq!(names, ["B", "D", "F", "G", "H", "I"]);
        assert_eq!(t.segments().last(), Some(&Segment::Lit("$1".into())));
        let t = p("postgres://${ref://secrets/db_user}:${ref://secrets/db_pass}@localhost/app");
        assert_eq!(t.references().len(), 2);
        let t = parse(r#"a\$B\n\q"#, Quote::Double, Position { line: 1, col: 1 }).unwrap();
        assert_eq!(t.as_literal(), Some("a$B\n\\q"));
    }

    /// Bare embedded references, the Go envref's cases: resolved where the text is
    /// interpolated, text where quoting keeps it literal or where it is not a reference.
    #[test]
    fn embedded_references() {
        let refs = |body: &str, quote| -> Vec<String> {
            let t = parse(body, quote, Position { line: 1, col: 1 }).unwrap();
            t.references().iter().map(|r| r.to_string()).collect()
        };
        let url = "postgres://ref://secrets/db_user:ref://secrets/db_pass@localhost/app";
        let both = ["ref://secrets/db_user", "ref://secrets/db_pass"];
        assert_eq!(refs(url, Quote::None), both);
        assert_eq!(refs(url, Quote::Double), both);
        assert!(refs(url, Quote::Single).is_empty());
        assert!(refs(url, Quote::Backtick).is_empty());
        assert_eq!(
            refs("Hello ref://secrets/name!", Quote::None),
            ["ref://secrets/name"]
        );
        assert_eq!(
            refs(
                "a=ref://x//raw/N&b=${ref://secrets/k}&c=${op://V/i/f}",
                Quote::None
            ),
            ["ref://x//raw/N", "ref://secrets/k", "op://V/i/f"]
        );
        assert_eq!(
            refs("${A:-ref://secrets/d}", Quote::None),
            ["ref://secrets/d"]
        );
        // Look-alikes stay text, and scanning goes on after them.
        let t = p("see ref://secrets and ref://ref://secrets/k.");
        assert_eq!(t.references().len(), 1);
        assert_eq!(t.references()[0].key, "k.");
        let t = p("x ref://secrets/ y");
        assert_eq!(t.as_literal(), Some("x ref://secrets/ y"));
        // Positions point at the reference, for messages.
        let t = p("ab ref://secrets/k");
        assert!(matches!(
            t.segments()[1],
            Segment::Ref(_, Position { line: 1, col: 4 })
        ));
    }

    /// Segments and templates stay small: a 100k-line file holds 100k of them.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn sizes() {
        assert_eq!(std::mem::size_of::<Segment>(), 24);
        assert_eq!(std::mem::size_of::<Template>(), 24);
        let short = Text::from("x".repeat(Text::INLINE));
        let long = Text::from("x".repeat(Text::INLINE + 1));
        assert!(matches!(short.0, TextRepr::Inline(..)) && matches!(long.0, TextRepr::Heap(_)));
        assert_eq!(
            (&*short, &*long),
            (&*"x".repeat(Text::INLINE), &*"x".repeat(Text::INLINE + 1))
        );
        assert_eq!(Text::from("é"), Text::from(String::from("é")));
    }

    #[test]
    fn errors() {
        let e = parse("ab${X", Quote::None, Position { line: 3, col: 5 }).unwrap_err();
        assert_eq!(e.0, Position { line: 3, col: 7 });
        assert!(parse("${}", Quote::None, Position::default()).is_err());
        assert!(parse("${A+b}", Quote::None, Position::default()).is_err());
        // No part of the value, not even the would-be name, is quoted; the hint is.
        for bad in ["pw${SECRET!}", "pw${SECRET", "pw${9SECRET}", "pw${}SECRET"] {
            let (_, msg) = parse(bad, Quote::Double, Position { line: 1, col: 1 }).unwrap_err();
            assert!(
                !msg.contains("SECRET") && msg.contains(LITERAL_DOLLAR),
                "{bad}: {msg}"
            );
        }
        let t = p("a${SECRET:-SECRET}$SECRET${X:?SECRET}${ref://secrets/k}");
        assert!(!format!("{t:?}").contains("SECRET"), "{t:?}");
        let e = parse("ab${SECRET!}", Quote::None, Position { line: 2, col: 3 }).unwrap_err();
        assert_eq!(e.0, Position { line: 2, col: 13 }, "points at the `!`");
    }
}
