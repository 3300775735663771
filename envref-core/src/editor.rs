//! Which editor `envref edit` runs: `$VISUAL`, else `$EDITOR`, else `vi`, split into words
//! with POSIX shell rules so `code --wait` or `"/opt/My Editor/bin/ed" -n` work. The words
//! are run directly, never through a shell.

use crate::{Error, Result};

/// The editor's argv (program first), from the values of `$VISUAL` and `$EDITOR`.
pub fn command(visual: Option<&str>, editor: Option<&str>) -> Result<Vec<String>> {
    let (var, value) = match (
        visual.filter(|v| !v.trim().is_empty()),
        editor.filter(|v| !v.trim().is_empty()),
    ) {
        (Some(v), _) => ("VISUAL", v),
        (None, Some(e)) => ("EDITOR", e),
        (None, None) => return Ok(vec!["vi".into()]),
    };
    let words = shlex::split(value).ok_or_else(|| {
        Error::usage(format!(
            "${var} has an unterminated quote or a trailing backslash"
        ))
        .with_hint(format!(
            "quote it as a shell would, e.g. {var}='code --wait'"
        ))
    })?;
    if words.is_empty() {
        return Ok(vec!["vi".into()]);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::command;

    #[test]
    fn words() {
        assert_eq!(command(None, None).unwrap(), ["vi"]);
        assert_eq!(
            command(Some("code --wait"), Some("nano")).unwrap(),
            ["code", "--wait"]
        );
        assert_eq!(command(Some(" "), Some("nano")).unwrap(), ["nano"]);
        assert_eq!(
            command(None, Some(r#""/opt/My Editor/ed" -n 'a b'"#)).unwrap(),
            ["/opt/My Editor/ed", "-n", "a b"]
        );
        assert!(command(Some("vim 'x"), None).is_err());
    }
}
