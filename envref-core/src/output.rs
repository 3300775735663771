//! Output formats for a set of variables: `plain`, `dotenv`, `shell`, `json`, `table`, `github`.

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
    /// GitHub Actions: `::add-mask::` for each line of each secret on stdout; the values go
    /// to `$GITHUB_ENV` ([`crate::github::append_env`]). A value with NUL is an error.
    Github,
    /// `docker run --env-file`: `KEY=VALUE` lines, the value taken verbatim to the end of the
    /// line. A value docker would read back differently (LF, a final CR, NUL) is an error.
    Docker,
}

/// `vars` in `format`; an error when the format cannot carry a value (NUL in `dotenv`,
/// `shell`, `github` or `docker`; a line break in `docker`).
pub fn render(vars: &[Var], format: Format) -> Result<String> {
    refuse_nul(vars, format)?;
    let mut out = String::new();
    match format {
        Format::Plain => {
            for v in vars {
                let _ = writeln!(out, "{}={}", v.key, v.value);
            }
        }
        Format::Dotenv => {
            for v in vars {
                let _ = writeln!(out, "{}={}", v.key, crate::dotenv::render_literal(&v.value));
            }
        }
        Format::Shell => shell_lines(vars, &mut out)?,
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
        Format::Github => github_masks(vars, &mut out),
        Format::Docker => docker_lines(vars, &mut out)?,
        Format::Table => table(vars, &mut out),
    }
    Ok(out)
}

/// No environment variable can hold a NUL (exec takes C strings), and no shell either.
fn refuse_nul(vars: &[Var], format: Format) -> Result<()> {
    let name = match format {
        Format::Dotenv => "dotenv",
        Format::Shell => "shell",
        Format::Github => "github",
        Format::Docker => "docker",
        Format::Plain | Format::Json | Format::Table => return Ok(()),
    };
    let Some(v) = vars.iter().find(|v| v.value.contains('\0')) else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "{}'s value contains a NUL byte, which --format {name} cannot carry",
        v.key
    ))
    .with_hint("remove the NUL from the value, or use --format json (which writes it as \\u0000)"))
}

fn shell_lines(vars: &[Var], out: &mut String) -> Result<()> {
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
    Ok(())
}

/// GitHub masks line by line; `%` and CR are escaped as in every workflow command.
fn github_masks(vars: &[Var], out: &mut String) {
    let lines = vars
        .iter()
        .filter(|v| v.secret)
        .flat_map(|v| v.value.split('\n'));
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.is_empty() {
            let escaped = line.replace('%', "%25").replace('\r', "%0D");
            let _ = writeln!(out, "::add-mask::{escaped}");
        }
    }
}

/// Docker reads lines (LF; a final CR dropped) of at most 64 KiB, values verbatim.
fn docker_lines(vars: &[Var], out: &mut String) -> Result<()> {
    for v in vars {
        let lossy = v.value.contains('\n') || v.value.ends_with('\r');
        if lossy || v.key.len() + v.value.len() >= 64 * 1024 {
            return Err(Error::usage(format!(
                "{}'s value has a line break or is over 64 KiB, which docker's --env-file cannot carry",
                v.key
            ))
            .with_hint("pass it through the environment instead: `envref run -- docker run -e KEY …`"));
        }
        let _ = writeln!(out, "{}={}", v.key, v.value);
    }
    Ok(())
}

fn table(vars: &[Var], out: &mut String) {
    if vars.is_empty() {
        return;
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
    fn docker_env_file_carries_single_lines_and_refuses_the_rest() {
        let vars = [v("A", "x = \"y\" # z "), v("B", "")];
        assert_eq!(
            render(&vars, Format::Docker).unwrap(),
            "A=x = \"y\" # z \nB=\n"
        );
        for bad in ["two\nlines", "ends in CR\r"] {
            let e = render(&[v("PEM", bad)], Format::Docker).unwrap_err();
            assert!(
                e.message().starts_with("PEM's value has a line break"),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn nul_is_refused_by_name_where_it_cannot_be_carried() {
        let vars = [v("OK", "1"), v("BLOB", "CANARY\0x")];
        for format in [
            Format::Shell,
            Format::Dotenv,
            Format::Github,
            Format::Docker,
        ] {
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
