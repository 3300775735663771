//! The user's state directory: what envref remembers between runs about the projects it has
//! seen (the team keys `sync` trusted on first use, configs `envref allow` recorded). Not
//! configuration and not secrets; losing it only means being asked again.

use std::path::PathBuf;

use crate::{Error, Result};

/// `$XDG_STATE_HOME/envref`, else `~/.local/state/envref`. A relative `XDG_STATE_HOME` is
/// ignored, as the XDG spec says.
pub fn dir() -> Result<PathBuf> {
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    xdg.or_else(|| crate::config::home_dir().map(|h| h.join(".local").join("state")))
        .map(|base| base.join("envref"))
        .ok_or_else(|| {
            Error::config("cannot find the state directory: neither XDG_STATE_HOME nor HOME is set")
                .with_hint("set HOME")
        })
}

/// [`dir`], created (mode 0700) when missing.
#[cfg(feature = "backends")]
pub(crate) fn ensure_dir() -> Result<PathBuf> {
    let dir = dir()?;
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
