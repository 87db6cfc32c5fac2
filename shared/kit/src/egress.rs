//! Calls to URLs that users give us (a scheduled import's source, a heartbeat
//! URL, a webhook): an HTTP client that reaches only the public internet, so a
//! user cannot make a service fetch `http://169.254.169.254/` or an internal
//! admin port for them (server-side request forgery).
//!
//! [`client_builder`] with [`EgressPolicy::PublicOnly`]:
//! - resolves host names itself and connects only to the public addresses among
//!   the answers (a name that resolves only to private ones is refused), so a
//!   name re-pointed between a check and the connection changes nothing;
//! - refuses URLs whose host is a non-public IP literal, at the start and at
//!   every redirect (at most [`MAX_REDIRECTS`]);
//! - ignores `HTTP_PROXY` and friends, which would connect on the client's behalf.
//!
//! [`EgressPolicy::AnyAddress`] lifts the address checks, for tests and for
//! installations whose sources live on a private network; the operator chooses.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

/// Redirects followed before a call fails.
pub const MAX_REDIRECTS: usize = 5;

/// Which addresses calls to user-given URLs may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressPolicy {
    /// Only public (globally routable) addresses.
    PublicOnly,
    /// Any address, private networks and loopback included.
    AnyAddress,
}

/// Why a user-given URL is not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// Not `http://` or `https://`.
    #[error("only http:// and https:// URLs are fetched, not {0}://")]
    Scheme(String),
    /// `http:///path` and the like.
    #[error("the URL has no host")]
    NoHost,
    /// `https://user:secret@host/`: the secret would be stored and shown.
    #[error("the URL carries credentials; they are not accepted in URLs")]
    Credentials,
    /// The host is, or resolves only to, addresses outside the public internet.
    #[error("{host} is not on the public internet ({address})")]
    NotPublic {
        /// The host as written in the URL.
        host: String,
        /// An address it is or resolves to.
        address: IpAddr,
    },
    /// The host name does not resolve.
    #[error("{host} does not resolve: {reason}")]
    Unresolvable {
        /// The host as written in the URL.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// More than [`MAX_REDIRECTS`] redirects.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

/// Checks what can be checked of `url` without the network: its scheme, host and
/// credentials, and (under [`EgressPolicy::PublicOnly`]) an IP-literal host.
pub fn check_url(url: &Url, policy: EgressPolicy) -> Result<(), UrlRefused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    let host = match url.host() {
        None => return Err(UrlRefused::NoHost),
        Some(host) => host,
    };
    if policy == EgressPolicy::AnyAddress {
        return Ok(());
    }
    let address = match host {
        url::Host::Domain(_) => return Ok(()),
        url::Host::Ipv4(address) => IpAddr::V4(address),
        url::Host::Ipv6(address) => IpAddr::V6(address),
    };
    if is_public(address) {
        Ok(())
    } else {
        Err(UrlRefused::NotPublic {
            host: host.to_string(),
            address,
        })
    }
}

/// A client builder for user-given URLs under `policy` (see the module docs).
/// Add timeouts and build it; check each URL with [`check_url`] before calling.
pub fn client_builder(policy: EgressPolicy) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(redirect_policy(policy));
    match policy {
        EgressPolicy::PublicOnly => builder.dns_resolver(Arc::new(PublicResolver)),
        EgressPolicy::AnyAddress => builder,
    }
}

/// Follows at most [`MAX_REDIRECTS`] redirects, each to a URL [`check_url`]
/// accepts under `policy`.
pub fn redirect_policy(policy: EgressPolicy) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(UrlRefused::TooManyRedirects);
        }
        match check_url(attempt.url(), policy) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// The refusal behind a failed call, if the policy refused it (the error then
/// says why better than reqwest's own text).
pub fn refusal(error: &reqwest::Error) -> Option<&UrlRefused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<UrlRefused>() {
            return Some(refused);
        }
        source = current.source();
    }
    None
}

/// Resolves with the system resolver and keeps the public answers.
struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let answers: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| UrlRefused::Unresolvable {
                    host: host.clone(),
                    reason: error.to_string(),
                })?
                .collect();
            let public: Vec<SocketAddr> = answers
                .iter()
                .copied()
                .filter(|answer| is_public(answer.ip()))
                .collect();
            match (public.is_empty(), answers.first()) {
                (false, _) => Ok(Box::new(public.into_iter()) as Addrs),
                (true, Some(answer)) => Err(UrlRefused::NotPublic {
                    host,
                    address: answer.ip(),
                }
                .into()),
                (true, None) => Err(UrlRefused::Unresolvable {
                    host,
                    reason: "no addresses".to_owned(),
                }
                .into()),
            }
        })
    }
}

/// Whether `address` is on the public internet: not loopback, private, shared
/// (carrier-grade NAT), link-local, documentation, benchmarking, multicast,
/// reserved or unspecified (IANA special-purpose registries), also when an IPv6
/// address embeds an IPv4 one (mapped, NAT64, 6to4).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(a == 0 // "this network"
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = address.segments();
    let embedded_v4 =
        |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match segments {
        // NAT64 (RFC 6052): the IPv4 address is in the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // 6to4 (RFC 3056): the IPv4 address follows the prefix.
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        _ => {
            let first = segments[0];
            !(address.is_unspecified()
                || address.is_loopback()
                || first & 0xfe00 == 0xfc00 // unique local
                || first & 0xffc0 == 0xfe80 // link-local
                || first & 0xffc0 == 0xfec0 // site-local (deprecated)
                || first & 0xff00 == 0xff00 // multicast
                || (first == 0x2001 && segments[1] == 0x0db8) // documentation
                || (first == 0x2001 && segments[1] < 0x0200) // IETF protocol assignments, Teredo
                || (first == 0x0100 && segments[1..4] == [0, 0, 0]) // discard-only
                || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_special_purpose_addresses() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
        ] {
            assert!(
                !is_public(private.parse().unwrap()),
                "{private} is not public"
            );
        }
    }

    fn check(url: &str, policy: EgressPolicy) -> Result<(), UrlRefused> {
        check_url(&Url::parse(url).unwrap(), policy)
    }

    #[test]
    fn urls_are_checked_before_any_call() {
        use EgressPolicy::{AnyAddress, PublicOnly};
        assert_eq!(check("https://example.com/a.csv", PublicOnly), Ok(()));
        assert_eq!(check("http://93.184.215.14:8080/a.csv", PublicOnly), Ok(()));
        assert_eq!(
            check("ftp://example.com/a.csv", PublicOnly),
            Err(UrlRefused::Scheme("ftp".to_owned()))
        );
        assert_eq!(
            check("file:///etc/passwd", AnyAddress),
            Err(UrlRefused::Scheme("file".to_owned()))
        );
        assert_eq!(
            check("https://me:secret@example.com/", AnyAddress),
            Err(UrlRefused::Credentials)
        );
        assert!(matches!(
            check("http://127.0.0.1:5432/", PublicOnly),
            Err(UrlRefused::NotPublic { .. })
        ));
        assert!(matches!(
            check("http://[::ffff:a9fe:a9fe]/latest/meta-data", PublicOnly),
            Err(UrlRefused::NotPublic { .. })
        ));
        // Decimal and short forms are IP literals to the URL parser too.
        assert!(matches!(
            check("http://2130706433/", PublicOnly),
            Err(UrlRefused::NotPublic { .. })
        ));
        assert!(matches!(
            check("http://10.1/", PublicOnly),
            Err(UrlRefused::NotPublic { .. })
        ));
        assert_eq!(check("http://127.0.0.1:5432/", AnyAddress), Ok(()));
    }
}
