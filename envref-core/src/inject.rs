//! `envref inject`: templates for files that cannot read environment variables (`config.yml`,
//! `docker-compose.override.yml`). Every `{{ ref://secrets/k }}` (blanks inside the braces
//! optional) becomes the resolved value; every other byte passes through as is. `\{{` is a
//! literal `{{`. Rendering is all or nothing: one reference that does not resolve and nothing
//! is produced.
//!
//! The scanner knows tags by their scheme ([`SCHEMES`]); a `{{` followed by anything else is
//! text, so other template languages' `{{ … }}` survive.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::dotenv::Position;
use crate::reference::Reference;
use crate::{Error, Result};

/// The schemes a tag may use: envref's references and 1Password's (as `op inject` reads them).
pub const SCHEMES: &[&str] = &[crate::reference::PREFIX, crate::reference::OP_PREFIX];

/// A parsed template: text and references in order.
pub struct Template {
    pieces: Vec<Piece>,
}

enum Piece {
    Text(String),
    Ref(Reference, Position),
}

impl Template {
    /// Parse `text` (the content of `path`). Errors name `path:line:col` and never the text of
    /// a tag beyond its scheme.
    pub fn parse(path: &Path, text: &str) -> Result<Template> {
        let mut pieces = Vec::new();
        let mut text_start = 0;
        let mut i = 0;
        let mut literal = String::new();
        while let Some(off) = text[i..].find("{{") {
            let open = i + off;
            if text[..open].ends_with('\\') {
                // `\{{`: the backslash goes, the braces stay.
                literal.push_str(&text[text_start..open - 1]);
                literal.push_str("{{");
                text_start = open + 2;
                i = open + 2;
                continue;
            }
            let inner_start = open + 2;
            let body = text[inner_start..].trim_start_matches([' ', '\t']);
            if !SCHEMES.iter().any(|s| body.starts_with(s)) {
                i = inner_start;
                continue;
            }
            let at = |offset: usize| position(path, text, offset);
            let Some(close) = text[inner_start..].find("}}").map(|c| inner_start + c) else {
                return Err(Error::parse(format!("{}: {{{{ is never closed", at(open)))
                    .with_hint("end the tag with }}, e.g. {{ ref://secrets/api_key }}"));
            };
            let uri = text[inner_start..close].trim_matches([' ', '\t']);
            let reference = Reference::parse(uri).map_err(|m| {
                Error::parse(format!("{}: {m}", at(open)))
                    .with_hint("a tag is {{ ref://secrets/<key> }}, {{ ref://<backend>/<key> }} or {{ op://<vault>/<item>/<field> }}; write \\{{ for a literal {{")
            })?;
            literal.push_str(&text[text_start..open]);
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
            pieces.push(Piece::Ref(reference, at(open).pos));
            text_start = close + 2;
            i = close + 2;
        }
        literal.push_str(&text[text_start..]);
        pieces.push(Piece::Text(literal));
        Ok(Template { pieces })
    }

    /// Every reference the template uses, in order of appearance (duplicates included).
    pub fn references(&self) -> Vec<Reference> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Ref(r, _) => Some(r.clone()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// The template with every reference replaced by its value, or every reference (with its
    /// position) that has none.
    pub fn render(
        &self,
        values: &HashMap<Reference, SecretString>,
    ) -> std::result::Result<SecretString, Vec<(Position, Reference)>> {
        let mut out = String::new();
        let mut missing = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(r, pos) => match values.get(r) {
                    Some(v) => out.push_str(v.expose_secret()),
                    None => missing.push((*pos, r.clone())),
                },
            }
        }
        if missing.is_empty() {
            Ok(SecretString::from(out))
        } else {
            Err(missing)
        }
    }
}

/// A template rendered with the project's secrets.
pub struct Rendered {
    /// The output text (it holds secret values).
    pub text: SecretString,
    /// How many tags were replaced.
    pub tags: usize,
    /// The chain's warnings (a backend skipped, …).
    pub warnings: Vec<String>,
}

/// Render the template read from `path` with the values of its references, asked of the
/// chain once each; `backends` is built only when there is a tag. All or nothing: an error
/// lists every tag (`path:line:col`) that did not resolve, and why.
pub fn render_with_project(
    template: &Template,
    path: &Path,
    project: &crate::project::Project,
    backends: impl FnOnce() -> Result<Vec<Box<dyn crate::backend::Backend>>>,
) -> Result<Rendered> {
    let mut refs = template.references();
    let tags = refs.len();
    refs.sort();
    refs.dedup();
    let lookups = if refs.is_empty() {
        Default::default()
    } else {
        crate::resolve::lookup(&refs, &backends()?, &project.namespace())
    };
    match template.render(&lookups.secrets) {
        Ok(text) => Ok(Rendered {
            text,
            tags,
            warnings: lookups.warnings,
        }),
        Err(missing) => Err(unresolved_tags(path, &missing, &lookups)),
    }
}

fn unresolved_tags(
    path: &Path,
    missing: &[(Position, Reference)],
    lookups: &crate::resolve::Lookups,
) -> Error {
    let lines: Vec<String> = missing
        .iter()
        .map(|(pos, r)| {
            let why = lookups.failures.get(r).map(|w| w.join("; "));
            let why = why.unwrap_or_else(|| "not found".into());
            format!("  {}:{pos}: {r}: {why}", path.display())
        })
        .collect();
    let mut hints = lookups.hints.clone();
    hints.push("store a missing secret with `envref secret set <key>`".into());
    Error::unresolved(format!(
        "{} tag(s) could not be resolved, nothing was written:\n{}",
        missing.len(),
        lines.join("\n")
    ))
    .with_hint(hints.join("\n      "))
}

/// `path:line:col` of a byte offset (columns in characters, from 1).
fn position(path: &Path, text: &str, offset: usize) -> crate::dotenv::Location {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let col = before[line_start..].chars().count() + 1;
    crate::dotenv::Location {
        path: Arc::from(path),
        pos: Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> HashMap<Reference, SecretString> {
        pairs
            .iter()
            .map(|(r, v)| {
                (
                    Reference::parse(r).unwrap(),
                    SecretString::from(v.to_string()),
                )
            })
            .collect()
    }

    fn render(text: &str, pairs: &[(&str, &str)]) -> String {
        let t = Template::parse(Path::new("/p/c.tpl"), text).unwrap();
        t.render(&values(pairs))
            .ok()
            .unwrap()
            .expose_secret()
            .to_string()
    }

    #[test]
    fn tags_are_replaced_and_everything_else_passes() {
        let v = [("ref://secrets/k", "V1"), ("ref://vault/db", "multi\nline")];
        assert_eq!(
            render(
                "a: {{ref://secrets/k}}\nb: {{  ref://vault/db\t}} {{ref://secrets/k }}\r\n",
                &v
            ),
            "a: V1\nb: multi\nline V1\r\n"
        );
        // 1Password's tags, as `op inject` reads them, names with spaces included.
        let op = [("op://Eng/Stripe Key/credential", "sk_live")];
        assert_eq!(
            render("k: {{ op://Eng/Stripe Key/credential }}\n", &op),
            "k: sk_live\n"
        );
        // Other templates' tags, lone braces and backslashes elsewhere are text.
        let other = "x: ${{ github.token }} {{ .Values.x }} {{ } }} \\n {";
        assert_eq!(render(other, &v), other);
        // `\{{` is a literal `{{`, even before a reference.
        assert_eq!(
            render("\\{{ ref://secrets/k }} {{ref://secrets/k}}", &v),
            "{{ ref://secrets/k }} V1"
        );
    }

    #[test]
    fn errors_name_the_place() {
        let p = Path::new("/p/c.tpl");
        let e = Template::parse(p, "ok\n  x: {{ ref://secrets/k")
            .err()
            .unwrap();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert!(
            e.message().starts_with("/p/c.tpl:2:6: {{ is never closed"),
            "{}",
            e.message()
        );
        let e = Template::parse(p, "{{ ref://secrets/bad key }}")
            .err()
            .unwrap();
        assert!(
            e.message().starts_with("/p/c.tpl:1:1: invalid reference"),
            "{}",
            e.message()
        );
        let t = Template::parse(p, "a\n{{ref://secrets/k}} {{ref://secrets/gone}}").unwrap();
        let missing = t
            .render(&values(&[("ref://secrets/k", "v")]))
            .err()
            .unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].0.to_string(), "2:21");
    }
}
