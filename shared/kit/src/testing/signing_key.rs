//! Ed25519 keys of the test issuer, with their public JWK and RFC 7638 `kid`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, ThumbprintHash,
    },
};
use rand_core::{OsRng, RngCore};

/// A fresh Ed25519 key pair as auth would load it.
pub(crate) struct TestSigningKey {
    /// RFC 7638 thumbprint of the public JWK, as auth computes it.
    pub kid: String,
    /// The public key as published in the JWKS.
    pub jwk: Jwk,
    /// The raw public key (what an HS256 confusion attack would use as secret).
    pub public_key: [u8; 32],
    encoding_key: EncodingKey,
}

impl TestSigningKey {
    /// Generates a key from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0_u8; 32];
        OsRng.fill_bytes(&mut seed);
        let signing_key = SigningKey::from_bytes(&seed);
        let pkcs8 = signing_key
            .to_pkcs8_der()
            .expect("an Ed25519 key always encodes as PKCS#8");
        let public_key = signing_key.verifying_key().to_bytes();
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(public_key),
            }),
        };
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("an Ed25519 JWK always has a thumbprint");
        jwk.common.key_id = Some(kid.clone());
        Self {
            kid,
            jwk,
            public_key,
            encoding_key: EncodingKey::from_ed_der(pkcs8.as_bytes()),
        }
    }

    /// Signs `claims` as an access token (`EdDSA`, `typ` `at+jwt`) naming `kid`.
    pub fn sign(&self, kid: Option<&str>, typ: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .expect("a JSON value signs with an Ed25519 key")
    }
}
