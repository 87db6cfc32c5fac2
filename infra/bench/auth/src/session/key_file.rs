//! The signing key the service under test is started with: a fresh Ed25519 key in a
//! temporary PKCS#8 PEM file, removed when dropped.

use std::path::PathBuf;

use anyhow::Context;
use ed25519_dalek::{
    SigningKey,
    pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding},
};
use rand_core::{OsRng, RngCore};

/// A key file that lives as long as this value.
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    /// Writes a new random key to a file of the temporary directory.
    pub fn generate() -> anyhow::Result<Self> {
        let mut secret = [0_u8; 32];
        OsRng.fill_bytes(&mut secret);
        let pem = SigningKey::from_bytes(&secret)
            .to_pkcs8_pem(LineEnding::LF)
            .context("encode the signing key")?;
        let path =
            std::env::temp_dir().join(format!("six-bench-auth-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, pem.as_bytes())
            .with_context(|| format!("write {}", path.display()))?;
        Ok(Self { path })
    }

    /// The file's path, as `AUTH_SIGNING_KEY_FILES` takes it.
    pub fn path(&self) -> anyhow::Result<&str> {
        self.path
            .to_str()
            .with_context(|| format!("{} is not UTF-8", self.path.display()))
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            eprintln!(
                "session-load: could not remove {}: {error}",
                self.path.display()
            );
        }
    }
}
