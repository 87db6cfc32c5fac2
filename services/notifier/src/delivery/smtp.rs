//! The SMTP client: a pool of lettre connections over sockets opened here.
//!
//! lettre speaks the protocol (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA).
//! Its own pooled transport is not used: it opens sockets without `TCP_NODELAY`
//! and writes a message's data and its terminator `<CRLF>.<CRLF>` apart, so
//! Nagle's algorithm holds the terminator until the server acknowledges the data,
//! which a Linux server delays up to 40 ms: about 40 messages/s per connection.
//! Here every socket has `TCP_NODELAY`, and [`SmtpPool`] bounds each step by the
//! configured deadline (lettre's async client bounds only connecting).

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        extension::ClientId,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Semaphore,
};
use tokio_rustls::{TlsConnector, client::TlsStream, rustls};

use super::email::SendError;

/// A connection idle longer than this is checked with `NOOP` before it is used
/// again: the server may have closed it (a restart, its own idle limit).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(5);

/// A connection idle longer than this is closed rather than used again. RFC 5321
/// (4.5.3.2.7) asks servers to wait at least 5 minutes; this stays well below.
const CLOSE_IDLE_AFTER: Duration = Duration::from_secs(60);

/// How a connection is protected, from `SMTP_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://host`: no TLS.
    Plain,
    /// `smtp://host?tls=opportunistic`: STARTTLS when the server offers it.
    StartTlsIfOffered,
    /// `smtp://host?tls=required`: STARTTLS, or no message at all.
    StartTls,
    /// `smtps://host`: TLS from the first byte (RFC 8314).
    Tls,
}

/// The mail server named by `SMTP_URL`.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl SmtpServer {
    /// Reads `smtp://[user:password@]host[:port][/hello-name][?tls=required|opportunistic]`
    /// or `smtps://[user:password@]host[:port][/hello-name]`. The port defaults to 25
    /// for plain SMTP, 587 with STARTTLS and 465 with TLS. Credentials need TLS: a
    /// password is never sent over a connection that may stay unencrypted.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let url = url::Url::parse(url).map_err(|error| format!("not a URL: {error}"))?;
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            None => return Err("names no host".to_owned()),
        };
        let tls = url
            .query_pairs()
            .find(|(name, _)| name == "tls")
            .map(|(_, value)| value.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("opportunistic")) => (Security::StartTlsIfOffered, 587),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Tls, 465),
            ("smtp" | "smtps", Some(other)) => {
                return Err(format!(
                    "tls={other} is not known: use tls=required or tls=opportunistic with smtp://, nothing with smtps://"
                ));
            }
            (scheme, _) => {
                return Err(format!(
                    "the scheme {scheme}:// is not known: use smtp:// or smtps://"
                ));
            }
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(
                percent_decoded(url.username())?,
                percent_decoded(password)?,
            )),
            None if !url.username().is_empty() => {
                return Err("names a user without a password".to_owned());
            }
            None => None,
        };
        if credentials.is_some() && !matches!(security, Security::StartTls | Security::Tls) {
            return Err(
                "has credentials but does not require TLS: add ?tls=required or use smtps://"
                    .to_owned(),
            );
        }
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello,
        })
    }
}

fn percent_decoded(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "has credentials that are not UTF-8 once percent-decoded".to_owned())
}

/// Up to `size` open connections to one server, reused from one message to the
/// next; a caller waits for a free one when all are busy.
pub struct SmtpPool {
    server: SmtpServer,
    tls: Option<Tls>,
    timeout: Duration,
    permits: Semaphore,
    idle: Mutex<Vec<IdleConnection>>,
}

struct IdleConnection {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// What TLS needs, prepared once: both trust the system's certificate store
/// (`SSL_CERT_FILE` or `SSL_CERT_DIR` replace it).
enum Tls {
    /// lettre upgrades the connection after `STARTTLS`.
    StartTls(TlsParameters),
    /// TLS from the first byte is set up here, before lettre reads the greeting.
    Implicit(TlsConnector, rustls::pki_types::ServerName<'static>),
}

impl SmtpPool {
    /// A pool for `server`; connects lazily, at the first message.
    pub fn new(server: SmtpServer, size: usize, timeout: Duration) -> Result<Self, String> {
        let tls = match server.security {
            Security::Plain => None,
            Security::StartTls | Security::StartTlsIfOffered => Some(Tls::StartTls(
                TlsParameters::new(server.host.clone()).map_err(|error| error.to_string())?,
            )),
            Security::Tls => Some(Tls::Implicit(
                tls_connector()?,
                rustls::pki_types::ServerName::try_from(server.host.clone())
                    .map_err(|error| format!("{}: {error}", server.host))?,
            )),
        };
        Ok(Self {
            server,
            tls,
            timeout,
            permits: Semaphore::new(size),
            idle: Mutex::new(Vec::with_capacity(size)),
        })
    }

    /// Sends one message; returns once the server accepted it.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the pool's semaphore is never closed");
        let mut connection = match self.reusable_connection().await {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        match tokio::time::timeout(self.timeout, connection.send(envelope, message)).await {
            Ok(Ok(_)) => {
                self.keep(connection);
                Ok(())
            }
            // lettre closes the connection after any failed command.
            Ok(Err(error)) if error.is_permanent() => Err(SendError::Refused(error.to_string())),
            Ok(Err(error)) => Err(SendError::Unavailable(error.to_string())),
            Err(_) => Err(SendError::Unavailable(format!(
                "the mail server did not take the message within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The most recently used idle connection that is still good, if any.
    async fn reusable_connection(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let IdleConnection {
                mut connection,
                since,
            } = self.idle.lock().expect("never poisoned").pop()?;
            let idle = since.elapsed();
            if idle >= CLOSE_IDLE_AFTER {
                continue; // dropping it closes the socket
            }
            if idle < CHECK_IDLE_AFTER
                || tokio::time::timeout(self.timeout, connection.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Some(connection);
            }
        }
    }

    fn keep(&self, connection: AsyncSmtpConnection) {
        self.idle
            .lock()
            .expect("never poisoned")
            .push(IdleConnection {
                connection,
                since: Instant::now(),
            });
    }

    /// A new connection, greeted, protected as configured and logged in. Every
    /// failure here may pass (the server down, a setting being fixed), so none
    /// counts as a refusal of the message.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let server = &self.server;
        let unavailable = |error: String| {
            SendError::Unavailable(format!(
                "connecting to {}:{}: {error}",
                server.host, server.port
            ))
        };
        tokio::time::timeout(self.timeout, self.open())
            .await
            .map_err(|_| {
                unavailable(format!(
                    "no greeting, TLS or login within {} ms",
                    self.timeout.as_millis()
                ))
            })?
            .map_err(unavailable)
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, String> {
        let server = &self.server;
        let socket = connect_socket(&server.host, server.port).await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Some(Tls::Implicit(connector, name)) => Box::new(TlsSocket(
                connector
                    .connect(name.clone(), socket)
                    .await
                    .map_err(|error| format!("TLS: {error}"))?,
            )),
            _ => Box::new(socket),
        };
        let mut connection = AsyncSmtpConnection::connect_with_transport(stream, &server.hello)
            .await
            .map_err(|error| error.to_string())?;
        if let Some(Tls::StartTls(parameters)) = &self.tls {
            if connection.can_starttls() {
                connection
                    .starttls(parameters.clone(), &server.hello)
                    .await
                    .map_err(|error| format!("STARTTLS: {error}"))?;
            } else if server.security == Security::StartTls {
                connection.quit().await.ok();
                return Err(
                    "the server does not offer STARTTLS, which SMTP_URL requires (tls=required)"
                        .to_owned(),
                );
            }
        }
        if let Some(credentials) = &server.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|error| format!("login: {error}"))?;
        }
        Ok(connection)
    }
}

/// A TCP connection to the first of `host`'s addresses that answers, with
/// `TCP_NODELAY`: an SMTP client waits for an answer after every write.
async fn connect_socket(host: &str, port: u16) -> Result<TcpStream, String> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| format!("resolving the name: {error}"))?;
    let mut failures = Vec::new();
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(socket) => {
                socket
                    .set_nodelay(true)
                    .map_err(|error| format!("setting TCP_NODELAY: {error}"))?;
                return Ok(socket);
            }
            Err(error) => failures.push((address, error)),
        }
    }
    Err(match failures.as_slice() {
        [] => "the name has no address".to_owned(),
        [(_, error)] => error.to_string(),
        several => several
            .iter()
            .map(|(address, error)| format!("{address}: {error}"))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn tls_connector() -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        return Err(format!(
            "no trusted certificate authority found in the system's store (or SSL_CERT_FILE / SSL_CERT_DIR): {:?}",
            native.errors
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| error.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A TLS connection lettre can speak SMTP over.
#[derive(Debug)]
struct TlsSocket(TlsStream<TcpStream>);

impl AsyncRead for TlsSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(context, buffer)
    }
}

impl AsyncWrite for TlsSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(context, buffer)
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(context)
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(context)
    }
}

impl AsyncTokioStream for TlsSocket {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_security_port_and_credentials() {
        let plain = SmtpServer::from_url("smtp://mail.example").unwrap();
        assert_eq!((plain.security, plain.port), (Security::Plain, 25));
        assert!(plain.credentials.is_none());

        let submission = SmtpServer::from_url(
            "smtp://notifier:p%40ss%2Fword@mail.example/six-degrees.example?tls=required",
        )
        .unwrap();
        assert_eq!(
            (submission.security, submission.port),
            (Security::StartTls, 587)
        );
        assert_eq!(
            submission.credentials,
            Some(Credentials::new("notifier".into(), "p@ss/word".into()))
        );
        assert_eq!(
            submission.hello,
            ClientId::Domain("six-degrees.example".into())
        );

        let tls = SmtpServer::from_url("smtps://n:p@[::1]:2465").unwrap();
        assert_eq!(
            (tls.security, tls.port, tls.host.as_str()),
            (Security::Tls, 2465, "::1")
        );

        let opportunistic = SmtpServer::from_url("smtp://mail.example?tls=opportunistic").unwrap();
        assert_eq!(opportunistic.security, Security::StartTlsIfOffered);
    }

    #[test]
    fn urls_that_would_misbehave_are_refused_with_the_reason() {
        for (url, reason) in [
            ("http://mail.example", "the scheme http:// is not known"),
            ("smtp://mail.example?tls=yes", "tls=yes is not known"),
            (
                "smtps://mail.example?tls=required",
                "tls=required is not known",
            ),
            ("smtp://user:secret@mail.example", "does not require TLS"),
            (
                "smtp://user:secret@mail.example?tls=opportunistic",
                "does not require TLS",
            ),
            (
                "smtp://user@mail.example?tls=required",
                "without a password",
            ),
            ("smtp:///no-host", "names no host"),
        ] {
            let error = SmtpServer::from_url(url).unwrap_err();
            assert!(error.contains(reason), "{url}: {error}");
        }
    }
}
