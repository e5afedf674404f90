//! Typed async client for Meta's Graph API as the CRM uses it: OAuth,
//! Marketing API, Lead Ads, WhatsApp Cloud API, Conversions API, plus
//! webhook verification and payload types.
//!
//! The base URL is configuration: `https://graph.facebook.com` in
//! production, the local sandbox in tests and demos.

pub mod client;
pub mod error;
pub mod marketing;
pub mod money;
pub mod oauth;
pub mod secret;
pub mod usage;
pub mod webhook;

pub use client::{
    BatchRequest, BatchResponse, GraphClient, GraphConfig, GraphRequest, GraphResponse,
    Idempotency, MAX_BATCH, Page, Paging, Session,
};
pub use error::{GraphError, MetaError, TransientKind};
pub use money::{MoneyError, currency_exponent, meta_offset_amount_to_minor, parse_money};
pub use secret::{AccessToken, AppSecret};
pub use usage::Usage;
pub use webhook::{
    ChangeValue, SignedRequest, SignedRequestError, WebhookEnvelope, parse_signed_request,
    verify_challenge, verify_signature,
};
