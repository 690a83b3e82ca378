//! The `email` sink: SMTP through lettre with rustls. Credentials come from
//! `WATCHWORD_SMTP_USER` and `WATCHWORD_SMTP_PASSWORD`, never from the config file.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::{Content, Markup, TopicTitles};
use super::{Retry, SendError};
use crate::config::EmailTls;

/// The environment variables that hold SMTP credentials.
pub const USER_VAR: &str = "WATCHWORD_SMTP_USER";
pub const PASSWORD_VAR: &str = "WATCHWORD_SMTP_PASSWORD";

/// A connected-on-demand SMTP transport and the envelope.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the transport; the addresses are parsed here so a bad one is reported at start.
    pub fn new(
        host: &str,
        port: u16,
        tls: EmailTls,
        from: &str,
        to: &[String],
        credentials: Option<(String, String)>,
        timeout: Duration,
    ) -> Result<Mailer, String> {
        let builder = match tls {
            EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            EmailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|error| format!("smtp {host}: {error}"))?,
            EmailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|error| format!("smtp {host}: {error}"))?,
        };
        let mut builder = builder.port(port).timeout(Some(timeout));
        // The config's user and password, else the environment's.
        let credentials = credentials.or_else(|| {
            Some((
                std::env::var(USER_VAR).ok()?,
                std::env::var(PASSWORD_VAR).ok()?,
            ))
        });
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let parse = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|error| format!("email address {address:?}: {error}"))
        };
        Ok(Mailer {
            transport: builder.build(),
            from: parse(from)?,
            to: to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
        })
    }

    /// Sends the batch as one email with a text and an HTML part.
    pub async fn send(
        &self,
        template: Option<&str>,
        content: &Content<'_>,
        titles: &TopicTitles,
    ) -> Result<(), SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(content.subject(titles));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                content.text(template, Markup::Plain, titles),
                content.text(template, Markup::Html, titles),
            ))
            .map_err(|error| SendError {
                message: format!("cannot build the email: {error}"),
                retry: Retry::Never,
            })?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| SendError {
                retry: if error.is_permanent() {
                    Retry::Never
                } else {
                    Retry::Backoff
                },
                message: format!("smtp: {error}"),
            })
    }
}
