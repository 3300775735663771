//! `--format`: one set of values for every command; each command accepts the ones that make
//! sense for what it prints, and clap's error lists exactly those. A new format is a variant
//! here, added to the subsets of the commands that print it.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use envref_core::output::Format;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// For reading: `KEY=VALUE` lines, or a command's text report
    #[value(alias = "text")]
    Plain,
    /// A .env file that reads back to the same values
    #[value(alias = "env")]
    Dotenv,
    /// `export KEY='…'` lines for `eval`
    #[value(aliases = ["sh", "direnv"])]
    Shell,
    /// One JSON document
    Json,
    /// For reading: control characters shown escaped
    Table,
    /// GitHub Actions: `::add-mask::` lines on stdout, the values appended to `$GITHUB_ENV`
    Github,
    /// `docker run --env-file` lines (single-line values only)
    Docker,
}

use OutputFormat::*;

impl OutputFormat {
    /// What commands that print variables (`resolve`, `list`, `profile export`) accept.
    pub const VARIABLES: &'static [OutputFormat] = &[Plain, Dotenv, Shell, Json, Table];
    /// What commands that print a report (`audit`, `config show`, `profile diff`) accept.
    pub const REPORT: &'static [OutputFormat] = &[Plain, Json];
    /// What `resolve` accepts: the variable formats and those that hand values to other tools.
    pub const RESOLVE: &'static [OutputFormat] =
        &[Plain, Dotenv, Shell, Json, Table, Github, Docker];

    /// A `--format` parser that accepts only `allowed` (and their aliases, in any case).
    pub fn parser(allowed: &'static [OutputFormat]) -> impl TypedValueParser<Value = OutputFormat> {
        let values = allowed.iter().filter_map(|f| f.to_possible_value());
        PossibleValuesParser::new(values)
            .map(|s| OutputFormat::from_str(&s, true).expect("an allowed value parses"))
    }

    /// envref-core's renderer for variables; only for [`OutputFormat::RESOLVE`] and its subsets.
    pub fn variables(self) -> Format {
        match self {
            Plain => Format::Plain,
            Dotenv => Format::Dotenv,
            Shell => Format::Shell,
            Json => Format::Json,
            Table => Format::Table,
            Github => Format::Github,
            Docker => Format::Docker,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::OutputFormat;

    #[derive(Parser)]
    struct Report {
        #[arg(long, default_value = "plain", ignore_case = true, value_parser = OutputFormat::parser(OutputFormat::REPORT))]
        format: OutputFormat,
    }

    fn parse(args: &[&str]) -> Result<OutputFormat, String> {
        let args = std::iter::once("t").chain(args.iter().copied());
        Report::try_parse_from(args)
            .map(|r| r.format)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn each_command_accepts_its_values_and_aliases_only() {
        assert_eq!(parse(&[]), Ok(OutputFormat::Plain));
        assert_eq!(parse(&["--format", "text"]), Ok(OutputFormat::Plain));
        assert_eq!(parse(&["--format", "JSON"]), Ok(OutputFormat::Json));
        let e = parse(&["--format", "shell"]).unwrap_err();
        assert!(
            e.contains("invalid value 'shell'") && e.contains("[possible values: plain, json]"),
            "{e}"
        );
    }
}
