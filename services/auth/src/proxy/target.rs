//! Where a proxied request goes: `/internal/proxy/{provider}/{path}?query` becomes
//! `<API_BASE_URL>/{path}?query`, path and query passed on as the caller encoded
//! them.

use reqwest::Url;

/// Where the proxy's routes start.
pub(super) const PREFIX: &str = "/internal/proxy/";

/// The raw provider name and the raw rest of the path (without its leading `/`),
/// or `None` when `path` is not under [`PREFIX`] with a provider segment.
pub(super) fn split(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix(PREFIX)?.split_once('/')
}

/// The path resolves to a place outside the provider's API base path (dot
/// segments such as `..` or `%2e%2e`).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OutsideBase;

/// `<base>/<rest>?<query>`, refused when it would leave `base`'s origin or path:
/// the provider's token must only ever go to its API.
pub(super) fn upstream_url(
    base: &Url,
    rest: &str,
    query: Option<&str>,
) -> Result<Url, OutsideBase> {
    let mut target = format!("{}/{rest}", base.as_str().trim_end_matches('/'));
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    let url = Url::parse(&target).map_err(|_| OutsideBase)?;
    let base_path = format!("{}/", base.path().trim_end_matches('/'));
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if same_origin && url.path().starts_with(&base_path) {
        Ok(url)
    } else {
        Err(OutsideBase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.acme.test/v3").unwrap()
    }

    #[test]
    fn the_provider_and_the_rest_are_split_raw() {
        assert_eq!(
            split("/internal/proxy/acme/a%2Fb/c"),
            Some(("acme", "a%2Fb/c"))
        );
        assert_eq!(split("/internal/proxy/acme/"), Some(("acme", "")));
        assert_eq!(split("/internal/proxy/acme"), None);
        assert_eq!(split("/elsewhere/acme/x"), None);
    }

    #[test]
    fn path_and_query_are_appended_to_the_base_path_as_encoded() {
        let url = upstream_url(&base(), "contacts/a%20b", Some("q=x%2Fy&page=2")).unwrap();

        assert_eq!(
            url.as_str(),
            "https://api.acme.test/v3/contacts/a%20b?q=x%2Fy&page=2"
        );
    }

    #[test]
    fn an_empty_rest_targets_the_base_itself() {
        let url = upstream_url(&base(), "", None).unwrap();

        assert_eq!(url.as_str(), "https://api.acme.test/v3/");
    }

    #[test]
    fn a_root_base_accepts_any_path() {
        let root = Url::parse("http://127.0.0.1:8080").unwrap();

        let url = upstream_url(&root, "a/b", None).unwrap();

        assert_eq!(url.as_str(), "http://127.0.0.1:8080/a/b");
    }

    #[test]
    fn dot_segments_cannot_climb_out_of_the_base_path() {
        for rest in ["../admin", "x/../../admin", "%2e%2e/admin", ".%2E/admin"] {
            assert_eq!(
                upstream_url(&base(), rest, None),
                Err(OutsideBase),
                "{rest}"
            );
        }
    }

    #[test]
    fn dot_segments_within_the_base_path_are_resolved() {
        let url = upstream_url(&base(), "a/../b", None).unwrap();

        assert_eq!(url.path(), "/v3/b");
    }

    #[test]
    fn a_sibling_path_sharing_the_prefix_is_outside() {
        assert_eq!(
            upstream_url(&base(), "../v3admin/x", None),
            Err(OutsideBase)
        );
    }
}
