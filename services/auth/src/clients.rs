//! Service clients: the other services' credentials for the client credentials
//! grant, from `AUTH_SERVICE_CLIENTS` (`id:secret,id:secret`).

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Shortest secret accepted for a client.
const MIN_SECRET_CHARS: usize = 32;

/// The configured clients; secrets are kept as SHA-256 digests only.
#[derive(Default)]
pub struct ServiceClients {
    digests: HashMap<String, [u8; 32]>,
}

impl ServiceClients {
    /// Parses `id:secret` pairs separated by commas; `Err` says what is wrong without
    /// quoting any secret.
    pub fn parse(value: &SecretString) -> Result<Self, String> {
        let mut digests = HashMap::new();
        for (position, pair) in value
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .enumerate()
        {
            let entry = position + 1;
            let Some((client_id, secret)) = pair.split_once(':') else {
                return Err(format!("entry {entry} is not `client_id:secret`"));
            };
            let valid_id = !client_id.is_empty()
                && client_id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid_id {
                return Err(format!(
                    "entry {entry}: the client id must be lowercase letters, digits and dashes"
                ));
            }
            if secret.chars().count() < MIN_SECRET_CHARS {
                return Err(format!(
                    "entry {entry} ({client_id}): the secret must have at least {MIN_SECRET_CHARS} characters"
                ));
            }
            if digests
                .insert(
                    client_id.to_owned(),
                    Sha256::digest(secret.as_bytes()).into(),
                )
                .is_some()
            {
                return Err(format!("client {client_id} is listed twice"));
            }
        }
        Ok(Self { digests })
    }

    /// Whether `secret` is `client_id`'s. Compares digests in constant time, and
    /// does the same work for an unknown client.
    pub fn authenticate(&self, client_id: &str, secret: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let expected = self.digests.get(client_id);
        let reference = expected.copied().unwrap_or([0; 32]);
        let difference = presented
            .iter()
            .zip(reference.iter())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
        expected.is_some() && difference == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_client_authenticates_with_its_own_secret_only() {
        let clients =
            ServiceClients::parse(&format!("graph:{SECRET}, api:{SECRET}x").into()).unwrap();
        assert!(clients.authenticate("graph", SECRET));
        assert!(!clients.authenticate("graph", &format!("{SECRET}x")));
        assert!(clients.authenticate("api", &format!("{SECRET}x")));
        assert!(!clients.authenticate("search", SECRET));
    }

    #[test]
    fn bad_entries_are_explained_without_the_secret() {
        for (value, expected) in [
            ("graph", "entry 1 is not"),
            (&format!("Graph:{SECRET}") as &str, "lowercase"),
            ("graph:short", "at least 32"),
            (&format!("graph:{SECRET},graph:{SECRET}"), "twice"),
        ] {
            let error = ServiceClients::parse(&value.to_owned().into())
                .err()
                .unwrap();
            assert!(error.contains(expected), "{value}: {error}");
            assert!(!error.contains(SECRET), "{error}");
        }
    }
}
