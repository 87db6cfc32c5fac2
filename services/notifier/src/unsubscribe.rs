//! Unsubscribe links: a token that lets whoever holds an e-mail turn that kind of
//! e-mail (or, from a daily digest, every e-mail) off for its recipient, without
//! signing in (RFC 8058 one-click). The token names the user and the scope and
//! carries an HMAC-SHA256 of both under `NOTIFIER_UNSUBSCRIBE_SECRET`, so it
//! cannot be made for another user or scope. It never expires: an old e-mail's
//! link keeps working.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

use crate::notices::Kind;

/// Makes and checks unsubscribe tokens.
#[derive(Clone)]
pub struct UnsubscribeKeys {
    secret: SecretString,
}

/// What a valid token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe {
    pub user_id: Uuid,
    pub scope: Scope,
}

/// Which e-mails a link turns off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The e-mails of one kind (the link of that kind's e-mails).
    Kind(Kind),
    /// Every e-mail (the link of a daily digest).
    AllEmail,
}

impl Scope {
    const ALL_EMAIL: &'static str = "all";

    fn as_str(self) -> &'static str {
        match self {
            Scope::Kind(kind) => kind.as_str(),
            Scope::AllEmail => Self::ALL_EMAIL,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        if name == Self::ALL_EMAIL {
            Some(Scope::AllEmail)
        } else {
            Kind::parse(name).map(Scope::Kind)
        }
    }

    /// What the link turns off, for people.
    pub fn describe(self) -> String {
        match self {
            Scope::Kind(kind) => format!("e-mails of the kind \u{201c}{}\u{201d}", kind.as_str()),
            Scope::AllEmail => "every e-mail, the daily digest included".to_owned(),
        }
    }
}

impl UnsubscribeKeys {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    /// The token for `user_id` and `scope`: `<user id>.<kind or "all">.<signature>`.
    pub fn token(&self, user_id: Uuid, scope: Scope) -> String {
        let payload = format!("{}.{}", user_id.simple(), scope.as_str());
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// What `token` allows, if it was made with this key.
    pub fn check(&self, token: &str) -> Option<Unsubscribe> {
        let (payload, signature) = token.rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(payload).verify_slice(&signature).ok()?;
        let (user_id, scope) = payload.split_once('.')?;
        Some(Unsubscribe {
            user_id: Uuid::parse_str(user_id).ok()?,
            scope: Scope::parse(scope)?,
        })
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(payload.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> UnsubscribeKeys {
        UnsubscribeKeys::new(SecretString::from(secret.to_owned()))
    }

    #[test]
    fn a_token_names_its_user_and_kind() {
        let keys = keys("0123456789abcdef0123456789abcdef");
        let user_id = Uuid::now_v7();

        let token = keys.token(user_id, Scope::Kind(Kind::ContactJoined));
        let digest_token = keys.token(user_id, Scope::AllEmail);

        assert_eq!(
            keys.check(&token),
            Some(Unsubscribe {
                user_id,
                scope: Scope::Kind(Kind::ContactJoined)
            })
        );
        assert_eq!(
            keys.check(&digest_token).map(|allowed| allowed.scope),
            Some(Scope::AllEmail)
        );
    }

    #[test]
    fn a_token_edited_for_another_user_or_kind_or_made_with_another_key_is_refused() {
        let keys = keys("0123456789abcdef0123456789abcdef");
        let user_id = Uuid::now_v7();
        let token = keys.token(user_id, Scope::Kind(Kind::ContactJoined));
        let signature = token.rsplit_once('.').unwrap().1;

        let other_user = format!("{}.contact_joined.{signature}", Uuid::now_v7().simple());
        let other_kind = format!("{}.welcome.{signature}", user_id.simple());
        let other_scope = format!("{}.all.{signature}", user_id.simple());
        let other_key = self::keys("another key, also 32 bytes long..")
            .token(user_id, Scope::Kind(Kind::ContactJoined));

        assert_eq!(keys.check(&other_user), None);
        assert_eq!(keys.check(&other_kind), None);
        assert_eq!(keys.check(&other_scope), None);
        assert_eq!(keys.check(&other_key), None);
        assert_eq!(keys.check("garbage"), None);
        assert_eq!(keys.check(""), None);
    }
}
