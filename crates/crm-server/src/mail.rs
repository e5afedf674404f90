//! Outgoing e-mail over SMTP (`lettre`), when `CRM_SMTP_URL` is set.
//!
//! Used for password-reset links. A message that cannot be delivered is
//! logged (without its link) and not retried: the person asks again.

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Secret;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials.
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The mailer for `url` (`smtp://…`, `smtps://…`; see lettre's connection
    /// URLs), or none when no URL is configured.
    pub fn from_config(url: Option<&Secret>, from: &str) -> anyhow::Result<Option<Self>> {
        let Some(url) = url.map(|u| u.0.trim()).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("CRM_SMTP_URL is not a valid SMTP URL: {e}"))?
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("CRM_SMTP_FROM is not an e-mail address: {e}"))?;
        Ok(Some(Self { transport, from }))
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let to: Mailbox = to.parse()?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport.send(msg).await?;
        Ok(())
    }
}

/// The password-reset message in the tenant's language.
pub fn reset_message(locale: &str, name: &str, link: &str, by_admin: bool) -> (String, String) {
    if locale == "en" {
        let why = if by_admin {
            "An administrator of your CRM Ventas asked for a new password for you."
        } else {
            "Someone (hopefully you) asked to reset your CRM Ventas password."
        };
        (
            "Reset your CRM Ventas password".into(),
            format!(
                "Hello {name},\n\n{why}\n\nOpen this link within 30 minutes to choose a new password (it works once):\n\n{link}\n\nIf you did not ask for this, ignore this message: your password stays as it is.\n"
            ),
        )
    } else {
        let why = if by_admin {
            "Un administrador de tu CRM Ventas pidió una contraseña nueva para vos."
        } else {
            "Alguien (esperamos que vos) pidió restablecer tu contraseña de CRM Ventas."
        };
        (
            "Restablecé tu contraseña de CRM Ventas".into(),
            format!(
                "Hola {name}:\n\n{why}\n\nAbrí este enlace dentro de los próximos 30 minutos para elegir una contraseña nueva (sirve una sola vez):\n\n{link}\n\nSi no lo pediste, ignorá este mensaje: tu contraseña no cambia.\n"
            ),
        )
    }
}

/// The link a reset token opens. The token goes in the fragment, which
/// browsers never send to the server (no access log or Referer shows it).
pub fn reset_link(public_url: &str, secret: &str) -> String {
    format!("{public_url}/reset-password#token={secret}")
}
