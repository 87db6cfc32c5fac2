//! One OAuth2 client-credentials token request (RFC 6749 §4.4) to a provider.
//!
//! The client authenticates with HTTP Basic (RFC 6749 §2.3.1, `client_secret_basic`):
//! the method every authorization server must support, and it keeps the secret out
//! of request bodies that a provider might log. Id and secret are form-urlencoded
//! before the Base64 step, as §2.3.1 requires.
//!
//! Nothing here logs, and no error carries the secret, the token or a response body.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{
    StatusCode, Url,
    header::{ACCEPT, AUTHORIZATION, HeaderValue},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::settings::{ProviderName, ProviderSettings};

/// Largest token answer read; a bigger one is refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Longest OAuth2 `error` code repeated in an error message.
const MAX_ERROR_CODE_CHARS: usize = 64;

/// Where and how to ask one provider for tokens.
#[derive(Debug)]
pub(super) struct TokenEndpoint {
    provider: ProviderName,
    client: reqwest::Client,
    url: Url,
    /// `Basic ...`, marked sensitive so it never prints.
    credentials: HeaderValue,
    scope: Option<String>,
    timeout: Duration,
}

/// A token as the provider issued it.
#[derive(Debug)]
pub(super) struct IssuedToken {
    /// `Bearer <access token>`, marked sensitive so it never prints.
    pub(super) bearer: HeaderValue,
    /// `expires_in`, when the provider sent one.
    pub(super) lifetime: Option<Duration>,
    /// When the request was sent: the lifetime counts from here, to be safe.
    pub(super) requested_at: Instant,
}

/// Why no token was obtained. Cloneable: one failed request answers every caller
/// that was waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum TokenError {
    /// No HTTP answer: connection refused, reset, DNS failure...
    #[error("the token endpoint is unreachable: {0}")]
    Unreachable(String),
    /// No complete answer within the provider's timeout.
    #[error("the token endpoint did not answer within {0} ms")]
    Timeout(u128),
    /// 400 or 401: the provider refuses our client credentials or scopes.
    #[error("the token endpoint refused the client credentials (status {status}, error {error})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth2 `error` code, or `unknown`.
        error: String,
    },
    /// Any other unsuccessful status.
    #[error("the token endpoint failed with status {0}")]
    Failed(u16),
    /// A successful status whose body is not a usable bearer token.
    #[error("the token endpoint's answer is unusable: {0}")]
    Malformed(String),
    /// The request was abandoned (runtime shutting down).
    #[error("the token request was interrupted")]
    Interrupted,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    token_type: String,
    #[serde(default)]
    expires_in: Option<Seconds>,
}

/// `expires_in` as a number, or as a string of digits as some providers send it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
}

impl TokenEndpoint {
    pub(super) fn new(settings: &ProviderSettings) -> Self {
        Self {
            provider: settings.name.clone(),
            client: settings.client.clone(),
            url: settings.token_url.clone(),
            credentials: basic_credentials(&settings.client_id, &settings.client_secret),
            scope: settings.scope.clone(),
            timeout: settings.timeout,
        }
    }

    /// Asks for a new token; the whole exchange is bounded by the provider's timeout.
    #[tracing::instrument(name = "token_request", skip_all, fields(provider = %self.provider))]
    pub(super) async fn request(&self) -> Result<IssuedToken, TokenError> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let requested_at = Instant::now();
        let response = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, self.credentials.clone())
            .header(ACCEPT, "application/json")
            .form(&form)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        let status = response.status();
        let body = self.read_limited(response).await?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        let token = parse_token(&body, requested_at)?;
        tracing::debug!(
            lifetime_secs = token.lifetime.map(|lifetime| lifetime.as_secs()),
            "token obtained"
        );
        Ok(token)
    }

    async fn read_limited(&self, mut response: reqwest::Response) -> Result<Vec<u8>, TokenError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(error))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(TokenError::Malformed(format!(
                    "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, error: reqwest::Error) -> TokenError {
        if error.is_timeout() {
            TokenError::Timeout(self.timeout.as_millis())
        } else {
            TokenError::Unreachable(error_chain(&error.without_url()))
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
fn basic_credentials(client_id: &str, client_secret: &SecretString) -> HeaderValue {
    let pair = SecretString::from(format!(
        "{}:{}",
        form_urlencode(client_id),
        form_urlencode(client_secret.expose_secret())
    ));
    let encoded = SecretString::from(format!("Basic {}", STANDARD.encode(pair.expose_secret())));
    // Base64 output and "Basic " are always valid header characters.
    let mut value = HeaderValue::from_str(encoded.expose_secret())
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// `application/x-www-form-urlencoded` serialisation of one value.
fn form_urlencode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                encoded.push(char::from(byte));
            }
            b' ' => encoded.push('+'),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// The error for an unsuccessful status, with the OAuth2 `error` code when the
/// body has a harmless one (never the body itself).
fn refusal(status: StatusCode, body: &[u8]) -> TokenError {
    if !matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED) {
        return TokenError::Failed(status.as_u16());
    }
    let error = serde_json::from_slice::<ErrorResponse>(body)
        .ok()
        .map(|response| response.error)
        .filter(|code| {
            // error = 1*( %x20-21 / %x23-5B / %x5D-7E ) (RFC 6749 §5.2)
            !code.is_empty()
                && code.len() <= MAX_ERROR_CODE_CHARS
                && code
                    .bytes()
                    .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    TokenError::Refused {
        status: status.as_u16(),
        error,
    }
}

/// Reads a successful answer. Parse errors name where, never what: serde messages
/// can quote the offending value.
fn parse_token(body: &[u8], requested_at: Instant) -> Result<IssuedToken, TokenError> {
    let response: TokenResponse = serde_json::from_slice(body).map_err(|error| {
        TokenError::Malformed(format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ))
    })?;
    if !response.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Malformed("token_type is not Bearer".to_owned()));
    }
    let lifetime = match response.expires_in {
        None => None,
        Some(Seconds::Number(seconds)) => Some(Duration::from_secs(seconds)),
        Some(Seconds::Text(text)) => {
            Some(Duration::from_secs(text.trim().parse().map_err(|_| {
                TokenError::Malformed("expires_in is not a number of seconds".to_owned())
            })?))
        }
    };
    if response.access_token.expose_secret().is_empty() {
        return Err(TokenError::Malformed("access_token is empty".to_owned()));
    }
    let bearer = SecretString::from(format!("Bearer {}", response.access_token.expose_secret()));
    let mut bearer = HeaderValue::from_str(bearer.expose_secret()).map_err(|_| {
        TokenError::Malformed("access_token has characters a header cannot carry".to_owned())
    })?;
    bearer.set_sensitive(true);
    Ok(IssuedToken {
        bearer,
        lifetime,
        requested_at,
    })
}

/// An error and its sources, `a: b: c`, for a one-line message.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_urlencoding_escapes_everything_but_the_unreserved_set() {
        assert_eq!(form_urlencode("a-Z_0.9*"), "a-Z_0.9*");
        assert_eq!(form_urlencode("a b:c/é"), "a+b%3Ac%2F%C3%A9");
    }

    #[test]
    fn basic_credentials_encode_id_and_secret_separately() {
        let value = basic_credentials("my:client", &SecretString::from("p@ss word".to_owned()));

        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "my%3Aclient:p%40ss+word");
        assert!(value.is_sensitive());
    }

    #[test]
    fn a_token_answer_becomes_a_sensitive_bearer_header() {
        let token = parse_token(
            br#"{"access_token":"abc.def","token_type":"bearer","expires_in":3600}"#,
            Instant::now(),
        )
        .unwrap();

        assert_eq!(token.bearer.to_str().unwrap(), "Bearer abc.def");
        assert!(token.bearer.is_sensitive());
        assert_eq!(token.lifetime, Some(Duration::from_secs(3600)));
        assert!(!format!("{token:?}").contains("abc.def"));
    }

    #[test]
    fn expires_in_may_be_a_string_of_digits() {
        let token = parse_token(
            br#"{"access_token":"t","token_type":"Bearer","expires_in":"120"}"#,
            Instant::now(),
        )
        .unwrap();

        assert_eq!(token.lifetime, Some(Duration::from_secs(120)));
    }

    #[test]
    fn a_token_without_expires_in_has_no_known_lifetime() {
        let token = parse_token(
            br#"{"access_token":"t","token_type":"Bearer"}"#,
            Instant::now(),
        )
        .unwrap();

        assert_eq!(token.lifetime, None);
    }

    #[test]
    fn a_token_that_is_not_bearer_is_refused() {
        let error = parse_token(
            br#"{"access_token":"t","token_type":"mac"}"#,
            Instant::now(),
        )
        .unwrap_err();

        assert!(matches!(error, TokenError::Malformed(_)), "{error}");
    }

    #[test]
    fn a_parse_error_never_quotes_the_answer() {
        let error = parse_token(
            br#"{"access_token":"leaked-token","token_type":false}"#,
            Instant::now(),
        )
        .unwrap_err();

        assert!(!error.to_string().contains("leaked-token"), "{error}");
        assert!(!error.to_string().contains("false"), "{error}");
    }

    #[test]
    fn a_refusal_carries_the_oauth_error_code_only() {
        let error = refusal(
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_client","error_description":"secret hunter2 is wrong"}"#,
        );

        let message = error.to_string();
        assert!(message.contains("invalid_client"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn a_refusal_with_an_odd_error_code_reports_it_as_unknown() {
        let error = refusal(
            StatusCode::BAD_REQUEST,
            "{\"error\":\"bad\\\"quote\"}".as_bytes(),
        );

        assert!(
            matches!(&error, TokenError::Refused { error, .. } if error == "unknown"),
            "{error}"
        );
    }

    #[test]
    fn a_server_error_is_a_failure_not_a_refusal() {
        let error = refusal(StatusCode::SERVICE_UNAVAILABLE, b"down");

        assert!(matches!(error, TokenError::Failed(503)), "{error}");
    }
}
