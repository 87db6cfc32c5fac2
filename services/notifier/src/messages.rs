//! The wording of every notification, in one place: the in-app title and body,
//! and the e-mail's subject, plain text and HTML. Everything that comes from
//! users or other services (names, reasons) is cut to a bounded length and
//! escaped in the HTML.

use reqwest::Url;

use crate::notices::Notice;

/// A notification as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wording {
    /// The in-app title and the e-mail's subject.
    pub title: String,
    /// The message as plain text: the in-app body and the e-mail's text part.
    pub text: String,
    /// A link to act on it, if there is one (e.g. the rejects report).
    pub link: Option<(String, Url)>,
}

/// The links a message can carry, made from the public base URL.
#[derive(Debug, Clone)]
pub struct Links {
    /// `NOTIFIER_PUBLIC_URL`.
    pub public_url: Url,
}

impl Links {
    /// The one-click unsubscribe link carrying `token` (`routes::unsubscribe`).
    pub fn unsubscribe(&self, token: &str) -> Url {
        let mut url = self.at("/v1/unsubscribe");
        url.query_pairs_mut().append_pair("token", token);
        url
    }

    fn at(&self, path: &str) -> Url {
        let mut url = self.public_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url
    }
}

/// Longest name (the recipient's, a contact's) a message shows, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest reason or error a message shows, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// `text`, cut to `max_chars` characters with an ellipsis if it is longer.
pub fn clipped(text: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => {
            let keep = text[..end]
                .char_indices()
                .nth(max_chars - 1)
                .map_or(end, |(at, _)| at);
            std::borrow::Cow::Owned(format!("{}\u{2026}", &text[..keep]))
        }
    }
}

/// What `notice` says to `recipient_name`.
pub fn wording(notice: &Notice, recipient_name: &str, links: &Links) -> Wording {
    let recipient_name = clipped(recipient_name, MAX_NAME_CHARS);
    match notice {
        Notice::Welcome { .. } => Wording {
            title: "Welcome to Six Degrees".to_owned(),
            text: format!(
                "Hello {recipient_name},\n\nyour account is ready. Import your contacts to \
                 search them and to see how you are connected to anyone within six hops."
            ),
            link: None,
        },
        Notice::ImportCompleted {
            import_id,
            rows_read,
            contacts_accepted,
            rows_rejected,
            duplicates,
        } => {
            let mut text = format!(
                "Hello {recipient_name},\n\nyour import has finished: {contacts_accepted} \
                 contacts imported from {rows_read} rows, {duplicates} duplicates merged, \
                 {rows_rejected} rows rejected."
            );
            let link = (*rows_rejected > 0).then(|| {
                text.push_str(" The report says why each rejected row was refused.");
                (
                    "Rejected rows".to_owned(),
                    links.at(&format!("/v1/imports/{import_id}/rejects.csv")),
                )
            });
            Wording {
                title: format!("Your import finished: {contacts_accepted} contacts"),
                text,
                link,
            }
        }
        Notice::ImportFailed {
            reason, rows_read, ..
        } => {
            let reason = clipped(reason, MAX_REASON_CHARS);
            Wording {
                title: "Your import failed".to_owned(),
                text: format!(
                    "Hello {recipient_name},\n\nyour import stopped after {rows_read} rows: \
                 {reason}. Contacts imported before it stopped are kept."
                ),
                link: None,
            }
        }
        Notice::WebhookDisabled {
            url,
            consecutive_failures,
            last_error,
            ..
        } => {
            let last_error = clipped(last_error, MAX_REASON_CHARS);
            Wording {
                title: "A webhook endpoint was turned off".to_owned(),
                text: format!(
                    "Hello {recipient_name},\n\nyour webhook endpoint {url} failed \
                 {consecutive_failures} times in a row (last: {last_error}), so nothing more \
                 is sent to it. Turn it on again once it answers."
                ),
                link: None,
            }
        }
        Notice::Digest {
            local_date,
            notices,
        } => {
            let mut text = format!(
                "Hello {recipient_name},\n\nwhat happened on {}:",
                local_date.format("%A, %-d %B %Y")
            );
            for item in notices {
                let item = wording(item, &recipient_name, links);
                let body = item
                    .text
                    .split_once("\n\n")
                    .map_or(item.text.as_str(), |(_, body)| body);
                text.push_str(&format!("\n\n{}\n{body}", item.title));
                if let Some((label, url)) = item.link {
                    text.push_str(&format!("\n{label}: {url}"));
                }
            }
            Wording {
                title: match notices.len() {
                    1 => "Your day on Six Degrees: 1 notification".to_owned(),
                    count => format!("Your day on Six Degrees: {count} notifications"),
                },
                text,
                link: None,
            }
        }
        Notice::ContactJoined { display_name, .. } => {
            let display_name = clipped(display_name, MAX_NAME_CHARS);
            Wording {
                title: format!("{display_name} joined Six Degrees"),
                text: format!(
                    "Hello {recipient_name},\n\n{display_name}, who is in your contacts, \
                 just created an account."
                ),
                link: None,
            }
        }
    }
}

/// An e-mail's two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailBody {
    pub text: String,
    pub html: String,
}

/// The e-mail of `wording`, ending with the unsubscribe link of its kind.
pub fn email_body(wording: &Wording, unsubscribe: &Url) -> EmailBody {
    let mut text = wording.text.clone();
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n{}\n",
        paragraphs(&wording.text)
    );
    if let Some((label, url)) = &wording.link {
        text.push_str(&format!("\n\n{label}: {url}"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape_html(url.as_str()),
            escape_html(label)
        ));
    }
    text.push_str(&format!(
        "\n\n--\nTo stop e-mails like this one: {unsubscribe}\n"
    ));
    html.push_str(&format!(
        "<hr>\n<p><small><a href=\"{}\">Stop e-mails like this one</a></small></p>\n</body></html>\n",
        escape_html(unsubscribe.as_str())
    ));
    EmailBody { text, html }
}

/// `text`'s blank-line-separated paragraphs as HTML paragraphs, escaped.
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| format!("<p>{}</p>", escape_html(paragraph)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` safe to put in HTML content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn links() -> Links {
        Links {
            public_url: Url::parse("https://six-degrees.example/app/").unwrap(),
        }
    }

    fn unsubscribe() -> Url {
        Url::parse("https://six-degrees.example/v1/unsubscribe?token=t").unwrap()
    }

    #[test]
    fn names_from_events_are_escaped_in_the_html_and_kept_in_the_text() {
        let hostile = "<script>alert('x')</script> & \"Bob\"";
        let notice = Notice::ContactJoined {
            joined_user_id: Uuid::now_v7(),
            display_name: hostile.to_owned(),
            matched_by: six_events::graph::MatchKey::Email,
        };

        let wording = wording(&notice, "Ada", &links());
        let body = email_body(&wording, &unsubscribe());

        assert!(!body.html.contains("<script>"), "{}", body.html);
        assert!(
            body.html.contains(
                "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Bob&quot;"
            )
        );
        assert!(body.text.contains(hostile));
    }

    #[test]
    fn oversized_names_and_reasons_are_cut_with_an_ellipsis() {
        let notice = Notice::ContactJoined {
            joined_user_id: Uuid::now_v7(),
            display_name: "é".repeat(20_000),
            matched_by: six_events::graph::MatchKey::Email,
        };

        let wording = wording(&notice, &"A".repeat(5_000), &links());

        assert_eq!(
            wording.title,
            format!("{}\u{2026} joined Six Degrees", "é".repeat(99))
        );
        assert!(
            wording
                .text
                .starts_with(&format!("Hello {}\u{2026},", "A".repeat(99)))
        );
        assert!(wording.text.chars().count() < 400, "{}", wording.text.len());
        assert_eq!(clipped("short", 10), "short");
        assert_eq!(clipped("exactly10!", 10), "exactly10!");
    }

    #[test]
    fn a_summary_with_rejected_rows_links_to_the_report_under_the_public_url() {
        let import_id = Uuid::now_v7();
        let notice = Notice::ImportCompleted {
            import_id,
            rows_read: 10,
            contacts_accepted: 7,
            rows_rejected: 2,
            duplicates: 1,
        };

        let wording = wording(&notice, "Ada", &links());

        let (_, url) = wording.link.expect("a link to the rejects report");
        assert_eq!(
            url.as_str(),
            format!("https://six-degrees.example/app/v1/imports/{import_id}/rejects.csv")
        );
        assert!(wording.text.contains("7 contacts imported from 10 rows"));
    }

    #[test]
    fn a_summary_without_rejected_rows_has_no_report_link() {
        let notice = Notice::ImportCompleted {
            import_id: Uuid::now_v7(),
            rows_read: 3,
            contacts_accepted: 3,
            rows_rejected: 0,
            duplicates: 0,
        };
        assert_eq!(wording(&notice, "Ada", &links()).link, None);
    }

    #[test]
    fn a_digest_lists_every_notice_of_the_day_without_their_greetings() {
        let digest = Notice::Digest {
            local_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            notices: vec![
                Notice::ContactJoined {
                    joined_user_id: Uuid::now_v7(),
                    display_name: "Bob".to_owned(),
                    matched_by: six_events::graph::MatchKey::Email,
                },
                Notice::ImportCompleted {
                    import_id: Uuid::now_v7(),
                    rows_read: 3,
                    contacts_accepted: 2,
                    rows_rejected: 1,
                    duplicates: 0,
                },
            ],
        };

        let wording = wording(&digest, "Ada", &links());

        assert_eq!(wording.title, "Your day on Six Degrees: 2 notifications");
        assert!(
            wording
                .text
                .starts_with("Hello Ada,\n\nwhat happened on Tuesday, 24 November 2026:")
        );
        assert!(
            wording
                .text
                .contains("Bob joined Six Degrees\nBob, who is in your contacts")
        );
        assert!(
            wording
                .text
                .contains("Rejected rows: https://six-degrees.example/app/v1/imports/")
        );
        assert_eq!(wording.text.matches("Hello").count(), 1);
    }

    #[test]
    fn every_email_ends_with_its_unsubscribe_link() {
        let notice = Notice::Welcome {
            display_name: "Ada".to_owned(),
        };
        let body = email_body(&wording(&notice, "Ada", &links()), &unsubscribe());
        assert!(body.text.trim_end().ends_with(unsubscribe().as_str()));
        assert!(
            body.html
                .contains("href=\"https://six-degrees.example/v1/unsubscribe?token=t\"")
        );
    }
}
