//! `.env` files: parse up to three layers (the input split at lines `%%%`), merge, evaluate in
//! every mode; then `set` on the first layer. Checks: no panic, parse errors carry
//! `path:line:col` inside the file, evaluation errors name a layer's path, every reference
//! (whole, `${…}`, bare embedded, `op://`) prints back as text that parses to it, and an edit
//! changes the bytes of one value (or appends one line) and nothing else.
#![no_main]

use std::collections::HashMap;

use envref_core::dotenv::{render_value, Document, Position, Value};
use envref_core::evaluate::{evaluate, Failure, RefMode};
use envref_core::layers::Merged;
use envref_core::reference::Reference;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

const PATHS: [&str; 3] = ["/p/.env", "/p/.env.dev", "/p/.env.local"];

/// Sources `set` is given: `.env` value text that must read back (literal ones exactly).
const SOURCES: [&str; 11] =
    ["", "plain", "two words", "q\"u'o`te", "l1\nl2\r\nl3", "back\\slash #x", "\ttab ", "${OTHER:-d}", "ref://secrets/k", "op://Vault/Item/field", "ünï\u{feff}"];

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let mut docs = Vec::new();
    for (text, path) in input.split("\n%%%\n").zip(PATHS) {
        match Document::parse(path, text) {
            Ok(d) => docs.push(d),
            Err(errors) => {
                assert!(!errors.is_empty());
                let lines = text.split('\n').count() as u32;
                for e in &errors {
                    assert_eq!(e.location.path.to_str(), Some(path));
                    let Position { line, col } = e.location.pos;
                    assert!(line >= 1 && line <= lines && col >= 1, "{e} outside the file ({lines} lines)");
                    assert!(e.to_string().starts_with(&format!("{path}:{line}:{col}: ")));
                }
            }
        }
    }
    if docs.is_empty() {
        return;
    }
    evaluate_all(&docs);
    edit(&docs[0], data.len());
});

fn evaluate_all(docs: &[Document]) {
    let merged = Merged::from_documents(docs);
    // Every other reference resolves, so both outcomes are exercised.
    let mut map = HashMap::new();
    for (i, r) in merged.definitions().iter().flat_map(|d| d.value.references()).enumerate() {
        assert_eq!(Reference::parse(&r.to_string()).as_ref(), Ok(r), "a reference does not print back");
        if i % 2 == 0 {
            map.insert(r.clone(), SecretString::from(format!("s{i}$X")));
        }
    }
    for mode in [RefMode::Literal, RefMode::Masked, RefMode::Resolved(&map)] {
        for strict in [false, true] {
            let out = evaluate(&merged, mode, strict);
            assert_eq!(out.vars.len() + out.failures.len(), merged.definitions().len());
            for (_, f) in &out.failures {
                if let Failure::Invalid(m) = f {
                    assert!(PATHS.iter().any(|p| m.starts_with(&format!("{p}:"))), "no location: {m}");
                }
            }
        }
    }
}

/// `set` an existing key (chosen by `pick`), then a new key.
fn edit(doc: &Document, pick: usize) {
    let source = SOURCES[pick % SOURCES.len()];
    let rendered = render_value(source);
    let old = doc.text();
    if let Some(entry) = doc.all_entries().get(pick % doc.all_entries().len().max(1)) {
        let key = entry.key.clone();
        let mut edited = doc.clone();
        edited.set(&key, source).unwrap_or_else(|e| panic!("set {key} on a valid file failed: {e}"));
        let new = edited.text();
        // new == old[..start] + rendered + old[end..] for some start: one value's bytes differ.
        let common = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
        // The bare rendering may be quoted where a `#` follows it directly (`A='x'# c`).
        let spliced = [rendered.clone(), format!("\"{rendered}\"")].iter().any(|r| {
            (common.saturating_sub(r.len())..=common)
                .any(|start| new.get(start..start + r.len()) == Some(r.as_str()) && old.ends_with(&new[start + r.len()..]))
        });
        assert!(spliced, "set changed bytes outside the value of {key}");
        check_value(&edited, &key, source);
        same_entries_except(doc, &edited, &key);
    }
    let key = "FUZZ_NEW_KEY";
    if doc.get(key).is_none() {
        let mut added = doc.clone();
        added.set(key, source).expect("appending a key to a valid file");
        let new = added.text();
        assert!(new.starts_with(old), "appending changed existing bytes");
        let tail = &new[old.len()..];
        let line = tail.trim_start_matches(['\r', '\n']);
        assert!(tail.len() - line.len() <= 2, "more than one line ending added");
        let body = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        assert_eq!(body, Some(format!("{key}={rendered}").as_str()));
        check_value(&added, key, source);
        same_entries_except(doc, &added, key);
    }
}

/// The key reads back as `source` means: literally, or as the reference it is.
fn check_value(doc: &Document, key: &str, source: &str) {
    match &doc.get(key).expect("the key is there after set").value {
        Value::Reference(r) => assert_eq!(r.to_string(), source),
        Value::Template(t) => {
            if !source.contains('$') {
                assert_eq!(t.as_literal(), Some(source), "the value does not read back");
            }
        }
    }
}

/// Every definition of another key is unchanged (key, quoting, meaning), in order.
fn same_entries_except(before: &Document, after: &Document, key: &str) {
    let others = |d: &Document| -> Vec<_> {
        d.all_entries().iter().filter(|e| e.key != key).map(|e| (e.key.clone(), e.quote, strip_positions(&e.value))).collect()
    };
    assert_eq!(others(before), others(after), "another definition changed");
}

/// A value's meaning without positions (an edit may move later lines).
fn strip_positions(v: &Value) -> String {
    match v {
        Value::Reference(r) => format!("ref {r}"),
        Value::Template(t) => format!("{:?}", t.as_literal()).chars().chain(format!("{:?}", t.references()).chars()).collect(),
    }
}
