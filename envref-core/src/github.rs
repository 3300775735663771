//! `resolve --format github`: hand the environment to the next steps of a GitHub Actions job.
//! Each variable is appended to the file `$GITHUB_ENV` names as a `KEY<<DELIMITER` block, with
//! a random delimiter that is not a line of the value, so any value (multi-line, `<<`, `EOF`)
//! reads back byte for byte. The masks go to stdout ([`crate::output::Format::Github`]).

use std::io::Write;
use std::path::PathBuf;

use crate::evaluate::Var;
use crate::{Error, Result};

/// The variable naming the file a GitHub Actions step appends environment blocks to.
pub const ENV_FILE_VARIABLE: &str = "GITHUB_ENV";

/// The file `$GITHUB_ENV` names; a clear error outside GitHub Actions.
pub fn env_file() -> Result<PathBuf> {
    std::env::var_os(ENV_FILE_VARIABLE)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            Error::usage(
                "--format github appends to the file named by $GITHUB_ENV, which is not set",
            )
            .with_hint("run it in a GitHub Actions step, or set GITHUB_ENV to a file to write")
        })
}

/// The blocks for `vars`, in GitHub's heredoc syntax.
pub fn env_blocks(vars: &[Var]) -> Result<String> {
    let mut out = String::new();
    for v in vars {
        // The runner reads `NAME=…` when `=` comes before `<<`: a key may hold neither.
        if v.key.contains(['=', '\n', '\r']) || v.key.contains("<<") {
            return Err(Error::usage(format!(
                "{} cannot be a GitHub Actions variable name",
                v.key
            )));
        }
        let delimiter = delimiter_for(&v.value)?;
        out.push_str(&format!(
            "{}<<{delimiter}\n{}\n{delimiter}\n",
            v.key, v.value
        ));
    }
    Ok(out)
}

/// `ghadelimiter_<random hex>`, drawn again in the unlikely case the value contains it.
fn delimiter_for(value: &str) -> Result<String> {
    loop {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::io_while("no randomness", std::io::Error::other(e.to_string())))?;
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let delimiter = format!("ghadelimiter_{hex}");
        if !value.contains(&delimiter) {
            return Ok(delimiter);
        }
    }
}

/// Append `vars` to the file `$GITHUB_ENV` names, in one write (created 0600 if missing).
pub fn append_env(vars: &[Var]) -> Result<()> {
    let path = env_file()?;
    let blocks = env_blocks(vars)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(&path).map_err(|e| Error::io(&path, e))?;
    file.write_all(blocks.as_bytes())
        .map_err(|e| Error::io(&path, e))
}
