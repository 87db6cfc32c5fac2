//! The proxy's configuration: which upstream providers exist and how to reach
//! them, parsed once at start-up so the rest of the proxy only sees valid values.

use std::{fmt, time::Duration};

use reqwest::Url;
use secrecy::SecretString;
use six_kit::config::{ConfigError, Env};

/// Variable listing the providers, comma-separated.
const PROVIDERS_VAR: &str = "AUTH_PROXY_PROVIDERS";

/// Deadline of each upstream call when `AUTH_PROXY_<NAME>_TIMEOUT_MS` is unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every configured provider, in the order of `AUTH_PROXY_PROVIDERS`.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    /// One entry per provider; names are unique.
    pub providers: Vec<ProviderSettings>,
}

/// How to obtain tokens from one provider and where its API lives.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The name callers use in `/internal/proxy/{provider}/...`.
    pub name: ProviderName,
    /// The OAuth2 token endpoint (`AUTH_PROXY_<NAME>_TOKEN_URL`).
    pub token_url: Url,
    /// The OAuth2 client id (`AUTH_PROXY_<NAME>_CLIENT_ID`).
    pub client_id: String,
    /// The OAuth2 client secret (`AUTH_PROXY_<NAME>_CLIENT_SECRET`); never printed.
    pub client_secret: SecretString,
    /// The scopes requested, space-separated, or `None` to request the
    /// provider's default (`AUTH_PROXY_<NAME>_SCOPES`).
    pub scope: Option<String>,
    /// Where `/internal/proxy/{provider}/{path}` is forwarded to, without a
    /// trailing slash (`AUTH_PROXY_<NAME>_API_BASE_URL`).
    pub api_base_url: Url,
    /// Deadline of each upstream call (`AUTH_PROXY_<NAME>_TIMEOUT_MS`): connecting,
    /// then until the answer's headers arrive (sending the request body included),
    /// then between two pieces of the answer's body; a token request must finish
    /// entirely within it.
    pub timeout: Duration,
    /// The HTTP client for this provider, built from the settings above.
    pub(super) client: reqwest::Client,
}

/// A provider name: lowercase ASCII letters, digits and `-`, not empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderName(String);

impl ProviderName {
    /// Longest name accepted (variable names stay readable).
    const MAX_CHARS: usize = 64;

    /// Accepts `[a-z0-9-]{1,64}`.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.is_empty() || name.len() > Self::MAX_CHARS {
            return Err(format!(
                "a provider name must have 1 to {} characters",
                Self::MAX_CHARS
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "provider name `{name}` may only contain a-z, 0-9 and -"
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as callers write it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of one of this provider's variables, e.g. `AUTH_PROXY_ACME_CRM_TOKEN_URL`
    /// for `acme-crm` and `TOKEN_URL`.
    pub fn variable(&self, suffix: &str) -> String {
        format!(
            "AUTH_PROXY_{}_{suffix}",
            self.0.to_ascii_uppercase().replace('-', "_")
        )
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ProxySettings {
    /// Reads AUTH_PROXY_PROVIDERS and each provider's variables; empty list = no providers.
    ///
    /// Also builds each provider's HTTP client, so a client that cannot be built
    /// (no TLS backend, unreadable resolver configuration) stops the service at
    /// start-up rather than failing requests later.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let listed: String = env.optional(PROVIDERS_VAR, String::new())?;
        let mut providers: Vec<ProviderSettings> = Vec::new();
        for raw in listed
            .split(',')
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
        {
            let name = ProviderName::parse(raw).map_err(|reason| invalid(PROVIDERS_VAR, reason))?;
            if providers.iter().any(|provider| provider.name == name) {
                return Err(invalid(
                    PROVIDERS_VAR,
                    format!("provider `{name}` is listed twice"),
                ));
            }
            providers.push(ProviderSettings::from_env(name, env)?);
        }
        Ok(Self { providers })
    }
}

impl ProviderSettings {
    fn from_env(name: ProviderName, env: &Env) -> Result<Self, ConfigError> {
        let token_url_var = name.variable("TOKEN_URL");
        let token_url = http_url(
            &token_url_var,
            env.required(
                &token_url_var,
                "the provider's OAuth2 token endpoint, e.g. https://login.example.com/oauth/token",
            )?,
        )?;
        let client_id_var = name.variable("CLIENT_ID");
        let client_id: String = env.required(
            &client_id_var,
            "the OAuth2 client id issued by the provider",
        )?;
        let client_secret = env.secret(
            &name.variable("CLIENT_SECRET"),
            "the OAuth2 client secret issued by the provider",
        )?;
        let scopes_var = name.variable("SCOPES");
        let scope = scope(&scopes_var, &env.optional(&scopes_var, String::new())?)?;
        let api_var = name.variable("API_BASE_URL");
        let api_base_url = http_url(
            &api_var,
            env.required(
                &api_var,
                "where the provider's API lives, e.g. https://api.example.com/v3",
            )?,
        )?;
        if api_base_url.query().is_some() {
            return Err(invalid(&api_var, "the base URL must not have a query"));
        }
        let timeout_var = name.variable("TIMEOUT_MS");
        let timeout = env.millis(&timeout_var, DEFAULT_TIMEOUT)?;
        if timeout.is_zero() {
            return Err(invalid(&timeout_var, "must be greater than zero"));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                invalid(
                    PROVIDERS_VAR,
                    format!("cannot build the HTTP client of provider `{name}`: {error}"),
                )
            })?;
        Ok(Self {
            name,
            token_url,
            client_id,
            client_secret,
            scope,
            api_base_url: without_trailing_slash(api_base_url),
            timeout,
            client,
        })
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// An absolute `http` or `https` URL without credentials or fragment.
fn http_url(name: &str, url: Url) -> Result<Url, ConfigError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(name, "the URL must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(invalid(name, "the URL must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            name,
            "the URL must not carry credentials (they would end up in logs)",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid(name, "the URL must not have a fragment"));
    }
    Ok(url)
}

fn without_trailing_slash(mut url: Url) -> Url {
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    url
}

/// The scopes as one space-separated string (RFC 6749 §3.3), or `None` when empty.
fn scope(name: &str, value: &str) -> Result<Option<String>, ConfigError> {
    let scopes: Vec<&str> = value.split_whitespace().collect();
    // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII but `"` and `\`.
    let valid = |scope: &&str| {
        scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    };
    if let Some(bad) = scopes.iter().find(|scope| !valid(scope)) {
        let position = scopes.iter().position(|scope| scope == bad).unwrap_or(0) + 1;
        return Err(invalid(
            name,
            format!("scope number {position} has characters RFC 6749 forbids"),
        ));
    }
    Ok((!scopes.is_empty()).then(|| scopes.join(" ")))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn acme() -> Env {
        Env::from_pairs([
            ("AUTH_PROXY_PROVIDERS", "acme-crm"),
            (
                "AUTH_PROXY_ACME_CRM_TOKEN_URL",
                "https://login.acme.test/oauth/token",
            ),
            ("AUTH_PROXY_ACME_CRM_CLIENT_ID", "six-degrees"),
            ("AUTH_PROXY_ACME_CRM_CLIENT_SECRET", "very-secret-value"),
            (
                "AUTH_PROXY_ACME_CRM_API_BASE_URL",
                "https://api.acme.test/v3/",
            ),
        ])
    }

    fn error_of(env: &Env) -> String {
        ProxySettings::from_env(env).unwrap_err().to_string()
    }

    #[test]
    fn no_listed_providers_means_an_empty_proxy() {
        let settings = ProxySettings::from_env(&Env::default()).unwrap();

        assert!(settings.providers.is_empty());
    }

    #[test]
    fn a_complete_provider_is_read_with_its_defaults() {
        let settings = ProxySettings::from_env(&acme()).unwrap();

        let [provider] = settings.providers.as_slice() else {
            panic!("expected one provider, got {settings:?}");
        };
        assert_eq!(provider.name.as_str(), "acme-crm");
        assert_eq!(
            provider.token_url.as_str(),
            "https://login.acme.test/oauth/token"
        );
        assert_eq!(provider.client_id, "six-degrees");
        assert_eq!(provider.client_secret.expose_secret(), "very-secret-value");
        assert_eq!(provider.scope, None);
        assert_eq!(provider.api_base_url.as_str(), "https://api.acme.test/v3");
        assert_eq!(provider.timeout, Duration::from_secs(10));
    }

    #[test]
    fn every_missing_provider_variable_is_named_in_the_error() {
        for suffix in ["TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "API_BASE_URL"] {
            let variable = format!("AUTH_PROXY_ACME_CRM_{suffix}");
            let mut env = acme();
            env.set(&variable, "");

            let error = error_of(&env);

            assert!(error.contains(&variable), "{error}");
            assert!(error.contains("required"), "{error}");
        }
    }

    #[test]
    fn a_provider_name_outside_the_alphabet_is_refused() {
        let mut env = acme();
        env.set("AUTH_PROXY_PROVIDERS", "acme-crm,Big_Corp");

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_PROVIDERS"), "{error}");
        assert!(error.contains("Big_Corp"), "{error}");
    }

    #[test]
    fn a_provider_listed_twice_is_refused() {
        let mut env = acme();
        env.set("AUTH_PROXY_PROVIDERS", "acme-crm, acme-crm");

        let error = error_of(&env);

        assert!(error.contains("listed twice"), "{error}");
    }

    #[test]
    fn blanks_and_empty_entries_in_the_list_are_ignored() {
        let mut env = acme();
        env.set("AUTH_PROXY_PROVIDERS", " , acme-crm ,, ");

        let settings = ProxySettings::from_env(&env).unwrap();

        assert_eq!(settings.providers.len(), 1);
    }

    #[test]
    fn a_url_that_is_not_http_is_named_in_the_error() {
        let mut env = acme();
        env.set("AUTH_PROXY_ACME_CRM_API_BASE_URL", "ftp://api.acme.test");

        let error = error_of(&env);

        assert!(
            error.contains("AUTH_PROXY_ACME_CRM_API_BASE_URL"),
            "{error}"
        );
    }

    #[test]
    fn a_url_that_does_not_parse_is_named_without_echoing_it() {
        let mut env = acme();
        env.set("AUTH_PROXY_ACME_CRM_TOKEN_URL", "not a url at all");

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_ACME_CRM_TOKEN_URL"), "{error}");
        assert!(!error.contains("not a url at all"), "{error}");
    }

    #[test]
    fn a_url_with_credentials_is_refused() {
        let mut env = acme();
        env.set(
            "AUTH_PROXY_ACME_CRM_TOKEN_URL",
            "https://user:pass@login.acme.test/token",
        );

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_ACME_CRM_TOKEN_URL"), "{error}");
        assert!(!error.contains("pass@"), "{error}");
    }

    #[test]
    fn a_base_url_with_a_query_is_refused() {
        let mut env = acme();
        env.set(
            "AUTH_PROXY_ACME_CRM_API_BASE_URL",
            "https://api.acme.test/v3?key=1",
        );

        let error = error_of(&env);

        assert!(
            error.contains("AUTH_PROXY_ACME_CRM_API_BASE_URL"),
            "{error}"
        );
    }

    #[test]
    fn scopes_are_normalised_to_single_spaces() {
        let mut env = acme();
        env.set(
            "AUTH_PROXY_ACME_CRM_SCOPES",
            "  contacts.read \t calendar  ",
        );

        let settings = ProxySettings::from_env(&env).unwrap();

        assert_eq!(
            settings.providers[0].scope.as_deref(),
            Some("contacts.read calendar")
        );
    }

    #[test]
    fn a_scope_with_a_forbidden_character_is_named_in_the_error() {
        let mut env = acme();
        env.set("AUTH_PROXY_ACME_CRM_SCOPES", "read wr\"ite");

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_ACME_CRM_SCOPES"), "{error}");
        assert!(error.contains("number 2"), "{error}");
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let mut env = acme();
        env.set("AUTH_PROXY_ACME_CRM_TIMEOUT_MS", "0");

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_ACME_CRM_TIMEOUT_MS"), "{error}");
    }

    #[test]
    fn a_timeout_that_is_not_a_number_is_named_in_the_error() {
        let mut env = acme();
        env.set("AUTH_PROXY_ACME_CRM_TIMEOUT_MS", "soon");

        let error = error_of(&env);

        assert!(error.contains("AUTH_PROXY_ACME_CRM_TIMEOUT_MS"), "{error}");
    }

    #[test]
    fn the_client_secret_never_appears_in_debug_output() {
        let settings = ProxySettings::from_env(&acme()).unwrap();

        let printed = format!("{settings:?}");

        assert!(!printed.contains("very-secret-value"), "{printed}");
    }

    #[test]
    fn a_hyphenated_name_maps_to_underscored_variables() {
        let name = ProviderName::parse("acme-crm-2").unwrap();

        assert_eq!(name.variable("SCOPES"), "AUTH_PROXY_ACME_CRM_2_SCOPES");
    }
}
