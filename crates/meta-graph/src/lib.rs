//! Typed async client for Meta's Graph API as the CRM uses it: OAuth,
//! Marketing API, Lead Ads, WhatsApp Cloud API, Conversions API, plus
//! webhook verification and payload types.
//!
//! The base URL is configuration: `https://graph.facebook.com` in
//! production, the local sandbox in tests and demos.
//!
//! ```no_run
//! # async fn demo() -> Result<(), meta_graph::GraphError> {
//! use meta_graph::{AccessToken, AppSecret, GraphClient, GraphConfig};
//! let client = GraphClient::new(GraphConfig::new("app-id", AppSecret::new("secret")))?;
//! let session = client.session(AccessToken::new("user-token"));
//! let accounts = session.my_ad_accounts().await?;
//! println!("{} ad accounts; usage {:.0}%", accounts.len(), session.last_usage().max_pct());
//! # Ok(()) }
//! ```

pub mod capi;
pub mod client;
pub mod error;
pub mod leads;
pub mod marketing;
pub mod money;
pub mod oauth;
pub mod secret;
pub mod usage;
pub mod webhook;
pub mod whatsapp;

pub use capi::{ActionSource, CrmEvent, EventsResponse, hash_email, hash_phone};
pub use client::{
    BatchRequest, BatchResponse, GraphClient, GraphConfig, GraphRequest, GraphResponse,
    Idempotency, MAX_BATCH, Page, Paging, Session,
};
pub use error::{GraphError, MetaError, TransientKind};
pub use leads::{FieldData, FormQuestion, Lead, LeadgenForm, PageAccount};
pub use marketing::{
    Ad, AdAccount, AdSet, Business, Campaign, InsightsLevel, InsightsPeriod, InsightsQuery,
    InsightsRow, ReportRun, ReportState, TimeIncrement,
};
pub use money::{
    MoneyError, currency_exponent, format_minor, meta_offset_amount_to_minor, parse_money,
};
pub use oauth::{DebugToken, LoginScope, Me, Permission, TokenResponse};
pub use secret::{AccessToken, AppSecret};
pub use usage::Usage;
pub use webhook::{
    ChangeValue, SignedRequest, SignedRequestError, WebhookEnvelope, parse_signed_request,
    sign_body, verify_challenge, verify_signature,
};
pub use whatsapp::{
    MessageTemplate, NewTemplate, PhoneNumber, Recipient, SendComponent, SendParameter, SendResult,
    TemplateEdit, TemplateMessage, Waba,
};
