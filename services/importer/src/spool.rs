//! The spool volume: where an upload, or a scheduled run's fetched file, waits
//! for its job. One file per job, named after it, deleted when the job ends.

use std::path::{Path, PathBuf};

use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The file of job `import_id` under `spool_dir`.
pub fn path(spool_dir: &Path, import_id: Uuid) -> PathBuf {
    spool_dir.join(format!("{import_id}.upload"))
}

/// Why a file could not be spooled. The partial file is left for the caller to
/// delete (or overwrite).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// More than the limit arrived.
    #[error("the file is larger than {limit} bytes (IMPORTER_MAX_UPLOAD_BYTES)")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Nothing arrived.
    #[error("the file is empty")]
    Empty,
    /// The sender stopped sending, or the stream failed.
    #[error("the transfer broke off: {0}")]
    BrokeOff(String),
    /// The spool volume failed us.
    #[error("the spool volume: {0}")]
    Disk(#[from] std::io::Error),
}

/// Streams `body` into `path`, synced to disk; returns its size in bytes.
pub async fn receive<B, E>(
    mut body: impl Stream<Item = Result<B, E>> + Unpin,
    path: &Path,
    limit: u64,
) -> Result<u64, SpoolError>
where
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::File::create(path).await?;
    let mut received: u64 = 0;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|error| SpoolError::BrokeOff(error.to_string()))?;
        let piece = piece.as_ref();
        received += piece.len() as u64;
        if received > limit {
            return Err(SpoolError::TooLarge { limit });
        }
        file.write_all(piece).await?;
    }
    file.sync_all().await?;
    if received == 0 {
        return Err(SpoolError::Empty);
    }
    Ok(received)
}

/// Deletes the file of a job that ended; a file already gone is fine.
pub fn discard(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}
