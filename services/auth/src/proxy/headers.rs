//! Which headers cross the proxy, each way.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message,
//! so they stop here, as do the headers the caller's `Connection` header names.
//! Everything else passes through unchanged, in both directions.

use axum::http::{
    HeaderMap,
    header::{AUTHORIZATION, CONNECTION, EXPECT, HOST},
};

/// Hop-by-hop headers, lowercase.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The caller's headers as sent upstream: without hop-by-hop headers, without
/// `Host` (the upstream's is derived from its URL), without `Expect` (already
/// answered by our server) and without the caller's own `Authorization`, which is
/// replaced by the provider token.
pub(super) fn for_upstream(caller: &HeaderMap) -> HeaderMap {
    let mut headers = end_to_end(caller);
    headers.remove(HOST);
    headers.remove(EXPECT);
    headers.remove(AUTHORIZATION);
    headers
}

/// The upstream's response headers as returned to the caller: without hop-by-hop
/// headers.
pub(super) fn for_caller(upstream: &HeaderMap) -> HeaderMap {
    end_to_end(upstream)
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let connection_listed: Vec<String> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str)
            || connection_listed.iter().any(|listed| listed == name_str)
        {
            continue;
        }
        kept.append(name.clone(), value.clone());
    }
    kept
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_never_reach_the_upstream() {
        let caller = headers(&[
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("accept", "application/json"),
        ]);

        let sent = for_upstream(&caller);

        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent["accept"], "application/json");
    }

    #[test]
    fn headers_named_by_connection_are_dropped_too() {
        let caller = headers(&[
            ("connection", "close, X-Session-Hop"),
            ("x-session-hop", "1"),
            ("x-end-to-end", "2"),
        ]);

        let sent = for_upstream(&caller);

        assert!(!sent.contains_key("x-session-hop"), "{sent:?}");
        assert_eq!(sent["x-end-to-end"], "2");
    }

    #[test]
    fn the_callers_authorization_host_and_expect_are_not_forwarded() {
        let caller = headers(&[
            ("authorization", "Bearer caller-token"),
            ("host", "auth.internal"),
            ("expect", "100-continue"),
            ("content-length", "12"),
        ]);

        let sent = for_upstream(&caller);

        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent["content-length"], "12");
    }

    #[test]
    fn repeated_headers_keep_every_value() {
        let caller = headers(&[("accept", "text/plain"), ("accept", "text/html")]);

        let sent = for_upstream(&caller);

        assert_eq!(sent.get_all("accept").iter().count(), 2);
    }

    #[test]
    fn responses_lose_only_hop_by_hop_headers() {
        let upstream = headers(&[
            ("transfer-encoding", "chunked"),
            ("www-authenticate", "Bearer error=\"invalid_token\""),
            ("set-cookie", "a=1"),
        ]);

        let returned = for_caller(&upstream);

        assert_eq!(returned.len(), 2, "{returned:?}");
        assert!(!returned.contains_key("transfer-encoding"));
    }
}
