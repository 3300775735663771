//! Output formats for a set of variables: `plain`, `dotenv`, `shell`, `json`, `table`.

use std::fmt::Write as _;

use crate::evaluate::Var;
use crate::{Error, Result};

/// An output format for variables (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `KEY=VALUE`, value raw: for reading, not a round-trip format (a newline in a value
    /// is ambiguous).
    Plain,
    /// A `.env` file that envref (and dotenv readers) read back to the same values; a value
    /// with NUL is an error.
    Dotenv,
    /// `export KEY='…'` lines that `eval` turns back into the same values; a value with NUL
    /// is an error.
    Shell,
    /// One JSON object, keys in order; carries any value.
    Json,
    /// For reading: CR, LF and NUL shown as `\r`, `\n`, `\0`.
    Table,
}

/// `vars` in `format`; an error when the format cannot carry a value (NUL in `dotenv` or
/// `shell`).
pub fn render(vars: &[Var], format: Format) -> Result<String> {
    let mut out = String::new();
    match format {
        Format::Plain => {
            for v in vars {
                let _ = writeln!(out, "{}={}", v.key, v.value);
            }
        }
        Format::Dotenv => {
            check_no_nul(vars, "dotenv")?;
            for v in vars {
                let _ = writeln!(out, "{}={}", v.key, crate::dotenv::render_literal(&v.value));
            }
        }
        Format::Shell => return render_shell(vars),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .iter()
                .map(|v| {
                    (
                        v.key.to_string(),
                        serde_json::Value::String(v.value.clone()),
                    )
                })
                .collect();
            out = serde_json::to_string_pretty(&map).expect("strings serialize");
            out.push('\n');
        }
        Format::Table => return Ok(render_table(vars)),
    }
    Ok(out)
}

/// No environment variable can hold a NUL (exec takes C strings), and no shell either.
fn check_no_nul(vars: &[Var], format: &str) -> Result<()> {
    let Some(v) = vars.iter().find(|v| v.value.contains('\0')) else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "{}'s value contains a NUL byte, which --format {format} cannot carry",
        v.key
    ))
    .with_hint("remove the NUL from the value, or use --format json (which writes it as \\u0000)"))
}

fn render_shell(vars: &[Var]) -> Result<String> {
    check_no_nul(vars, "shell")?;
    let mut out = String::new();
    for v in vars {
        if !is_shell_name(&v.key) {
            return Err(Error::usage(format!(
                "{} is not a valid shell variable name, so it cannot be exported",
                v.key
            ))
            .with_hint("rename the key to letters, digits and `_`, or use --format json/dotenv"));
        }
        let _ = writeln!(out, "export {}={}", v.key, shell_quote(&v.value));
    }
    Ok(out)
}

fn render_table(vars: &[Var]) -> String {
    let mut out = String::new();
    if vars.is_empty() {
        return out;
    }
    let w = vars
        .iter()
        .map(|v| v.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    let _ = writeln!(out, "{:w$}  VALUE", "KEY");
    let _ = writeln!(out, "{}  -----", "-".repeat(w));
    for v in vars {
        // For reading only: line breaks and NUL would break the table's rows.
        let value = v
            .value
            .replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\0', "\\0");
        let _ = writeln!(out, "{:w$}  {value}", v.key);
    }
    out
}

pub(crate) fn is_shell_name(key: &str) -> bool {
    let mut c = key.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// POSIX shell quoting (shlex): bare when only safe characters, else quoted so that bash and
/// POSIX shells read back exactly `value`. A NUL passes through (no shell can carry one): the
/// renderers refuse such values by name before quoting.
pub(crate) fn shell_quote(value: &str) -> String {
    shlex::Quoter::new()
        .allow_nul(true)
        .quote(value)
        .map_or_else(
            |e| unreachable!("{e}: the only error, allowed"),
            |q| q.into_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(k: &str, val: &str) -> Var {
        Var {
            key: k.into(),
            value: val.into(),
            secret: false,
        }
    }

    #[test]
    fn formats() {
        let vars = [v("A", "it's $x"), v("B", "plain")];
        assert_eq!(
            render(&vars, Format::Shell).unwrap(),
            "export A=\"it's \"'$x'\nexport B=plain\n"
        );
        assert_eq!(
            render(&vars, Format::Json).unwrap(),
            "{\n  \"A\": \"it's $x\",\n  \"B\": \"plain\"\n}\n"
        );
        assert!(render(&[v("a-b", "1")], Format::Shell).is_err());
        assert_eq!(
            render(&vars, Format::Table).unwrap(),
            "KEY  VALUE\n---  -----\nA    it's $x\nB    plain\n"
        );
    }

    #[test]
    fn nul_is_refused_by_name_where_it_cannot_be_carried() {
        let vars = [v("OK", "1"), v("BLOB", "CANARY\0x")];
        for format in [Format::Shell, Format::Dotenv] {
            let e = render(&vars, format).unwrap_err();
            assert!(matches!(e, Error::Usage { .. }), "{e:?}");
            assert!(
                e.to_string()
                    .starts_with("BLOB's value contains a NUL byte")
                    && !e.to_string().contains("CANARY"),
                "{}",
                e.to_string()
            );
        }
        assert!(render(&vars, Format::Json)
            .unwrap()
            .contains("CANARY\\u0000x"));
    }

    proptest::proptest! {
        /// `--format dotenv` read back by envref's own parser and evaluator gives every value
        /// back byte for byte (CR, CRLF, quotes, `$`, backslashes included); NUL is refused.
        #[test]
        fn dotenv_round_trips(values in proptest::collection::vec(
            proptest::string::string_regex("([\r\n'\"`$\\# \t=é{}]|\\$\\{A\\}|[^\u{0}])*").unwrap(), 1..6)
        ) {
            let vars: Vec<Var> = values.iter().enumerate().map(|(i, val)| v(&format!("K{i}"), val)).collect();
            let text = render(&vars, Format::Dotenv).unwrap();
            let doc = crate::dotenv::Document::parse("/p/.env", text.clone()).unwrap();
            let merged = crate::layers::Merged::from_documents(&[doc]);
            let back = crate::evaluate::evaluate(&merged, crate::evaluate::RefMode::Literal, false);
            let got: Vec<&str> = back.vars.iter().map(|v| v.value.as_str()).collect();
            let want: Vec<&str> = values.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(got, want, "rendered:\n{}", text);
        }
    }
}
