//! Messages on stderr: `error:`, `warning:`, `hint:`, coloured only on a terminal and never
//! when `NO_COLOR` or `--no-color` is set. Data goes to stdout, nowhere else.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use std::sync::OnceLock;

use envref_core::Error;

#[derive(Debug, Clone, Copy)]
struct Settings {
    quiet: bool,
    verbose: bool,
    color: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

pub fn init(quiet: bool, verbose: bool, no_color: bool) {
    let color =
        !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
    let _ = SETTINGS.set(Settings {
        quiet,
        verbose,
        color,
    });
}

fn settings() -> Settings {
    *SETTINGS.get().unwrap_or(&Settings {
        quiet: false,
        verbose: false,
        color: false,
    })
}

fn paint(style: Style, label: &str) -> String {
    if settings().color {
        format!("{style}{label}{style:#}")
    } else {
        label.to_string()
    }
}

/// The one place errors are rendered: the message, with `-v` the causes it came from (those
/// the message does not already say), then the hint.
pub fn error(e: &Error) {
    let message = e.to_string();
    let mut lines = message.lines();
    eprintln!(
        "{} {}",
        paint(AnsiColor::Red.on_default().bold(), "error:"),
        lines.next().unwrap_or_default()
    );
    for l in lines {
        eprintln!("  {l}");
    }
    if settings().verbose {
        for cause in e.causes() {
            let mut lines = cause.lines();
            let first = lines.next().unwrap_or_default();
            eprintln!("  {} {first}", paint(Style::new().dimmed(), "caused by:"));
            for l in lines {
                eprintln!("    {l}");
            }
        }
    }
    if let Some(h) = e.hint() {
        print_hint(h);
    }
}

/// The fix for what was just said; hidden by `--quiet` (an error's own hint never is).
pub fn hint(h: &str) {
    if !settings().quiet {
        print_hint(h);
    }
}

fn print_hint(h: &str) {
    eprintln!("{} {h}", paint(AnsiColor::Cyan.on_default(), "hint:"));
}

pub fn warn(msg: &str) {
    if !settings().quiet {
        eprintln!(
            "{} {msg}",
            paint(AnsiColor::Yellow.on_default(), "warning:")
        );
    }
}

/// A progress or confirmation message (stderr); hidden by `--quiet`.
pub fn info(msg: &str) {
    if !settings().quiet {
        eprintln!("{msg}");
    }
}

/// Detail shown with `--verbose`.
pub fn verbose(msg: &str) {
    if settings().verbose && !settings().quiet {
        eprintln!("{msg}");
    }
}

/// Whether a person can answer a prompt.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Ask y/N on the terminal. Without a terminal, refuse with a hint instead of hanging.
pub fn confirm(question: &str) -> Result<bool, Error> {
    if !interactive() {
        return Err(
            Error::usage(format!("{question}: no terminal to confirm on"))
                .with_hint("pass --force to proceed without confirmation"),
        );
    }
    // One write: unbuffered stderr would split `eprint!`'s pieces around a typed-ahead echo.
    let _ = std::io::stderr().write_all(format!("{question} [y/N] ").as_bytes());
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::io_while("cannot read the answer", e))?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
