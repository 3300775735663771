//! Hostile `.env` input (issue 11): deep chains, cycles, huge values, CR, BOM, NUL and invalid
//! UTF-8. Whatever the file, envref does not panic, every error says `path:line:col`, and
//! `set` changes the bytes of one value (or appends one line) and nothing else. The fuzz
//! targets in fuzz/ check the same on nightly; this runs in every `cargo test`.

use std::collections::HashMap;

use envref_core::dotenv::{render_value, Document, Value};
use envref_core::evaluate::{evaluate, Evaluated, Failure, RefMode};
use envref_core::layers::Merged;
use envref_core::reference::Reference;
use proptest::prelude::*;
use secrecy::SecretString;

const PATH: &str = "/p/.env";

/// Pieces a hostile file is made of: syntax, line endings, BOM, NUL, quotes, interpolation.
const PIECES: &[&str] = &[
    "A",
    "B",
    "KEY_1",
    "=",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "\0",
    "'",
    "\"",
    "`",
    "$",
    "${",
    "}",
    "${A}",
    "${B:-x}",
    "${C-y}",
    "${A:?need}",
    "$$",
    ":-",
    "ref://",
    "ref://secrets/k",
    "x:ref://secrets/k@h",
    "op://V/item/f",
    "${op://V/i/f}",
    "#",
    " # c",
    " ",
    "\t",
    "\\",
    "\\n",
    "é",
    "😀",
    "export ",
    "x",
];

/// Byte sequences that are not UTF-8: a stray byte, truncated sequences, a surrogate, overlong.
const INVALID_UTF8: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"];

fn hostile_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|p| p.concat())
}

/// Mostly-valid files: `KEY=<pieces>` lines with LF or CRLF endings, an optional BOM, and the
/// odd hostile line; many of them parse, so edits and evaluation get exercised too.
fn file_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|p| p.concat()),
        "[a-z0-9_./:@é\x00\r-]{0,10}( # c)?",
        Just("${A}${B:-${C}}".to_string()),
        Just("ref://secrets/k".to_string()),
        "[a-z0-9 $#{}:?-]{0,10}".prop_map(|v| format!("'{v}'")),
        "[a-z0-9 \r\n$#{}:?é\x00-]{0,10}".prop_map(|v| format!("\"{}\"", v.replace('$', "$$"))),
    ];
    let line = prop_oneof![
        12 => ("(export )?[A-C]{1,2}", value).prop_map(|(k, v)| format!("{k}={v}")),
        2 => "(# [a-z]{0,5})?".prop_map(String::from),
        1 => hostile_text(),
    ];
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(line, 0..12),
    )
        .prop_map(|(bom, crlf, lines)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let body: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
            if bom {
                format!("\u{feff}{body}")
            } else {
                body
            }
        })
}

fn eval_all_modes(docs: &[Document]) -> Vec<Evaluated> {
    let merged = Merged::from_documents(docs);
    let mut map = HashMap::new();
    for (i, r) in merged
        .definitions()
        .iter()
        .flat_map(|d| d.value.references())
        .enumerate()
    {
        if i % 2 == 0 {
            map.insert(r.clone(), SecretString::from(format!("v{i}")));
        }
    }
    let mut out = Vec::new();
    for mode in [RefMode::Literal, RefMode::Masked, RefMode::Resolved(&map)] {
        for strict in [false, true] {
            let e = evaluate(&merged, mode, strict);
            assert_eq!(e.vars.len() + e.failures.len(), merged.definitions().len());
            for (key, f) in &e.failures {
                if let Failure::Invalid(m) = f {
                    assert!(has_location(m), "{key}: error without path:line:col: {m}");
                }
            }
            out.push(e);
        }
    }
    out
}

/// `/p/.env:<line>:<col>: …`
fn has_location(message: &str) -> bool {
    let Some(rest) = message.strip_prefix(&format!("{PATH}:")) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number = |p: Option<&str>| p.is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 1));
    number(parts.next()) && number(parts.next()) && parts.next().is_some_and(|r| r.starts_with(' '))
}

/// Parse errors point inside the file; a valid file evaluates in every mode.
fn check_any_text(text: &str) {
    match Document::parse(PATH, text) {
        Err(errors) => {
            assert!(!errors.is_empty());
            let lines = text.split('\n').count() as u32;
            for e in &errors {
                assert!(has_location(&e.to_string()), "{e}");
                assert!(
                    e.location.pos.line <= lines,
                    "{e}: the file has {lines} line(s)"
                );
            }
        }
        Ok(doc) => {
            eval_all_modes(&[doc]);
        }
    }
}

/// `set` replaces the value's bytes only; a new key appends one line; other definitions keep
/// their meaning.
fn check_set(doc: &Document, key: &str, source: &str) {
    let old = doc.text();
    let rendered = render_value(source);
    let mut edited = doc.clone();
    edited
        .set(key, source)
        .unwrap_or_else(|e| panic!("set {key} on a valid file: {e}"));
    let new = edited.text();
    if doc.get(key).is_some() {
        let common = old
            .bytes()
            .zip(new.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        // The bare rendering may be quoted where a `#` follows it directly (`A='x'# c`).
        // Setting the value it already has changes nothing (then `common` runs past the value).
        let spliced = old == new
            || [rendered.clone(), format!("\"{rendered}\"")]
                .iter()
                .any(|r| {
                    (common.saturating_sub(r.len())..=common).any(|start| {
                        new.get(start..start + r.len()) == Some(r.as_str())
                            && old.ends_with(&new[start + r.len()..])
                    })
                });
        assert!(
            spliced,
            "set {key} changed bytes outside its value:\n{old:?}\n{new:?}"
        );
    } else {
        assert!(
            new.starts_with(old),
            "appending {key} changed existing bytes"
        );
        let line = new[old.len()..].trim_start_matches(['\r', '\n']);
        assert!(new.len() - old.len() - line.len() <= 2);
        let body = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l));
        assert_eq!(body, Some(format!("{key}={rendered}").as_str()));
    }
    match &edited.get(key).expect("set key present").value {
        Value::Template(t) => assert_eq!(t.as_literal(), Some(source), "{key} does not read back"),
        Value::Reference(r) => panic!("{key}: a literal source became the reference {r}"),
    }
    let others = |d: &Document| -> Vec<(String, Option<String>, Vec<Reference>)> {
        d.all_entries()
            .iter()
            .filter(|e| e.key != key)
            .map(|e| match &e.value {
                Value::Template(t) => (
                    e.key.clone(),
                    t.as_literal().map(str::to_string),
                    t.references().into_iter().cloned().collect(),
                ),
                Value::Reference(r) => (e.key.clone(), None, vec![(**r).clone()]),
            })
            .collect()
    };
    assert_eq!(
        others(doc),
        others(&edited),
        "set {key} changed another definition"
    );
}

fn chain(n: usize, forward: bool) -> String {
    let mut text = String::new();
    for i in 0..n {
        // Forward: each key names the next one, defined after it; reverse: the previous one.
        let line = match (forward, i) {
            (true, i) if i + 1 == n => format!("C{i}=end\n"),
            (true, i) => format!("C{i}=${{C{}}}\n", i + 1),
            (false, 0) => "C0=end\n".to_string(),
            (false, i) => format!("C{i}=${{C{}}}\n", i - 1),
        };
        text.push_str(&line);
    }
    text
}

fn check_chain(n: usize, forward: bool) {
    let doc = Document::parse(PATH, chain(n, forward)).expect("a chain is a valid file");
    for e in eval_all_modes(&[doc]) {
        // Either every key is `end`, or a bound stopped the chain with an error naming a place.
        assert!(e.vars.iter().all(|v| v.value == "end"));
        assert_eq!(e.vars.len() + e.failures.len(), n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_never_panics(text in prop_oneof![hostile_text(), file_text()]) {
        check_any_text(&text);
    }

    #[test]
    fn any_bytes_load_or_say_where(bytes in prop::collection::vec(prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(|p| p.as_bytes().to_vec()),
        1 => prop::sample::select(INVALID_UTF8).prop_map(<[u8]>::to_vec),
    ], 0..40).prop_map(|p| p.concat())) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, &bytes).unwrap();
        match (Document::load(&path), std::str::from_utf8(&bytes)) {
            (Ok(doc), Ok(text)) => prop_assert_eq!(doc.text(), text),
            (Ok(_), Err(_)) => prop_assert!(false, "invalid UTF-8 was accepted"),
            (Err(e), utf8) => {
                let shown = path.display().to_string();
                prop_assert!(e.to_string().starts_with(&format!("{shown}:")), "{e}");
                prop_assert!(matches!(e, envref_core::Error::Parse { .. }) && e.hint().is_some(), "{e:?}");
                if let Err(bad) = utf8 {
                    // The position is that of the first invalid byte.
                    let valid = &bytes[..bad.valid_up_to()];
                    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                    let col = std::str::from_utf8(&valid[valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)..]).unwrap().chars().count() + 1;
                    prop_assert_eq!(&e.to_string(), &format!("{shown}:{line}:{col}: file is not valid UTF-8"));
                }
            }
        }
    }

    #[test]
    fn set_keeps_every_other_byte(
        text in file_text(),
        pick in any::<prop::sample::Index>(),
        source in "[a-zA-Z0-9 \t\r\n'\"`\\\\#=:{}é\u{feff}\0-]{0,16}",
    ) {
        let Ok(doc) = Document::parse(PATH, text) else { return Ok(()) };
        if let Some(e) = doc.all_entries().get(pick.index(doc.all_entries().len().max(1))) {
            check_set(&doc, &e.key.clone(), &source);
        }
        check_set(&doc, "NEW_KEY", &source);
    }
}

/// What embedded (bare) references are made of: the Go envref's extent `[A-Za-z0-9/_.-]` from
/// `ref://`, and the characters that end it.
const EMBED_PIECES: &[&str] = &[
    "ref://",
    "ref://secrets/k",
    "ref://s//raw/N",
    "secrets",
    "/",
    "//",
    "k",
    ".",
    "..",
    "-",
    "_",
    ":",
    "@",
    "!",
    "?",
    "=",
    "&",
    " ",
    "ref:/",
    "op://V/i/f",
    "é",
    "}",
    "{",
];

proptest! {
    /// Whatever `ref://` pieces an unquoted value holds, it reads back as its own text when
    /// references are kept literal (each embedded reference prints back as written, look-alikes
    /// stay text), every reference found is named in the text, and single quotes find none.
    #[test]
    fn embedded_references_print_back(pieces in prop::collection::vec(prop::sample::select(EMBED_PIECES), 0..12)) {
        let value = format!("x{}x", pieces.concat());
        let Ok(doc) = Document::parse(PATH, format!("A={value}\nB='{value}'\n")) else {
            // Only a brace can make it invalid (`${…` is interpolation syntax).
            prop_assert!(value.contains('{'), "a value without braces failed to parse");
            return Ok(());
        };
        let merged = Merged::from_documents(std::slice::from_ref(&doc));
        let literal = evaluate(&merged, RefMode::Literal, false);
        prop_assert_eq!(&literal.get("A").unwrap().value, &value);
        prop_assert_eq!(&literal.get("B").unwrap().value, &value);
        let refs = doc.get("A").unwrap().value.references();
        for r in &refs {
            prop_assert!(value.contains(&r.to_string()), "{} not in the text", r);
            prop_assert_eq!(Reference::parse(&r.to_string()), Ok((*r).clone()));
        }
        prop_assert!(doc.get("B").unwrap().value.references().is_empty());
        prop_assert_eq!(literal.get("A").unwrap().secret, !refs.is_empty());
    }
}

// Big inputs: fewer cases keep the debug run short.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn huge_values_round_trip(len in 0usize..300_000, quote in prop::sample::select(&["", "'", "\""][..]), crlf in any::<bool>()) {
        let value = "x".repeat(len);
        let eol = if crlf { "\r\n" } else { "\n" };
        let text = format!("\u{feff}BIG={quote}{value}{quote}{eol}REF=${{BIG}}{eol}");
        let doc = Document::parse(PATH, text).expect("valid");
        let e = evaluate(&Merged::from_documents(std::slice::from_ref(&doc)), RefMode::Literal, true);
        prop_assert_eq!(e.get("BIG").map(|v| v.value.len()), Some(len));
        prop_assert_eq!(e.get("REF").map(|v| v.value.len()), Some(len));
        check_set(&doc, "REF", "small");
    }

    #[test]
    fn cycles_are_errors_with_places(n in 1usize..200, close_at in any::<prop::sample::Index>()) {
        // C0 → C1 → … → C(n-1) → C(k): a cycle, possibly with a tail in front of it.
        let k = close_at.index(n);
        let text: String = (0..n).map(|i| format!("C{i}=${{C{}}}\n", if i + 1 == n { k } else { i + 1 })).collect();
        let doc = Document::parse(PATH, text).expect("valid");
        for e in eval_all_modes(&[doc]) {
            // A self-reference (n-1 → n-1) is the inherited value, not a cycle.
            if k + 1 == n {
                continue;
            }
            prop_assert!(e.vars.is_empty(), "a key on or before a cycle evaluated");
            prop_assert!(e.failures.iter().all(|(_, f)| matches!(f, Failure::Invalid(_))), "{:?}", e.failures);
            let named = e.failures.iter().any(|(_, f)| f.to_string().contains("cycle"));
            prop_assert!(named, "no error names the cycle: {:?}", e.failures);
        }
    }

    #[test]
    fn chains_evaluate(n in 1usize..300, forward in any::<bool>()) {
        check_chain(n, forward);
    }

    #[test]
    fn doubling_stays_correct_when_small(n in 1usize..14) {
        // A(i) = A(i-1) twice: 2^n bytes; small n must evaluate exactly.
        let text: String = std::iter::once("A0=ab\n".to_string()).chain((1..=n).map(|i| format!("A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1))).collect();
        let doc = Document::parse(PATH, text).expect("valid");
        let e = evaluate(&Merged::from_documents(&[doc]), RefMode::Literal, true);
        prop_assert_eq!(e.get(&format!("A{n}")).map(|v| v.value.len()), Some(2usize << n));
    }
}

/// Thousands of levels in both directions: no stack overflow (which would abort the whole test
/// binary, not fail one test).
#[test]
fn deep_chains_do_not_overflow_the_stack() {
    for forward in [true, false] {
        check_chain(5_000, forward);
    }
}

/// Found by the `dotenv` fuzz target: after a closing quote a comment needs no blank
/// (`A='x'# c`), but after a bare value it does, so writing the new value bare made the
/// comment part of it (`A=y# c` reads back as `y# c`).
#[test]
fn set_before_a_glued_comment_keeps_the_value() {
    for text in ["A='x'# c\n", "A=\"x\"#c\r\n", "A=`x`#\n"] {
        let doc = Document::parse(PATH, text).expect("valid");
        check_set(&doc, "A", "y");
    }
}

/// Found by the `dotenv` fuzz target: a CRLF file whose last line ends in a lone CR. Appending
/// a key added "\r\n" after that CR, so the last value gained a CR (`B=x\r\r\n` reads `x\r`).
#[test]
fn append_after_a_trailing_lone_cr_keeps_the_last_value() {
    let doc = Document::parse(PATH, "A=1\r\nB=x\r").expect("valid");
    check_set(&doc, "C", "y");
}

/// 40 doublings would be 2^41 bytes: a size cap stops it with an error (checked for a
/// `path:line:col` by `eval_all_modes`), instead of running out of memory.
#[test]
fn exponential_expansion_is_capped() {
    let text: String = std::iter::once("A0=ab\n".to_string())
        .chain((1..=40).map(|i| format!("A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1)))
        .collect();
    let doc = Document::parse(PATH, text).expect("valid");
    for e in eval_all_modes(&[doc]) {
        assert!(
            e.failures.iter().any(|(k, _)| k == "A40"),
            "A40 evaluated to {:?}",
            e.get("A40").map(|v| v.value.len())
        );
    }
}

// Plugin replies (a plugin is someone else's program): whatever its stdout, reading it as the
// answer to one request or to a `get_many` batch never panics, an error the plugin states is
// one short line, and a complaint about the shape never quotes what the plugin printed.
mod plugin_replies {
    use envref_core::backend::plugin::{parse_batch_response, parse_response, BatchReply, Reply};
    use proptest::prelude::*;

    /// JSON pieces of both reply shapes, with a canary standing for a secret.
    const JSON_PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\n",
        "\"protocol\"",
        "1",
        "2",
        "-1",
        "1.5",
        "null",
        "true",
        "\"results\"",
        "\"value\"",
        "\"error\"",
        "\"keys\"",
        "\"not found\"",
        "\"CANARY\"",
        "\"a\\nb\"",
        "\"p/k\"",
        "\"",
        "\\",
        "é",
        "\u{0}",
    ];

    fn reply_text() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(JSON_PIECES).prop_map(|p| p.as_bytes().to_vec()),
                1 => any::<u8>().prop_map(|b| vec![b]),
            ],
            0..40,
        )
        .prop_map(|p| p.concat())
    }

    fn check(reply: &Reply) -> Result<(), TestCaseError> {
        match reply {
            Reply::Error(line) => {
                prop_assert!(
                    !line.contains('\n') && line.chars().count() <= 300,
                    "{line}"
                )
            }
            Reply::Invalid(why) => prop_assert!(!why.contains("CANARY"), "{why}"),
            Reply::Answer(_) | Reply::NotFound => {}
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_reply_is_read_without_panic_or_echo(bytes in reply_text()) {
            check(&parse_response(&bytes))?;
            match parse_batch_response(&bytes) {
                BatchReply::Results(results) => {
                    for reply in results.values() {
                        check(reply)?;
                    }
                }
                BatchReply::All(reply) => {
                    prop_assert!(matches!(reply, Reply::NotFound | Reply::Error(_)));
                    check(&reply)?;
                }
                BatchReply::Invalid(why) => prop_assert!(!why.contains("CANARY"), "{why}"),
                BatchReply::NotBatch => {}
            }
        }

        #[test]
        fn any_batch_of_values_round_trips(
            values in prop::collection::btree_map(".{1,12}", ".{0,40}", 0..20),
            errors in prop::collection::btree_map(".{1,12}", "[a-z \n]{1,400}", 0..5),
        ) {
            let mut results = serde_json::Map::new();
            for (k, v) in &values {
                results.insert(k.clone(), serde_json::json!({"value": v}));
            }
            for (k, e) in errors.iter().filter(|(k, _)| !values.contains_key(*k)) {
                results.insert(k.clone(), serde_json::json!({"error": e}));
            }
            let reply = serde_json::json!({"protocol": 1, "results": results}).to_string();
            let BatchReply::Results(got) = parse_batch_response(reply.as_bytes()) else {
                return Err(TestCaseError::fail("a valid batch reply was not read as results"));
            };
            prop_assert_eq!(got.len(), results.len());
            for (k, v) in &values {
                let ok = matches!(&got[k], Reply::Answer(r) if r.value.as_deref() == Some(v.as_str()));
                prop_assert!(ok, "value of {:?} changed", k);
            }
            // A key's error is reported as its first line, at most 300 characters.
            for (k, e) in errors.iter().filter(|(k, _)| !values.contains_key(*k)) {
                let first: String = e.lines().next().unwrap_or_default().chars().take(300).collect();
                match &got[k] {
                    Reply::Error(line) => prop_assert_eq!(line, &first),
                    Reply::NotFound => prop_assert!(e.contains("not found")),
                    _ => prop_assert!(false, "the error of {:?} was lost", k),
                }
            }
        }
    }
}

// Identity files (ENVREF_VAULT_IDENTITY, --identity) hold secret keys: whatever their text,
// reading one never panics, and an error never quotes a line of it.
mod identity_files {
    use envref_core::crypto::parse_identity_file;
    use proptest::prelude::*;

    const LINES: &[&str] = &[
        "# created: 2026-11-30",
        "# recipient: age1envreftest1wfgwh7r7m4nsupphdcy72ll8dgu7uc0qzdasjnqle00utw26vy4qwswfac",
        "#    Recipient: age1yubikey1notbech32",
        "AGE-PLUGIN-ENVREFTEST-1WFGWH7R7M4NSUPPHDCY72LL8DGU7UC0QZDASJNQLE00UTW26VY4QHMCPG3",
        "AGE-PLUGIN-YUBIKEY-1CANARYCANARYCANARY",
        "AGE-SECRET-KEY-1CANARYCANARYCANARYCANARY",
        "-----BEGIN AGE ENCRYPTED FILE-----",
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        "",
        "   ",
        "\u{feff}",
        "é",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_identity_file_is_read_without_panic_or_echo(
            lines in prop::collection::vec(prop_oneof![
                4 => prop::sample::select(LINES).prop_map(str::to_string),
                1 => ".{0,40}",
            ], 0..8),
        ) {
            let text = lines.join("\n");
            match parse_identity_file(&text) {
                Ok(file) => {
                    prop_assert!(!file.x25519.is_empty() || !file.plugins.is_empty());
                    let _ = file.recipient();
                }
                Err(e) => {
                    prop_assert!(!e.to_string().contains("CANARY"), "{e}");
                    prop_assert!(e.hint().is_some(), "no hint: {e}");
                }
            }
        }
    }
}
