//! E-mail: messages built with `lettre` and sent through [`SmtpPool`].

use std::sync::Arc;

use lettre::{
    Message,
    message::{Mailbox, MultiPart, header::HeaderName, header::HeaderValue},
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::smtp::{SmtpPool, SmtpServer};
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
    pool: Arc<SmtpPool>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `settings`; connects lazily, at the first message. Fails when
    /// `SMTP_URL` is not usable, saying why.
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let server = SmtpServer::from_url(settings.url.expose_secret())?;
        let pool = SmtpPool::new(server, settings.pool_size as usize, settings.timeout)?;
        Ok(Self {
            pool: Arc::new(pool),
            from: settings.from.clone(),
        })
    }

    /// Sends `email`; returns once the server accepted it.
    pub async fn send(&self, email: &Email<'_>) -> Result<(), SendError> {
        let message = self.message(email)?;
        self.pool
            .send(message.envelope(), &message.formatted())
            .await
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
