//! Writing files without losing bytes or updates: an advisory lock around read-modify-write,
//! and atomic replacement (temp file next to the target, then rename) that writes through
//! symlinks and keeps the target's permissions.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The file a write to `path` must replace: `path` itself, or the end of its symlink chain
/// (which may not exist yet). Replacing the link itself would detach it from a shared target.
pub(crate) fn write_target(path: &Path) -> Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&target).map_err(|e| Error::io(&target, e))?;
                // A relative link is relative to the directory holding it.
                target = match target.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
            }
            _ => return Ok(target),
        }
    }
    Err(Error::bounds(format!(
        "{}: too many levels of symbolic links",
        path.display()
    ))
    .with_hint("make the link point at a regular file"))
}

/// An exclusive advisory lock on the file an edit of `path` will replace, held until dropped.
/// Take it before reading, so a concurrent edit cannot be lost between read and rename.
/// Only envref's own edits take it; an editor writing the file at the same time is not held
/// off. On non-Unix platforms it is a no-op. Like `flock` itself it is not re-entrant: a
/// second `acquire` of the same file in one process waits for the first to be dropped.
#[derive(Debug)]
pub(crate) struct EditLock {
    _file: Option<File>,
}

impl EditLock {
    pub(crate) fn acquire(path: &Path) -> Result<EditLock> {
        let target = write_target(path)?;
        acquire_target(&target)
    }
}

#[cfg(unix)]
fn acquire_target(target: &Path) -> Result<EditLock> {
    use rustix::fs::{flock, FlockOperation};
    use std::os::unix::fs::MetadataExt;
    loop {
        let file = match File::open(target) {
            Ok(f) => f,
            // The edit will create the file; creating it empty now gives the lock an inode.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(target)
                .map_err(|e| Error::io(target, e))?,
            Err(e) => return Err(Error::io(target, e)),
        };
        flock(&file, FlockOperation::LockExclusive).map_err(|e| Error::io(target, e.into()))?;
        // A writer that held the lock renamed a new file over the path: lock that one instead.
        let held = file.metadata().map_err(|e| Error::io(target, e))?;
        match std::fs::metadata(target) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                return Ok(EditLock { _file: Some(file) })
            }
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(target, e)),
        }
    }
}

#[cfg(not(unix))]
fn acquire_target(_target: &Path) -> Result<EditLock> {
    Ok(EditLock { _file: None })
}

/// Replace `path` with `bytes` atomically: a temp file in the target's directory, synced,
/// renamed over the target, then the directory synced so the rename survives a crash. Through
/// a symlink, the link's target is replaced and the link kept. An existing file keeps its
/// mode; a new one gets `mode` (default 0644). On failure the temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    replace(path, bytes, mode, false)
}

/// [`write_atomic`]; with `secret`, the temp file is also removed when envref is interrupted
/// before the rename (see [`crate::runner::TempPath`]).
fn replace(path: &Path, bytes: &[u8], mode: Option<u32>, secret: bool) -> Result<()> {
    let target = write_target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = existing_mode(&target).or(mode);
    let create = || {
        tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
    };
    #[cfg(feature = "backends")]
    let (mut tmp, _until_renamed) = match secret {
        true => crate::runner::TempPath::around(create).map(|(t, g)| (t, Some(g))),
        false => create().map(|t| (t, None)),
    }
    .map_err(|e| Error::io(dir, e))?;
    #[cfg(not(feature = "backends"))]
    let mut tmp = {
        let _ = secret; // only the CLI writes secrets to files, and it has the runner
        create().map_err(|e| Error::io(dir, e))?
    };
    let written = (|| {
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Created 0600; on the open file, so the umask does not apply.
            let mode = mode.unwrap_or(0o644);
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    })();
    written.map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(&target)
        .map_err(|e| Error::io(&target, e.error))?;
    sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Make a rename in `dir` durable (its entry is written with the directory, not the file).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn existing_mode(_path: &Path) -> Option<u32> {
    None
}

/// Replace `path` atomically with `bytes`, readable by the owner only, even when it existed
/// with a wider mode (narrowed first, so no moment shows the new content to others).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    #[cfg(unix)]
    if let Ok(target) = write_target(path) {
        use std::os::unix::fs::PermissionsExt;
        if target.exists() {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(&target, e))?;
        }
    }
    replace(path, bytes, Some(0o600), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn writes_through_a_symlink_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("shared")).unwrap();
        let target = dir.path().join("shared/env");
        std::fs::write(&target, "A=1\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join(".env");
        std::os::unix::fs::symlink("shared/env", &link).unwrap();
        write_atomic(&link, b"A=2\n", Some(0o644)).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "A=2\n");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temp file left next to the link or the target.
        assert_eq!(
            std::fs::read_dir(dir.path().join("shared"))
                .unwrap()
                .count(),
            1
        );
    }
}
