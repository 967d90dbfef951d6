//! The one durable write: temporary name, fsync, rename, fsync of the directory; and the
//! blocking boundary the file drivers cross once per call.
//!
//! Every file the file drivers (and `gnocchi-upgrade`) make durable goes through
//! [`write_atomic`] or [`write_atomic_all`]: a reader or a crash sees either the old content of a
//! path or the new one, never a torn file, and a call returns only once the new content and its
//! directory entry are on stable storage. Incoming batches and aggregates instead go through
//! [`place_file`] and are made durable by one shared filesystem sync per round (`group_sync`). The root
//! `clippy.toml` bans `fs::rename`/`fs::write` everywhere else.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use snafu::ResultExt;
use uuid::Uuid;

use crate::error::{BlockingTaskSnafu, IoSnafu};
use crate::Result;

/// Suffix of the temporary files, so that a sweep recognises them.
const TMP_SUFFIX: &str = ".tmp";

/// Durably replaces `final_path` by `bytes`.
///
/// The temporary file is created in `tmp_dir`, which must be on the same filesystem as
/// `final_path` (rename is atomic only within one filesystem). The parent directory of
/// `final_path` must exist. On return the content is fsynced, renamed into place and the parent
/// directory fsynced.
pub fn write_atomic(tmp_dir: &Path, final_path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_all(tmp_dir, &[(final_path, bytes)])
}

/// Durably replaces several files, in order.
///
/// Each file is replaced atomically. All temporary files are written and fsynced first; then the
/// files are renamed into place in the given order, and a directory is fsynced whenever the next
/// file lives in another directory (and at the end), so a file's new content is durable before
/// any later file in another directory is replaced. Grouping the files by directory therefore
/// costs one directory fsync per directory. On an error, the temporary files not yet renamed are
/// removed; files already renamed stay replaced.
#[allow(clippy::disallowed_methods)] // The one place that renames: see the module docs.
pub fn write_atomic_all(tmp_dir: &Path, files: &[(&Path, &[u8])]) -> io::Result<()> {
    let mut temps: Vec<PathBuf> = Vec::with_capacity(files.len());
    let mut committed = 0;
    let result = (|| {
        for (_, bytes) in files {
            let tmp = tmp_dir.join(format!("{}{TMP_SUFFIX}", Uuid::new_v4().simple()));
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            temps.push(tmp);
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        for (i, (final_path, _)) in files.iter().enumerate() {
            fs::rename(&temps[i], final_path)?;
            committed += 1;
            let dir = parent_of(final_path);
            let next_dir = files.get(i + 1).map(|(p, _)| parent_of(p));
            if next_dir != Some(dir) {
                sync_dir(dir)?;
            }
        }
        Ok(())
    })();
    for tmp in temps.iter().skip(committed) {
        // Best effort: a leftover temporary file is swept later, never read as data.
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Puts `bytes` at `final_path` atomically (temporary file in `tmp_dir`, then rename) without
/// fsyncing anything: a reader sees the whole file or none, and a killed process leaves no torn
/// file, but the file is durable only once a [`GroupSync`](crate::group_sync::GroupSync) round
/// that started after this call has completed. On an error the temporary file is removed.
#[allow(clippy::disallowed_methods)] // Renames like write_atomic_all: see the module docs.
pub(crate) fn place_file(tmp_dir: &Path, final_path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_dir.join(format!("{}{TMP_SUFFIX}", Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        fs::rename(&tmp, final_path)
    })();
    if result.is_err() {
        // Best effort: a leftover temporary file is swept later, never read as data.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` and its missing ancestors, fsyncing the parent of each directory created, so
/// that files renamed into `dir` afterwards are reachable after a crash.
pub(crate) fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = parent_of(dir);
    create_dir_durable(parent)?;
    match fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        // A concurrent writer created it; it fsyncs the parent itself.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Fsyncs a directory, making the entries created, renamed or removed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes the temporary files of `tmp_dir` older than `min_age`: leftovers of a process killed
/// between creating and renaming them. Younger ones may belong to a write in progress.
/// Returns how many were removed.
pub(crate) fn sweep_tmp(tmp_dir: &Path, min_age: Duration) -> io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(tmp_dir)? {
        let entry = entry?;
        let is_tmp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(TMP_SUFFIX));
        if !is_tmp {
            continue;
        }
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if now.duration_since(modified).unwrap_or_default() >= min_age
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Runs one unit of blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(op: &'static str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .context(BlockingTaskSnafu { op })?
}

/// The context of an [`Io`](crate::Error::Io) error on `path`, for `with_context`.
pub(crate) fn io_at<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(&mut io::Error) -> IoSnafu<&'static str, String> + 'a {
    move |_| IoSnafu {
        op,
        path: path.display().to_string(),
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let target = dir.path().join("obj");
        write_atomic(&tmp, &target, b"first").unwrap();
        write_atomic(&tmp, &target, b"second, longer").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second, longer");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn writes_many_files_across_directories() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        let a = dir.path().join("a/b");
        create_dir_durable(&tmp).unwrap();
        create_dir_durable(&a).unwrap();
        create_dir_durable(&a).unwrap(); // idempotent
        let (p1, p2, p3) = (a.join("1"), a.join("2"), dir.path().join("3"));
        write_atomic_all(&tmp, &[(&p1, b"one"), (&p2, b"two"), (&p3, b"three")]).unwrap();
        assert_eq!(fs::read(&p1).unwrap(), b"one");
        assert_eq!(fs::read(&p2).unwrap(), b"two");
        assert_eq!(fs::read(&p3).unwrap(), b"three");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn failed_rename_cleans_up_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        let ok = dir.path().join("ok");
        let missing = dir.path().join("no/such/dir/file");
        let err = write_atomic_all(&tmp, &[(&ok, b"x"), (&missing, b"y")]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(fs::read(&ok).unwrap(), b"x");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    #[test]
    fn sweep_removes_only_old_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path();
        File::create(tmp.join("abc.tmp")).unwrap();
        File::create(tmp.join("config.json")).unwrap();
        assert_eq!(sweep_tmp(tmp, Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(sweep_tmp(tmp, Duration::ZERO).unwrap(), 1);
        assert!(tmp.join("config.json").exists());
        assert!(!tmp.join("abc.tmp").exists());
    }
}
