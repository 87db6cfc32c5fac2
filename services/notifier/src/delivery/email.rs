//! E-mail over SMTP with `lettre`: pooled connections, a deadline on every
//! command, STARTTLS or TLS as `SMTP_URL` says.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, header::HeaderName, header::HeaderValue},
    transport::smtp::PoolConfig,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::{messages::EmailBody, settings::SmtpSettings};

/// Why an e-mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused for good (a 5xx answer, e.g. an unknown mailbox):
    /// sending again would not help.
    #[error("the mail server refused the message: {0}")]
    Refused(String),
    /// Anything that may pass: the server unreachable, a timeout, a 4xx answer.
    #[error("the mail server could not take the message now: {0}")]
    Unavailable(String),
    /// The message could not be built (an address the builder refuses).
    #[error("the message could not be built: {0}")]
    Invalid(String),
}

/// One e-mail to send.
pub struct Email<'a> {
    /// The delivery it is for: its `Message-ID` is made from it, so a copy sent
    /// again after a crash carries the same one.
    pub delivery_id: Uuid,
    pub to_name: &'a str,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub body: &'a EmailBody,
    /// The kind's unsubscribe link (`List-Unsubscribe`, one-click per RFC 8058).
    pub unsubscribe_url: &'a str,
}

/// Sends e-mail through the configured server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `settings`; connects lazily, at the first message.
    pub fn new(settings: &SmtpSettings) -> Result<Self, lettre::transport::smtp::Error> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose_secret())?
                .timeout(Some(settings.timeout))
                .pool_config(PoolConfig::new().max_size(settings.pool_size))
                .build();
        Ok(Self {
            transport,
            from: settings.from.clone(),
        })
    }

    /// Sends `email`; returns once the server accepted it.
    pub async fn send(&self, email: &Email<'_>) -> Result<(), SendError> {
        let message = self.message(email)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| {
                if error.is_permanent() {
                    SendError::Refused(error.to_string())
                } else {
                    SendError::Unavailable(error.to_string())
                }
            })
    }

    fn message(&self, email: &Email<'_>) -> Result<Message, SendError> {
        let to_address = email
            .to_address
            .parse()
            .map_err(|error| SendError::Invalid(format!("recipient address: {error}")))?;
        let domain = self.from.email.domain();
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(email.to_name.to_owned()), to_address))
            .subject(email.subject)
            .date_now()
            .message_id(Some(format!("<{}@{domain}>", email.delivery_id)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", email.unsubscribe_url),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                email.body.text.clone(),
                email.body.html.clone(),
            ))
            .map_err(|error| SendError::Invalid(error.to_string()))
    }
}
