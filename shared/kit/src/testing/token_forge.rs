//! [`TokenForge`]: mints access tokens with one Ed25519 key as auth does, and every
//! kind of token verification must refuse ([`BadToken`]).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    SigningKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{
        AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
        OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, ThumbprintHash,
    },
};
use rand_core::{OsRng, RngCore};
use serde_json::json;
use uuid::Uuid;

use crate::auth::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};

/// Lifetime of the tokens it mints unless told otherwise (auth's default
/// `AUTH_ACCESS_TOKEN_TTL_SECS`).
pub(crate) const TOKEN_LIFETIME_SECS: u64 = 900;

/// A token that must be refused, for [`TokenForge::bad_user_token`]. Each is a
/// user token that is right in every other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadToken {
    /// `exp` an hour ago.
    Expired,
    /// `nbf` in an hour.
    NotYetValid,
    /// `iat` in an hour.
    IssuedInFuture,
    /// `aud` of another audience.
    WrongAudience,
    /// `iss` of another issuer.
    WrongIssuer,
    /// Unsigned: `alg` is `none` and the signature empty.
    AlgNone,
    /// `alg` `HS256`, the HMAC keyed with the published public key's bytes: the
    /// algorithm confusion attack.
    Hs256WithPublicKey,
    /// Signed by a key the JWKS does not publish (its `kid` is unknown).
    UnknownKid,
    /// No `kid` in the header.
    MissingKid,
    /// `typ` `JWT` instead of `at+jwt`.
    WrongType,
    /// Claims changed after signing.
    BadSignature,
}

impl BadToken {
    /// Every kind, for tests that try them all.
    pub const ALL: [BadToken; 11] = [
        BadToken::Expired,
        BadToken::NotYetValid,
        BadToken::IssuedInFuture,
        BadToken::WrongAudience,
        BadToken::WrongIssuer,
        BadToken::AlgNone,
        BadToken::Hs256WithPublicKey,
        BadToken::UnknownKid,
        BadToken::MissingKid,
        BadToken::WrongType,
        BadToken::BadSignature,
    ];
}

/// One Ed25519 key pair, with its public JWK and RFC 7638 `kid` as auth computes
/// them, minting tokens with the claims of `docs/tokens.md` (default issuer and
/// audience). The [`super::TestIssuer`] signs with these; auth's own tests load
/// auth's key file into one to forge tokens auth must refuse.
pub struct TokenForge {
    kid: String,
    /// The public key as published in the JWKS.
    pub(crate) jwk: Jwk,
    /// The raw public key (what an HS256 confusion attack uses as secret).
    public_key: [u8; 32],
    encoding_key: EncodingKey,
}

impl TokenForge {
    /// A forge with a fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0_u8; 32];
        OsRng.fill_bytes(&mut seed);
        Self::from_signing_key(&SigningKey::from_bytes(&seed))
    }

    /// A forge with the key of a PKCS#8 PEM file's text, as auth reads its keys.
    ///
    /// # Panics
    /// If `pem` is not an Ed25519 private key in PKCS#8 PEM.
    pub fn from_pkcs8_pem(pem: &str) -> Self {
        let key = SigningKey::from_pkcs8_pem(pem).expect("an Ed25519 private key in PKCS#8 PEM");
        Self::from_signing_key(&key)
    }

    fn from_signing_key(signing_key: &SigningKey) -> Self {
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

    /// The key's `kid` (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The claims of a user token for `user_id`, valid from now for 15 minutes;
    /// change them and [`TokenForge::sign`] them to test claim checks.
    pub fn user_claims(&self, user_id: Uuid) -> serde_json::Value {
        access_claims("user", &user_id.to_string(), TOKEN_LIFETIME_SECS)
    }

    /// The claims of a service token for `client_id`, valid from now for 15 minutes.
    pub fn service_claims(&self, client_id: &str) -> serde_json::Value {
        access_claims("service", client_id, TOKEN_LIFETIME_SECS)
    }

    /// `claims` signed as auth signs: EdDSA, `typ` `at+jwt`, this key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_with(Some(&self.kid), "at+jwt", claims)
    }

    /// A valid user token.
    pub fn user_token(&self, user_id: Uuid) -> String {
        self.sign(&self.user_claims(user_id))
    }

    /// A valid service token.
    pub fn service_token(&self, client_id: &str) -> String {
        self.sign(&self.service_claims(client_id))
    }

    /// A user token for `user_id` that verification must refuse, for the reason
    /// `kind` names.
    pub fn bad_user_token(&self, user_id: Uuid, kind: BadToken) -> String {
        let mut claims = self.user_claims(user_id);
        let now = jsonwebtoken::get_current_timestamp();
        match kind {
            BadToken::Expired => {
                claims["iat"] = json!(now - 7200);
                claims["nbf"] = json!(now - 7200);
                claims["exp"] = json!(now - 3600);
            }
            BadToken::NotYetValid => {
                claims["nbf"] = json!(now + 3600);
                claims["exp"] = json!(now + 7200);
            }
            BadToken::IssuedInFuture => {
                claims["iat"] = json!(now + 3600);
                claims["exp"] = json!(now + 7200);
            }
            BadToken::WrongAudience => claims["aud"] = json!("another-audience"),
            BadToken::WrongIssuer => claims["iss"] = json!("another-issuer"),
            BadToken::AlgNone => {
                let header = json!({"alg": "none", "typ": "at+jwt", "kid": self.kid});
                return format!("{}.{}.", encode_part(&header), encode_part(&claims));
            }
            BadToken::Hs256WithPublicKey => {
                let mut header = Header::new(Algorithm::HS256);
                header.typ = Some("at+jwt".to_owned());
                header.kid = Some(self.kid.clone());
                let key = EncodingKey::from_secret(&self.public_key);
                return jsonwebtoken::encode(&header, &claims, &key)
                    .expect("HMAC signing cannot fail");
            }
            BadToken::UnknownKid => return Self::generate().sign(&claims),
            BadToken::MissingKid => return self.sign_with(None, "at+jwt", &claims),
            BadToken::WrongType => return self.sign_with(Some(&self.kid), "JWT", &claims),
            BadToken::BadSignature => {
                let signed = self.sign(&claims);
                claims["sub"] = json!(Uuid::now_v7().to_string());
                let (header, rest) = signed.split_once('.').expect("a JWS has three parts");
                let (_, signature) = rest.split_once('.').expect("a JWS has three parts");
                return format!("{header}.{}.{signature}", encode_part(&claims));
            }
        }
        self.sign(&claims)
    }

    /// Signs `claims` with EdDSA, `typ` and `kid` as given.
    fn sign_with(&self, kid: Option<&str>, typ: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding_key)
            .expect("a JSON value signs with an Ed25519 key")
    }
}

/// The claims of `docs/tokens.md`, valid from now for `lifetime_secs`.
pub(crate) fn access_claims(kind: &str, sub: &str, lifetime_secs: u64) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "sub": sub,
        "kind": kind,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_secs,
        "jti": Uuid::now_v7(),
    })
}

fn encode_part(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON values serialize"))
}
