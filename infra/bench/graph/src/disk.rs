//! A guard on the disk that PostgreSQL (and, on the local stack, RabbitMQ) write
//! to: a full-size run writes a few GB of tables, WAL and queue segments, and a
//! full disk would take the shared servers down with it. The run stops first.

use std::{ffi::CString, path::PathBuf};

use anyhow::Context;
use sqlx::PgConnection;

/// Where the free space is watched, and how much must stay free.
#[derive(Debug, Clone)]
pub struct DiskGuard {
    path: PathBuf,
    min_free_bytes: u64,
}

impl DiskGuard {
    /// Watches the file system of PostgreSQL's data directory (as the server
    /// reports it; the current directory when it does not say or the directory is
    /// not on this machine).
    pub async fn for_postgres(
        admin: &mut PgConnection,
        min_free_bytes: u64,
    ) -> anyhow::Result<Self> {
        let data_directory: Option<String> = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut *admin)
            .await
            .ok();
        // A server on another machine: its directory is not here to look at.
        let path = match data_directory.map(PathBuf::from) {
            Some(directory) if directory.is_dir() => directory,
            _ => std::env::current_dir().context("the current directory")?,
        };
        Ok(Self {
            path,
            min_free_bytes,
        })
    }

    /// The directory watched.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Bytes free for unprivileged writers on its file system.
    pub fn free_bytes(&self) -> anyhow::Result<u64> {
        free_bytes(&self.path)
    }

    /// Fails when less than the minimum is free.
    pub fn check(&self) -> anyhow::Result<()> {
        let free = self.free_bytes()?;
        anyhow::ensure!(
            free >= self.min_free_bytes,
            "only {} MB left free under {} (the run stops below {} MB, --min-free-disk-mb): \
             stopped to keep the shared servers from filling the disk",
            free / 1_000_000,
            self.path.display(),
            self.min_free_bytes / 1_000_000
        );
        Ok(())
    }
}

/// Bytes available to unprivileged users on the file system of `path` (statvfs's
/// `f_bavail`: what `df` shows as available).
fn free_bytes(path: &std::path::Path) -> anyhow::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes()).context("a path without NUL")?;
    // SAFETY: `statvfs` only writes into the zeroed struct it is given, and reads a
    // NUL-terminated path that lives across the call.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    let result = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    anyhow::ensure!(
        result == 0,
        "statvfs {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_directory_has_a_free_size() {
        let free = free_bytes(std::path::Path::new("."));

        assert!(free.is_ok());
    }
}
