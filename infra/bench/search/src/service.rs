//! The search service as its own process, so that its memory and CPU are its own:
//! the release binary of `services/search` on a fresh database and vhost, port 0,
//! the tantivy backend in an index directory of its own ([`IndexDir`]), verifying
//! the tokens of a [`TestIssuer`] in this process. Everything else is its
//! production default (pool of 10, prefetch 256, 2 handler batches of up to 64
//! events, a 64 MB index writer) unless an option says otherwise
//! ([`Overrides`]). Running the
//! process is [`six_bench_support::service`]'s.

use std::{
    path::{Path, PathBuf},
    process::ExitStatus,
};

use anyhow::Context;
use six_bench_support::service::{RunningService, service_binary, service_command};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost};
use uuid::Uuid;

/// The service binary's name, and its directory under `services/`.
const BINARY: &str = "search";

/// Finds the search binary: `explicit` if given; else, under `cargo run`, builds
/// `services/search` (release unless this is a debug build) into this binary's
/// target directory and uses it; else expects it there already.
pub async fn binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    service_binary(BINARY, explicit).await
}

/// What the service runs with besides its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `SEARCH_INDEX_WRITER_MEMORY_BYTES`.
    pub writer_memory_bytes: Option<u64>,
    /// `BUS_HANDLER_BATCH_SIZE`: most events per consumer transaction, and so per
    /// index commit.
    pub handler_batch: Option<usize>,
    /// `BUS_MAX_CONCURRENT_HANDLERS`: consumer transactions at once; the prefetch is
    /// shared among them, so fewer make larger batches (and fewer commits).
    pub handler_concurrency: Option<usize>,
    /// `BUS_PREFETCH`: deliveries the consumer holds.
    pub prefetch: Option<u16>,
}

impl Overrides {
    /// The variables these overrides set.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let mut variables = Vec::new();
        if let Some(bytes) = self.writer_memory_bytes {
            variables.push(("SEARCH_INDEX_WRITER_MEMORY_BYTES", bytes.to_string()));
        }
        if let Some(batch) = self.handler_batch {
            variables.push(("BUS_HANDLER_BATCH_SIZE", batch.to_string()));
        }
        if let Some(concurrency) = self.handler_concurrency {
            variables.push(("BUS_MAX_CONCURRENT_HANDLERS", concurrency.to_string()));
        }
        if let Some(prefetch) = self.prefetch {
            variables.push(("BUS_PREFETCH", prefetch.to_string()));
        }
        variables
    }
}

/// A directory of its own for the index (`SEARCH_INDEX_DIR`), removed with what it
/// holds when dropped.
#[derive(Debug)]
pub struct IndexDir {
    path: PathBuf,
}

impl IndexDir {
    /// Creates `six-bench-search-<uuid>` under `parent`.
    pub fn create(parent: &Path) -> anyhow::Result<Self> {
        let path = parent.join(format!("six-bench-search-{}", Uuid::now_v7().simple()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("create the index directory {}", path.display()))?;
        Ok(Self { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it holds now, every index version's directory (`v<n>/`) included:
    /// bytes of every file and the segments they make up.
    pub fn usage(&self) -> anyhow::Result<DirUsage> {
        let mut files = Vec::new();
        let mut directories = vec![self.path.clone()];
        while let Some(directory) = directories.pop() {
            for entry in std::fs::read_dir(&directory)
                .with_context(|| format!("read {}", directory.display()))?
            {
                let entry = entry?;
                let metadata = entry.metadata()?;
                if metadata.is_dir() {
                    directories.push(entry.path());
                } else if metadata.is_file() {
                    files.push((
                        entry.file_name().to_string_lossy().into_owned(),
                        metadata.len(),
                    ));
                }
            }
        }
        Ok(DirUsage::of(&files))
    }
}

impl Drop for IndexDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!(
                "could not remove the index directory {}: {error}",
                self.path.display()
            );
        }
    }
}

/// The files of a tantivy index directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirUsage {
    /// Bytes of every file.
    pub bytes: u64,
    /// Files.
    pub files: usize,
    /// Segments: the distinct `<segment id>.<part>` prefixes (files of a segment
    /// merged away stay until tantivy's garbage collection removes them).
    pub segments: usize,
}

impl DirUsage {
    /// The usage of `files` (name, bytes).
    fn of(files: &[(String, u64)]) -> Self {
        let mut segments: Vec<&str> = files
            .iter()
            .filter_map(|(name, _)| {
                let (stem, _) = name.split_once('.')?;
                (stem.len() == 32 && stem.bytes().all(|byte| byte.is_ascii_hexdigit()))
                    .then_some(stem)
            })
            .collect();
        segments.sort_unstable();
        segments.dedup();
        Self {
            bytes: files.iter().map(|(_, bytes)| bytes).sum(),
            files: files.len(),
            segments: segments.len(),
        }
    }
}

/// A running search process.
pub struct SearchProcess {
    /// The process.
    pub service: RunningService,
    /// Its database (dropped, with the data, after the process stops).
    pub database: TestDatabase,
    /// Its vhost, where the events are published.
    pub vhost: TestVhost,
}

/// Starts the search service from `binary` with tokens from `issuer` and its index
/// in `index_dir`; returns once it is ready (`/readyz`: database up, consumer
/// connected, so its queue is declared and bound).
pub async fn start(
    binary: &Path,
    issuer: &TestIssuer,
    index_dir: &IndexDir,
    overrides: &Overrides,
) -> anyhow::Result<SearchProcess> {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let mut command = service_command(binary, &database.url(), &vhost.amqp_url());
    command
        .arg("serve")
        .envs(issuer.env_vars())
        .env("SEARCH_INDEX", "tantivy")
        .env("SEARCH_INDEX_DIR", index_dir.path())
        .envs(overrides.variables());
    let service = RunningService::start(BINARY, command).await?;
    Ok(SearchProcess {
        service,
        database,
        vhost,
    })
}

impl SearchProcess {
    /// Sends SIGTERM and waits for the exit; then drops its database and vhost.
    pub async fn stop(self) -> anyhow::Result<ExitStatus> {
        self.service.stop().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_counted_once_across_their_files() {
        let segment = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let files = [
            ("meta.json".to_owned(), 1_000),
            (".managed.json".to_owned(), 200),
            (format!("{segment}.idx"), 5_000),
            (format!("{segment}.store"), 7_000),
            (format!("{other}.term"), 300),
            (format!("{other}.5.del"), 20),
        ];

        let usage = DirUsage::of(&files);

        assert_eq!(usage.bytes, 13_520);
        assert_eq!(usage.files, 6);
        assert_eq!(usage.segments, 2);
    }

    #[test]
    fn usage_counts_the_files_of_every_index_version() {
        let dir = IndexDir::create(&std::env::temp_dir()).expect("a temporary directory");
        let version = dir.path().join("v1");
        std::fs::create_dir(&version).expect("writable");
        std::fs::write(version.join("meta.json"), [0; 10]).expect("writable");
        std::fs::write(
            version.join("0123456789abcdef0123456789abcdef.idx"),
            [0; 100],
        )
        .expect("writable");

        let usage = dir.usage().expect("readable");

        assert_eq!(usage.bytes, 110);
        assert_eq!(usage.files, 2);
        assert_eq!(usage.segments, 1);
    }

    #[test]
    fn only_asked_overrides_are_set() {
        assert!(Overrides::default().variables().is_empty());
        let overrides = Overrides {
            handler_batch: Some(64),
            ..Overrides::default()
        };
        assert_eq!(
            overrides.variables(),
            vec![("BUS_HANDLER_BATCH_SIZE", "64".to_owned())]
        );
    }

    #[test]
    fn an_index_directory_is_removed_with_its_files() {
        let dir = IndexDir::create(&std::env::temp_dir()).expect("a temporary directory");
        let path = dir.path().to_owned();
        std::fs::write(path.join("meta.json"), b"{}").expect("writable");

        assert_eq!(dir.usage().expect("readable").bytes, 2);
        drop(dir);

        assert!(!path.exists());
    }
}
