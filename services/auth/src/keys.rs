//! Signing keys: Ed25519 keys read from PKCS#8 PEM files, the first of which signs;
//! all of them are published in the JWKS so tokens signed by a retired key stay
//! verifiable until they expire.

use std::path::{Path, PathBuf};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
use jsonwebtoken::EncodingKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A key that can sign, with its identifier.
pub struct ActiveKey {
    /// RFC 7638 thumbprint of the public key, sent as `kid`.
    pub kid: String,
    /// The private key in the form `jsonwebtoken` signs with.
    pub encoding: EncodingKey,
}

/// The public half of a key, as published in the JWKS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublicJwk {
    kty: &'static str,
    crv: &'static str,
    /// The public key, base64url.
    x: String,
    /// The thumbprint.
    pub kid: String,
    alg: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
}

/// The JWKS document.
#[derive(Debug, Clone, Serialize)]
pub struct Jwks {
    /// Every key that may have signed a token still valid.
    pub keys: Vec<PublicJwk>,
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read signing key {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an Ed25519 private key in PKCS#8 PEM.
    #[error(
        "{path} is not an Ed25519 private key in PKCS#8 PEM (make one with `openssl genpkey -algorithm ed25519`)"
    )]
    Format {
        /// The file.
        path: PathBuf,
    },
    /// No file was given.
    #[error("no signing key given")]
    Empty,
}

/// The configured keys: the first signs, all verify.
pub struct SigningKeys {
    active: ActiveKey,
    jwks: Jwks,
}

impl SigningKeys {
    /// Reads the keys in `paths`, the signing key first.
    pub fn load(paths: &[PathBuf]) -> Result<Self, KeyError> {
        let keys = paths
            .iter()
            .map(|path| read_key(path))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_keys(&keys).ok_or(KeyError::Empty)
    }

    /// The keys given, the signing key first; `None` when there is none.
    pub fn from_keys(keys: &[SigningKey]) -> Option<Self> {
        let first = keys.first()?;
        let der = first.to_pkcs8_der().ok()?;
        let active = ActiveKey {
            kid: thumbprint(first),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
        };
        let mut published: Vec<PublicJwk> = Vec::new();
        for key in keys {
            let jwk = public_jwk(key);
            if !published.contains(&jwk) {
                published.push(jwk);
            }
        }
        Some(Self {
            active,
            jwks: Jwks { keys: published },
        })
    }

    /// The key new tokens are signed with.
    pub fn active(&self) -> &ActiveKey {
        &self.active
    }

    /// The public keys to publish.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

fn read_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Format {
        path: path.to_owned(),
    })
}

fn public_jwk(key: &SigningKey) -> PublicJwk {
    PublicJwk {
        kty: "OKP",
        crv: "Ed25519",
        x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        kid: thumbprint(key),
        alg: "EdDSA",
        usage: "sig",
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no spaces.
fn thumbprint(key: &SigningKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_matches_rfc_8037_appendix_a3() {
        // The RFC's example key: d = nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A.
        let secret = base64::engine::general_purpose::STANDARD
            .decode("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
            .unwrap();
        let key = SigningKey::from_bytes(&secret.try_into().unwrap());
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn the_first_key_signs_and_every_key_is_published_once() {
        let first = SigningKey::from_bytes(&[1; 32]);
        let second = SigningKey::from_bytes(&[2; 32]);
        let keys = SigningKeys::from_keys(&[first.clone(), second, first.clone()]).unwrap();
        assert_eq!(keys.active().kid, thumbprint(&first));
        assert_eq!(keys.jwks().keys.len(), 2);
    }

    #[test]
    fn a_file_that_is_not_a_key_is_named_in_the_error() {
        let path = std::env::temp_dir().join(format!("not-a-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, "hello").unwrap();
        let error = SigningKeys::load(std::slice::from_ref(&path))
            .err()
            .unwrap()
            .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains(&path.display().to_string()), "{error}");
    }
}
