//! For files without `$` and without references, envref's parser and dotenvy agree on every
//! key and value (dotenvy is the oracle here, never the parser).

use std::collections::BTreeMap;

use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Line {
    Blank,
    Comment(String),
    Pair {
        export: bool,
        key: String,
        source: String,
        value: String,
    },
}

fn key() -> impl Strategy<Value = String> {
    "[A-Z_][A-Z0-9_]{0,6}"
}

fn pair() -> impl Strategy<Value = Line> {
    let unquoted = "[A-Za-z0-9_./:@,+=-]{0,12}".prop_map(|v| (v.clone(), v));
    let commented =
        ("[A-Za-z0-9_./:-]{1,8}", "[a-z ]{0,8}").prop_map(|(v, c)| (format!("{v} # {c}"), v));
    let single = "[A-Za-z0-9 _.,:;!?#\"/-]{0,12}".prop_map(|v| (format!("'{v}'"), v));
    let double = prop::collection::vec(
        prop_oneof![
            "[A-Za-z0-9 _.,:;!?#'/-]{1,4}".prop_map(|s| (s.clone(), s)),
            Just(("\\n".to_string(), "\n".to_string())),
            Just(("\\\"".to_string(), "\"".to_string())),
            Just(("\\\\".to_string(), "\\".to_string())),
        ],
        0..5,
    )
    .prop_map(|parts| {
        let src: String = parts.iter().map(|p| p.0.as_str()).collect();
        let val: String = parts.iter().map(|p| p.1.as_str()).collect();
        (format!("\"{src}\""), val)
    });
    (
        any::<bool>(),
        key(),
        prop_oneof![unquoted, commented, single, double],
    )
        .prop_map(|(export, key, (source, value))| Line::Pair {
            export,
            key,
            source,
            value,
        })
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        1 => Just(Line::Blank),
        1 => "[a-z A-Z=]{0,10}".prop_map(Line::Comment),
        6 => pair(),
    ]
}

fn render(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| match l {
            Line::Blank => "\n".to_string(),
            Line::Comment(c) => format!("# {c}\n"),
            Line::Pair {
                export,
                key,
                source,
                ..
            } => format!("{}{key}={source}\n", if *export { "export " } else { "" }),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn agrees_with_dotenvy(lines in prop::collection::vec(line(), 0..12)) {
        let text = render(&lines);
        let doc = Document::parse("t.env", text.clone()).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        let ours: BTreeMap<String, String> = evaluate(&Merged::from_documents(&[doc]), RefMode::Literal, true)
            .vars
            .into_iter()
            .map(|v| (v.key.to_string(), v.value))
            .collect();
        let theirs: BTreeMap<String, String> = dotenvy::from_read_iter(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TestCaseError::fail(format!("dotenvy: {e}\n{text}")))?
            .into_iter()
            .collect();
        prop_assert_eq!(&ours, &theirs, "{}", text);
        // And what we meant to write.
        let expected: BTreeMap<String, String> = lines.iter().filter_map(|l| match l {
            Line::Pair { key, value, .. } => Some((key.clone(), value.clone())),
            _ => None,
        }).collect();
        prop_assert_eq!(&ours, &expected, "{}", text);
    }
}
