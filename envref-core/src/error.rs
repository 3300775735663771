//! The one error type users see: a kind a caller can branch on, a message that says what is
//! wrong and where, a hint that says how to fix it, and the cause it came from (`source()`).
//! Messages, hints and causes never carry secret values.
//!
//! Display is the message alone, complete on its own (an io error's reason is in it);
//! [`Error::causes`] adds what the source chain says beyond it, for `-v`.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use crate::backend::{BackendError, ErrorKind as BackendErrorKind};

/// A cause of any type, kept for `source()`.
pub type Cause = Box<dyn StdError + Send + Sync>;

/// The result of envref's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in envref, by kind; see the module docs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file, a directory or a standard stream failed; `path` is the file.
    #[error("{message}")]
    Io {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// The file or directory, when there is one.
        path: Option<PathBuf>,
        #[source]
        /// The operating system's error.
        source: std::io::Error,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
    },
    /// A file's content is malformed (.env, YAML, JSON, TOML, an identity or key file); the
    /// message says `path:line:col` where it can.
    #[error("{message}")]
    Parse {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// The configuration parses but says something wrong or inconsistent (an unknown backend
    /// option, a duplicate member, no backends where one is needed).
    #[error("{message}")]
    Config {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// The command line asks for something invalid: a bad name, key or value, a missing
    /// argument, a misspelt key, no terminal to ask on.
    #[error("{message}")]
    Usage {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// What was named does not exist: a secret, a key, a profile, an env file, a package.
    #[error("{message}")]
    NotFound {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// A backend failed; [`Error::backend_kind`] says how (unavailable, denied, …).
    #[error("{message}")]
    Backend {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The backend's own error, with its kind.
        source: BackendError,
    },
    /// References or variables that did not resolve: the all-or-nothing report.
    #[error("{message}")]
    Unresolved {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// Refused on purpose: an untrusted project, an edit that would lose data, plaintext to a
    /// terminal.
    #[error("{message}")]
    NotAllowed {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// Encryption, decryption or authentication failed (age, sync files).
    #[error("{message}")]
    Crypto {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// An external program (editor, command, rustc, cargo) could not run or failed.
    #[error("{message}")]
    Program {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// A limit was exceeded: a length, a count, a size.
    #[error("{message}")]
    Bounds {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
    /// A check found problems (validate, audit, doctor, status); the report says which.
    #[error("{message}")]
    Check {
        /// What is wrong and where, complete on its own (the Display text).
        message: String,
        /// How to fix it, when there is something to say.
        hint: Option<String>,
        #[source]
        /// The error this one came from.
        source: Option<Cause>,
    },
}

/// Constructors for the variants that carry only a message.
macro_rules! plain {
    ($($(#[$doc:meta])* $fn:ident => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub fn $fn(message: impl Into<String>) -> Self {
            Error::$variant { message: message.into(), hint: None, source: None }
        }
    )*};
}

/// The `message` and `hint` of any variant, by reference or mutable reference (match
/// ergonomics): the one list of variants behind `parts` and `parts_mut`.
macro_rules! message_and_hint {
    ($error:expr) => {
        match $error {
            Error::Io { message, hint, .. }
            | Error::Parse { message, hint, .. }
            | Error::Config { message, hint, .. }
            | Error::Usage { message, hint, .. }
            | Error::NotFound { message, hint, .. }
            | Error::Backend { message, hint, .. }
            | Error::Unresolved { message, hint, .. }
            | Error::NotAllowed { message, hint, .. }
            | Error::Crypto { message, hint, .. }
            | Error::Program { message, hint, .. }
            | Error::Bounds { message, hint, .. }
            | Error::Check { message, hint, .. } => (message, hint),
        }
    };
}

impl Error {
    plain! {
        /// See [`Error::Parse`].
        parse => Parse;
        /// See [`Error::Config`].
        config => Config;
        /// See [`Error::Usage`].
        usage => Usage;
        /// See [`Error::NotFound`].
        not_found => NotFound;
        /// See [`Error::Unresolved`].
        unresolved => Unresolved;
        /// See [`Error::NotAllowed`].
        not_allowed => NotAllowed;
        /// See [`Error::Crypto`].
        crypto => Crypto;
        /// See [`Error::Program`].
        program => Program;
        /// See [`Error::Bounds`].
        bounds => Bounds;
        /// See [`Error::Check`].
        check => Check;
    }

    /// `path: reason`, e.g. `.env: permission denied`.
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        Error::Io {
            message: format!("{}: {}", path.display(), io_reason(&err)),
            path: Some(path.to_path_buf()),
            source: err,
            hint: None,
        }
    }

    /// `what: reason` for io on something that is not a file (stdin, stdout, the current
    /// directory), e.g. `cannot read the value: broken pipe`.
    pub fn io_while(what: impl std::fmt::Display, err: std::io::Error) -> Self {
        Error::Io {
            message: format!("{what}: {}", io_reason(&err)),
            path: None,
            source: err,
            hint: None,
        }
    }

    /// Keep `cause` as this error's source (variants with a fixed source keep theirs).
    pub fn with_source(mut self, cause: impl Into<Cause>) -> Self {
        if let Some(slot) = self.source_slot() {
            *slot = Some(cause.into());
        }
        self
    }

    /// Attach (or replace) the fix to show after the message.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        *self.parts_mut().1 = Some(hint.into());
        self
    }

    /// How to fix it, if known.
    pub fn hint(&self) -> Option<&str> {
        self.parts().1.as_deref()
    }

    /// The message (what Display prints).
    pub fn message(&self) -> &str {
        self.parts().0
    }

    /// Prefix the message with context (a path, a command) while keeping kind, hint and cause.
    pub fn context(mut self, ctx: impl std::fmt::Display) -> Self {
        let message = self.parts_mut().0;
        *message = format!("{ctx}: {message}");
        self
    }

    /// The backend's own kind, for a backend error.
    pub fn backend_kind(&self) -> Option<BackendErrorKind> {
        match self {
            Error::Backend { source, .. } => Some(source.kind),
            _ => None,
        }
    }

    /// The source chain's texts that add to the message: a cause whose text the message (or
    /// an earlier cause) already contains is left out.
    pub fn causes(&self) -> Vec<String> {
        let mut said = self.message().to_string();
        let mut out = Vec::new();
        let mut next = self.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !said.contains(&text) {
                said.push('\n');
                said.push_str(&text);
                out.push(text);
            }
            next = cause.source();
        }
        out
    }

    fn parts(&self) -> (&str, &Option<String>) {
        message_and_hint!(self)
    }

    fn parts_mut(&mut self) -> (&mut String, &mut Option<String>) {
        message_and_hint!(self)
    }

    fn source_slot(&mut self) -> Option<&mut Option<Cause>> {
        match self {
            Error::Io { .. } | Error::Backend { .. } => None,
            Error::Parse { source, .. }
            | Error::Config { source, .. }
            | Error::Usage { source, .. }
            | Error::NotFound { source, .. }
            | Error::Unresolved { source, .. }
            | Error::NotAllowed { source, .. }
            | Error::Crypto { source, .. }
            | Error::Program { source, .. }
            | Error::Bounds { source, .. }
            | Error::Check { source, .. } => Some(source),
        }
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        Error::Backend {
            message: e.message.clone(),
            hint: e.hint.clone(),
            source: e,
        }
    }
}

/// The reason an io operation failed, in the words of `strerror` for the common kinds
/// (`no such file or directory`), else the error's own text.
pub fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let common = match err.kind() {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::AlreadyExists => "file exists",
        K::IsADirectory => "is a directory",
        K::NotADirectory => "not a directory",
        K::DirectoryNotEmpty => "directory not empty",
        K::ReadOnlyFilesystem => "read-only file system",
        K::StorageFull => "no space left on device",
        K::BrokenPipe => "broken pipe",
        K::Interrupted => "interrupted",
        K::UnexpectedEof => "unexpected end of file",
        _ => {
            return err
                .get_ref()
                .map_or_else(|| err.to_string(), ToString::to_string)
        }
    };
    common.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_errors_say_the_path_and_reason_and_keep_the_cause() {
        let e = Error::io(Path::new("a/.env"), io::Error::from_raw_os_error(13));
        assert_eq!(e.to_string(), "a/.env: permission denied");
        assert!(matches!(&e, Error::Io { path: Some(p), .. } if p == Path::new("a/.env")));
        let source = e.source().unwrap().downcast_ref::<io::Error>().unwrap();
        assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
        // The OS's own wording, with the errno, is what -v adds.
        assert_eq!(e.causes(), [io::Error::from_raw_os_error(13).to_string()]);
    }

    #[test]
    fn errors_cross_threads_and_box_as_std_errors() {
        fn std_error<E: StdError + Send + Sync + 'static>() {}
        std_error::<Error>();
    }

    #[test]
    fn io_reason_uses_a_custom_errors_own_text() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        );
        assert_eq!(io_reason(&e), "stream did not contain valid UTF-8");
        assert_eq!(
            io_reason(&io::ErrorKind::NotFound.into()),
            "no such file or directory"
        );
    }

    #[test]
    fn causes_leave_out_what_the_message_already_says() {
        let inner = io::Error::other("the pipe closed");
        let e = Error::program("editor vi failed: the pipe closed").with_source(inner);
        assert!(e.causes().is_empty());
        let e = Error::program("editor vi failed").with_source(io::Error::other("the pipe closed"));
        assert_eq!(e.causes(), ["the pipe closed"]);
    }

    #[test]
    fn context_and_hint_keep_the_kind_and_the_cause() {
        let e = Error::parse("line 3: not a key")
            .with_source(io::Error::other("underlying"))
            .with_hint("fix it")
            .context("ids.txt");
        assert!(matches!(e, Error::Parse { .. }));
        assert_eq!(e.to_string(), "ids.txt: line 3: not a key");
        assert_eq!(e.hint(), Some("fix it"));
        assert_eq!(e.causes(), ["underlying"]);
    }

    #[test]
    fn backend_errors_keep_their_kind_hint_and_cause() {
        let b = BackendError::new(BackendErrorKind::Denied, "vault: locked").with_hint("unlock");
        let e = Error::from(b).context("stopped after 1 of 2 secrets");
        assert_eq!(e.backend_kind(), Some(BackendErrorKind::Denied));
        assert_eq!(e.hint(), Some("unlock"));
        assert_eq!(e.to_string(), "stopped after 1 of 2 secrets: vault: locked");
        assert!(e.source().is_some(), "the BackendError is the source");
        assert!(e.causes().is_empty(), "its text is already in the message");
    }
}
