//! The SMTP client against servers that take mail only over TLS and after a login:
//! STARTTLS and TLS from the first byte, each with the certificate checked against
//! `SSL_CERT_FILE` and the password percent-decoded from `SMTP_URL`; and a server
//! without STARTTLS when `SMTP_URL` requires it.

mod common;

use std::time::Duration;

use common::{Backlog, SMTP_LOGIN, SinkSecurity, SmtpSink};
use six_testkit::{ServiceProcess, wait_for};

const USERS: i64 = 3;

/// Each of the backlog's users gets their welcome, over an encrypted connection
/// on which the notifier logged in.
async fn welcomes_arrive_over(security: SinkSecurity) {
    let backlog = Backlog::for_sink(SmtpSink::start_secured(security).await, USERS).await;
    let _notifier = ServiceProcess::spawn(backlog.command());

    let received = backlog.smtp.wait_for_messages(USERS as usize).await;

    assert_eq!(received.len() as i64, USERS);
    for mail in received {
        assert!(mail.tls, "sent over an unencrypted connection: {mail:?}");
        assert_eq!(mail.login.as_deref(), Some(SMTP_LOGIN), "{mail:?}");
    }
}

#[tokio::test]
async fn starttls_with_a_login_carries_every_email() {
    welcomes_arrive_over(SinkSecurity::StartTls).await;
}

#[tokio::test]
async fn tls_from_the_first_byte_with_a_login_carries_every_email() {
    welcomes_arrive_over(SinkSecurity::Tls).await;
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing_when_tls_is_required() {
    let backlog = Backlog::of(1).await;
    let mut command = backlog.command();
    command.env("SMTP_URL", format!("{}?tls=required", backlog.smtp.url()));
    let _notifier = ServiceProcess::spawn(command);

    let pool = backlog.database.pool();
    let (attempts, state, last_error): (i32, String, String) = wait_for(
        Duration::from_secs(30),
        "the e-mail to be tried twice",
        || async {
            sqlx::query_as(
                "SELECT attempts, state, last_error FROM deliveries
                 WHERE attempts >= 2 AND last_error IS NOT NULL",
            )
            .fetch_optional(&pool)
            .await
            .unwrap()
        },
    )
    .await;

    assert!(
        last_error.contains("does not offer STARTTLS"),
        "attempt {attempts}: {last_error}"
    );
    assert_eq!(state, "pending", "a failure that may pass is tried again");
    assert!(
        backlog.smtp.messages().is_empty(),
        "nothing went out in clear"
    );
}
