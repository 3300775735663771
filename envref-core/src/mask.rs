//! Masking secrets in a stream (a child's output): every occurrence of a secret value, or of its
//! base64 (standard and URL-safe) or URL-encoded form, becomes [`MARKER`].
//!
//! One pass over the data with Aho-Corasick (leftmost-longest), streaming: bytes that cannot
//! be the start of a secret go out at once; only the tail that is still a prefix of one (at most
//! the longest pattern minus one byte) is held back until the next read. The result is the same
//! as masking the whole stream at once, however it is split into reads.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use base64::Engine as _;

/// What a secret becomes in the output.
pub const MARKER: &str = "<concealed by envref>";

/// Values shorter than this are not masked: masking `1` or `true` would destroy the output
/// and tell a reader which bytes are the secret anyway.
pub const MIN_LENGTH: usize = 6;

/// The byte patterns to conceal, built once from the secret values. No `Debug`: it holds them.
pub struct Secrets {
    automaton: AhoCorasick,
    /// Every pattern, sorted, to ask whether a tail of the data is a prefix of one.
    sorted: Vec<Vec<u8>>,
    /// Whether a pattern starts with this byte: most positions are ruled out at once.
    first_bytes: [bool; 256],
    longest: usize,
}

/// The secrets of a set of variables: what is masked, and the keys left out as too short.
pub struct Plan {
    /// What is masked; `None` when no secret is long enough.
    pub secrets: Option<Secrets>,
    /// Keys whose values are too short to mask without destroying the output.
    pub too_short: Vec<String>,
}

/// Plan the masking of `vars`' secret values (those that came from a reference) and of the
/// values the references themselves resolved to (a secret inside a longer value).
pub fn plan(
    vars: &[crate::evaluate::Var],
    reference_values: &[(crate::reference::Reference, secrecy::SecretString)],
) -> Plan {
    use secrecy::ExposeSecret;
    let mut too_short = Vec::new();
    let mut values = Vec::new();
    let secret_vars = vars
        .iter()
        .filter(|v| v.secret)
        .map(|v| (v.key.to_string(), v.value.as_str()));
    // A reference whose value is a whole variable's value is already covered (and named).
    let whole: std::collections::HashSet<&str> = vars
        .iter()
        .filter(|v| v.secret)
        .map(|v| v.value.as_str())
        .collect();
    let referenced = reference_values
        .iter()
        .map(|(r, v)| (r.to_string(), v.expose_secret()))
        .filter(|(_, v)| !whole.contains(v));
    for (name, value) in secret_vars.chain(referenced) {
        if value.len() < MIN_LENGTH {
            too_short.push(name);
        } else {
            values.push(value.as_bytes());
        }
    }
    Plan {
        secrets: Secrets::new(values),
        too_short,
    }
}

impl Secrets {
    /// `None` when no value is long enough to mask. Shorter values are skipped.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Secrets> {
        let mut patterns: Vec<Vec<u8>> = values
            .into_iter()
            .filter(|v| v.len() >= MIN_LENGTH)
            .flat_map(forms)
            .filter(|p| p.len() >= MIN_LENGTH)
            .collect();
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return None;
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .expect("a few secret values fit in an automaton");
        let mut first_bytes = [false; 256];
        for p in &patterns {
            first_bytes[usize::from(p[0])] = true;
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        Some(Secrets {
            automaton,
            sorted: patterns,
            first_bytes,
            longest,
        })
    }

    /// The most bytes a [`Masker`] holds back between reads.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// Whether `tail` is a proper prefix of some pattern (so more data could complete it).
    fn could_grow(&self, tail: &[u8]) -> bool {
        let i = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.sorted[i..]
            .iter()
            .take(2)
            .any(|p| p.len() > tail.len() && p.starts_with(tail))
    }

    /// The first position at or after `from` from which the data could still grow into a match.
    fn hold_from(&self, data: &[u8], from: usize) -> usize {
        let start = from.max(data.len().saturating_sub(self.longest - 1));
        (start..data.len())
            .find(|&p| self.first_bytes[usize::from(data[p])] && self.could_grow(&data[p..]))
            .unwrap_or(data.len())
    }
}

/// The forms a value is matched in: itself, its base64 (standard and URL-safe, unpadded: the
/// padded text starts with them) and URL-encodings; a multi-line value also line by line and
/// with CRLF (a terminal turns `\n` into `\r\n`).
fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut forms = vec![
        value.to_vec(),
        STANDARD_NO_PAD.encode(value).into_bytes(),
        URL_SAFE_NO_PAD.encode(value).into_bytes(),
        url_encode(value, false, b"0123456789ABCDEF"),
        url_encode(value, false, b"0123456789abcdef"),
        url_encode(value, true, b"0123456789ABCDEF"),
    ];
    if value.contains(&b'\n') {
        let mut crlf = Vec::with_capacity(value.len() + 8);
        for line in value.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            forms.push(line.to_vec());
            crlf.extend_from_slice(line);
            crlf.extend_from_slice(b"\r\n");
        }
        crlf.truncate(crlf.len() - 2);
        forms.push(crlf);
    }
    forms
}

/// Percent-encoding of everything but RFC 3986's unreserved characters; `form`: space as `+`.
fn url_encode(value: &[u8], form: bool, hex: &[u8; 16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if form && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

/// One stream's masking state: the held-back tail between reads.
pub struct Masker<'a> {
    secrets: &'a Secrets,
    carry: Vec<u8>,
}

impl<'a> Masker<'a> {
    /// A masker for one stream, with an empty carry.
    pub fn new(secrets: &'a Secrets) -> Masker<'a> {
        Masker {
            secrets,
            carry: Vec::with_capacity(secrets.longest),
        }
    }

    /// Mask `chunk` (the next bytes of the stream) into `out`: everything that can no longer
    /// be part of a secret, masked; the rest is held for the next call or [`Masker::finish`].
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.carry.is_empty() {
            self.carry = self.mask_into(chunk, false, out).to_vec();
        } else {
            let mut data = std::mem::take(&mut self.carry);
            data.extend_from_slice(chunk);
            self.carry = self.mask_into(&data, false, out).to_vec();
        }
    }

    /// The end of the stream: what was held back, masked.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let data = std::mem::take(&mut self.carry);
        self.mask_into(&data, true, out);
    }

    /// Write `data` masked to `out` up to where a match could still begin (all of it at the
    /// end of the stream); return the rest.
    fn mask_into<'d>(&self, data: &'d [u8], end: bool, out: &mut Vec<u8>) -> &'d [u8] {
        let secrets = self.secrets;
        let hold = |from| {
            if end {
                data.len()
            } else {
                secrets.hold_from(data, from)
            }
        };
        let mut pos = 0;
        let mut held = hold(0);
        for m in secrets.automaton.find_iter(Input::new(data)) {
            if held < pos {
                held = hold(pos);
            }
            // A match from where more data could give a longer or earlier one waits for it.
            if m.start() >= held {
                break;
            }
            out.extend_from_slice(&data[pos..m.start()]);
            out.extend_from_slice(MARKER.as_bytes());
            pos = m.end();
        }
        let held = hold(pos);
        out.extend_from_slice(&data[pos..held]);
        &data[held..]
    }
}

/// Mask a whole buffer at once (tests, and the reference the streaming masker must equal).
pub fn mask_all(secrets: &Secrets, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut m = Masker::new(secrets);
    m.feed(data, &mut out);
    m.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(values: &[&str]) -> Secrets {
        Secrets::new(values.iter().map(|v| v.as_bytes())).unwrap()
    }

    fn streamed(s: &Secrets, pieces: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut m = Masker::new(s);
        for p in pieces {
            m.feed(p, &mut out);
        }
        m.finish(&mut out);
        out
    }

    #[test]
    fn masks_values_and_passes_the_rest() {
        let s = secrets(&["hunter22", "sk-live-abcdef"]);
        assert_eq!(
            mask_all(&s, b"pw=hunter22 key=sk-live-abcdef!"),
            b"pw=<concealed by envref> key=<concealed by envref>!"
        );
        assert_eq!(mask_all(&s, b"nothing here\n"), b"nothing here\n");
    }

    #[test]
    fn a_secret_split_one_byte_at_a_time_is_masked() {
        let s = secrets(&["hunter22"]);
        let data = b"a hunter22 b hunter2";
        let pieces: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(
            streamed(&s, &pieces),
            b"a <concealed by envref> b hunter2".to_vec()
        );
    }

    #[test]
    fn only_a_possible_prefix_is_held_back() {
        let s = secrets(&["hunter22"]);
        let mut m = Masker::new(&s);
        let mut out = Vec::new();
        m.feed(b"hello hun", &mut out);
        assert_eq!(out, b"hello ");
        out.clear();
        m.feed(b"gry\n", &mut out);
        assert_eq!(out, b"hungry\n", "no longer a prefix: out at once");
    }

    #[test]
    fn encodings_are_masked() {
        let s = secrets(&["p@ss word/+?"]);
        for form in [
            "cEBzcyB3b3JkLys/",
            "cEBzcyB3b3JkLys_",
            "p%40ss%20word%2F%2B%3F",
            "p%40ss+word%2F%2B%3F",
            "p%40ss%20word%2f%2b%3f",
        ] {
            let out = mask_all(&s, format!("x {form} y").as_bytes());
            assert!(
                !out.windows(form.len()).any(|w| w == form.as_bytes()),
                "{form}: {}",
                String::from_utf8_lossy(&out)
            );
        }
    }

    #[test]
    fn nested_secrets_take_the_longest_whatever_the_split() {
        let s = secrets(&["abcdefgh-long", "cdefgh"]);
        let data = b"[abcdefgh-long]";
        for cut in 0..data.len() {
            let out = streamed(&s, &[&data[..cut], &data[cut..]]);
            assert_eq!(out, b"[<concealed by envref>]", "cut at {cut}");
        }
    }

    #[test]
    fn short_values_are_planned_out_by_key() {
        use crate::evaluate::Var;
        let var = |k: &str, v: &str, secret| Var {
            key: k.into(),
            value: v.into(),
            secret,
        };
        let p = plan(
            &[
                var("PORT", "1", true),
                var("TOKEN", "tok-123456", true),
                var("MODE", "production", false),
            ],
            &[],
        );
        assert_eq!(p.too_short, ["PORT"]);
        let s = p.secrets.unwrap();
        assert_eq!(
            mask_all(&s, b"production tok-123456"),
            b"production <concealed by envref>"
        );
    }

    #[test]
    fn a_secret_inside_a_longer_value_is_masked_on_its_own() {
        use crate::evaluate::Var;
        use crate::reference::Reference;
        let url = Var {
            key: "DB_URL".into(),
            value: "postgres://app:pw-4f9a2c@db/app".into(),
            secret: true,
        };
        let pw = Reference::parse("ref://secrets/db_pass").unwrap();
        let short = Reference::parse("ref://secrets/db_user").unwrap();
        let refs = [(pw, "pw-4f9a2c".into()), (short, "app".into())];
        let p = plan(&[url], &refs);
        assert_eq!(p.too_short, ["ref://secrets/db_user"]);
        let s = p.secrets.unwrap();
        assert_eq!(
            mask_all(&s, b"connecting with password pw-4f9a2c"),
            b"connecting with password <concealed by envref>"
        );
    }
}
