//! Webhook helpers: `X-Hub-Signature-256` verification, the subscribe
//! handshake, `signed_request` parsing, and payload types for the fields the
//! CRM subscribes to.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

use crate::secret::AppSecret;

type HmacSha256 = Hmac<Sha256>;

/// Verifies `X-Hub-Signature-256: sha256=<hex>` over the raw body bytes in
/// constant time. Fails closed: an empty secret, a missing prefix or bad hex
/// all return `false`.
pub fn verify_signature(app_secret: &AppSecret, raw_body: &[u8], header_value: &str) -> bool {
    let secret = app_secret.expose();
    if secret.is_empty() {
        return false;
    }
    let Some(hex_sig) = header_value.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(raw_body);
    mac.verify_slice(&sig).is_ok()
}

/// Computes the `X-Hub-Signature-256` header value for a body (useful for
/// tests and for replaying stored events).
pub fn sign_body(app_secret: &AppSecret, raw_body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(crate::secret::hmac_sha256(
            app_secret.expose().as_bytes(),
            raw_body
        ))
    )
}

/// The subscribe handshake: returns the challenge to echo (with HTTP 200)
/// when `hub.mode` is `subscribe` and `hub.verify_token` equals the expected
/// token (compared in constant time); `None` means answer 403. An empty
/// expected token never matches.
pub fn verify_challenge<'a>(
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &str,
) -> Option<&'a str> {
    if expected_token.is_empty() || mode != Some("subscribe") {
        return None;
    }
    let given = verify_token?;
    let challenge = challenge?;
    if given.as_bytes().ct_eq(expected_token.as_bytes()).into() {
        Some(challenge)
    } else {
        None
    }
}

/// Why a `signed_request` was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignedRequestError {
    #[error("signed_request must be <signature>.<payload>")]
    Malformed,
    #[error("signed_request is not valid base64url")]
    Encoding,
    #[error("signed_request payload is not JSON: {0}")]
    Payload(String),
    #[error("signed_request uses unsupported algorithm {0:?}")]
    Algorithm(String),
    #[error("signed_request signature does not match")]
    BadSignature,
    #[error("app secret is empty")]
    NoSecret,
}

/// The decoded payload of a Meta `signed_request` (deauthorize and
/// data-deletion callbacks).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SignedRequest {
    pub algorithm: String,
    #[serde(default)]
    pub issued_at: Option<i64>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub expires: Option<i64>,
    /// Everything else in the payload.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn b64url_decode(s: &str) -> Result<Vec<u8>, SignedRequestError> {
    let trimmed = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE.decode(s))
        .map_err(|_| SignedRequestError::Encoding)
}

/// Verifies and decodes `signed_request` = base64url(HMAC-SHA256(secret,
/// payload_b64)) "." base64url(JSON payload).
pub fn parse_signed_request(
    app_secret: &AppSecret,
    signed_request: &str,
) -> Result<SignedRequest, SignedRequestError> {
    if app_secret.expose().is_empty() {
        return Err(SignedRequestError::NoSecret);
    }
    let (sig_b64, payload_b64) = signed_request
        .trim()
        .split_once('.')
        .ok_or(SignedRequestError::Malformed)?;
    if sig_b64.is_empty() || payload_b64.is_empty() || payload_b64.contains('.') {
        return Err(SignedRequestError::Malformed);
    }
    let sig = b64url_decode(sig_b64)?;
    let payload = b64url_decode(payload_b64)?;
    let mut mac = HmacSha256::new_from_slice(app_secret.expose().as_bytes())
        .map_err(|_| SignedRequestError::NoSecret)?;
    mac.update(payload_b64.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| SignedRequestError::BadSignature)?;
    let parsed: SignedRequest =
        serde_json::from_slice(&payload).map_err(|e| SignedRequestError::Payload(e.to_string()))?;
    if !parsed.algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(SignedRequestError::Algorithm(parsed.algorithm));
    }
    Ok(parsed)
}

/// Builds a `signed_request` (for tests and the sandbox's callbacks).
pub fn make_signed_request(app_secret: &AppSecret, payload: &serde_json::Value) -> String {
    let payload_b64 = URL_SAFE_NO_PAD.encode(payload.to_string());
    let sig = crate::secret::hmac_sha256(app_secret.expose().as_bytes(), payload_b64.as_bytes());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(sig), payload_b64)
}

pub(crate) fn opt_string_or_number<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

pub(crate) fn string_or_number<'de, D>(d: D) -> Result<String, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(opt_string_or_number(d)?.unwrap_or_default())
}

pub(crate) fn opt_i64_lenient<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

// ---------------------------------------------------------------------------
// Payload types
// ---------------------------------------------------------------------------

/// The outer webhook body: `{object, entry:[...]}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebhookEnvelope {
    /// `page`, `whatsapp_business_account`, …
    pub object: String,
    #[serde(default)]
    pub entry: Vec<WebhookEntry>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebhookEntry {
    /// Page id or WABA id.
    #[serde(deserialize_with = "string_or_number", default)]
    pub id: String,
    #[serde(default, deserialize_with = "opt_i64_lenient")]
    pub time: Option<i64>,
    #[serde(default)]
    pub changes: Vec<WebhookChange>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebhookChange {
    pub field: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// A typed change value.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeValue {
    Leadgen(LeadgenChange),
    Messages(Box<WhatsAppValue>),
    TemplateStatus(TemplateStatusUpdate),
    TemplateQuality(TemplateQualityUpdate),
    TemplateCategory(TemplateCategoryUpdate),
    PhoneNumberQuality(PhoneNumberQualityUpdate),
    UserPreferences(UserPreferencesValue),
    /// A field this crate has no type for; the raw value is kept.
    Other {
        field: String,
        value: serde_json::Value,
    },
}

impl WebhookEnvelope {
    /// Parses the raw body. Verify the signature first.
    pub fn from_slice(raw_body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(raw_body)
    }
}

impl WebhookChange {
    /// Decodes `value` according to `field`.
    pub fn parse(&self) -> Result<ChangeValue, serde_json::Error> {
        let v = self.value.clone();
        Ok(match self.field.as_str() {
            "leadgen" => ChangeValue::Leadgen(serde_json::from_value(v)?),
            "messages" => ChangeValue::Messages(Box::new(serde_json::from_value(v)?)),
            "message_template_status_update" => {
                ChangeValue::TemplateStatus(serde_json::from_value(v)?)
            }
            "message_template_quality_update" => {
                ChangeValue::TemplateQuality(serde_json::from_value(v)?)
            }
            "template_category_update" => ChangeValue::TemplateCategory(serde_json::from_value(v)?),
            "phone_number_quality_update" => {
                ChangeValue::PhoneNumberQuality(serde_json::from_value(v)?)
            }
            "user_preferences" => ChangeValue::UserPreferences(serde_json::from_value(v)?),
            other => ChangeValue::Other {
                field: other.to_string(),
                value: v,
            },
        })
    }
}

/// `leadgen` change: ids only, never the answers.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LeadgenChange {
    #[serde(deserialize_with = "string_or_number")]
    pub leadgen_id: String,
    #[serde(deserialize_with = "string_or_number", default)]
    pub page_id: String,
    #[serde(deserialize_with = "string_or_number", default)]
    pub form_id: String,
    /// Absent for organic and test leads.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub ad_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub adgroup_id: Option<String>,
    #[serde(default, deserialize_with = "opt_i64_lenient")]
    pub created_time: Option<i64>,
}

/// The `messages` field value of a WhatsApp webhook.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WhatsAppValue {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub metadata: Option<WaMetadata>,
    #[serde(default)]
    pub contacts: Vec<WaContact>,
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
    #[serde(default)]
    pub statuses: Vec<MessageStatus>,
    #[serde(default)]
    pub errors: Vec<WaError>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaMetadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// Route the event to a tenant by this id.
    #[serde(default, deserialize_with = "string_or_number")]
    pub phone_number_id: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaContact {
    #[serde(default)]
    pub profile: Option<WaProfile>,
    /// May be omitted for users who adopted a username.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), e.g. `US.1349…`.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaProfile {
    #[serde(default)]
    pub name: Option<String>,
}

/// An inbound WhatsApp message.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct InboundMessage {
    /// Sender phone (wa_id); may be absent for username users.
    #[serde(default)]
    pub from: Option<String>,
    /// Sender BSUID.
    #[serde(default)]
    pub from_user_id: Option<String>,
    pub id: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<WaText>,
    #[serde(default)]
    pub context: Option<WaContext>,
    /// Click-to-WhatsApp ad attribution, on the first message after a click.
    #[serde(default)]
    pub referral: Option<Referral>,
    #[serde(default)]
    pub button: Option<WaButtonReply>,
    #[serde(default)]
    pub interactive: Option<serde_json::Value>,
    /// Media and other type-specific objects (image, audio, location, …).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl InboundMessage {
    /// Unix seconds from the string timestamp.
    pub fn timestamp_secs(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaText {
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaContext {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaButtonReply {
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// Click-to-WhatsApp referral. `source_id` is the ad id when `source_type` is `ad`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Referral {
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub source_id: Option<String>,
    #[serde(default)]
    pub source_type: Option<String>,
    #[serde(default)]
    pub headline: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub video_url: Option<String>,
    #[serde(default)]
    pub thumbnail_url: Option<String>,
    #[serde(default)]
    pub ctwa_clid: Option<String>,
    #[serde(default)]
    pub welcome_message: Option<WaText2>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaText2 {
    #[serde(default)]
    pub text: Option<String>,
}

/// A delivery status for a message the business sent.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct MessageStatus {
    /// The wamid.
    pub id: String,
    /// sent, delivered, read, played, failed.
    pub status: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: String,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
    #[serde(default)]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pub conversation: Option<WaConversation>,
    #[serde(default)]
    pub pricing: Option<WaPricing>,
    #[serde(default)]
    pub errors: Vec<WaError>,
}

impl MessageStatus {
    pub fn timestamp_secs(&self) -> Option<i64> {
        self.timestamp.trim().parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaConversation {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub expiration_timestamp: Option<String>,
    #[serde(default)]
    pub origin: Option<WaOrigin>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaOrigin {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaPricing {
    #[serde(default)]
    pub pricing_model: Option<String>,
    #[serde(default)]
    pub billable: Option<bool>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
}

/// An error inside a status or message webhook.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<WaErrorData>,
    #[serde(default)]
    pub href: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct WaErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

/// `message_template_status_update`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct TemplateStatusUpdate {
    /// APPROVED, REJECTED, PAUSED, DISABLED, …
    pub event: String,
    #[serde(deserialize_with = "string_or_number", default)]
    pub message_template_id: String,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub message_template_category: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub disable_info: Option<serde_json::Value>,
    #[serde(default)]
    pub other_info: Option<serde_json::Value>,
    #[serde(default)]
    pub rejection_info: Option<serde_json::Value>,
}

/// `message_template_quality_update`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct TemplateQualityUpdate {
    #[serde(default)]
    pub previous_quality_score: Option<String>,
    #[serde(default)]
    pub new_quality_score: Option<String>,
    #[serde(deserialize_with = "string_or_number", default)]
    pub message_template_id: String,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
}

/// `template_category_update`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct TemplateCategoryUpdate {
    #[serde(deserialize_with = "string_or_number", default)]
    pub message_template_id: String,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub previous_category: Option<String>,
    #[serde(default)]
    pub new_category: Option<String>,
    #[serde(default)]
    pub correct_category: Option<String>,
}

/// `phone_number_quality_update`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct PhoneNumberQualityUpdate {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub current_limit: Option<String>,
    #[serde(default, deserialize_with = "opt_i64_lenient")]
    pub max_daily_conversations_per_business: Option<i64>,
}

/// `user_preferences` value (marketing stop/resume).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct UserPreferencesValue {
    #[serde(default)]
    pub messaging_product: Option<String>,
    #[serde(default)]
    pub metadata: Option<WaMetadata>,
    #[serde(default)]
    pub contacts: Vec<WaContact>,
    #[serde(default)]
    pub user_preferences: Vec<UserPreference>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct UserPreference {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    /// e.g. `marketing_messages`.
    #[serde(default)]
    pub category: Option<String>,
    /// `stop` or `resume`.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "opt_i64_lenient")]
    pub timestamp: Option<i64>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn signature_known_vector() {
        // Computed independently: HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog")
        let secret = AppSecret::new("key");
        let body = b"The quick brown fox jumps over the lazy dog";
        let header = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert!(verify_signature(&secret, body, header));
        assert_eq!(sign_body(&secret, body), header);
        // uppercase hex is accepted too (hex::decode is case-insensitive)
        assert!(verify_signature(
            &secret,
            body,
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
    }

    #[test]
    fn signature_fails_closed() {
        let secret = AppSecret::new("key");
        let body = b"{\"object\":\"page\"}";
        let good = sign_body(&secret, body);
        assert!(verify_signature(&secret, body, &good));
        assert!(!verify_signature(&secret, b"{\"object\":\"page\"} ", &good));
        assert!(!verify_signature(&AppSecret::new("other"), body, &good));
        assert!(!verify_signature(&AppSecret::new(""), body, &good));
        assert!(!verify_signature(
            &secret,
            body,
            good.trim_start_matches("sha256=")
        ));
        assert!(!verify_signature(&secret, body, "sha256=zz"));
        assert!(!verify_signature(&secret, body, "sha256="));
        assert!(!verify_signature(&secret, body, "sha1=abcdef"));
    }

    #[test]
    fn challenge_handshake() {
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("tok"), Some("1158201444"), "tok"),
            Some("1158201444")
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("bad"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_challenge(Some("unsubscribe"), Some("tok"), Some("1"), "tok"),
            None
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), Some(""), Some("1"), ""),
            None
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), None, Some("1"), "tok"),
            None
        );
    }

    #[test]
    fn signed_request_round_trip_and_tamper() {
        let secret = AppSecret::new("app-secret-123");
        let payload = serde_json::json!({"algorithm":"HMAC-SHA256","issued_at":1_700_000_000,"user_id":"218471"});
        let sr = make_signed_request(&secret, &payload);
        let parsed = parse_signed_request(&secret, &sr).unwrap();
        assert_eq!(parsed.user_id.as_deref(), Some("218471"));
        assert_eq!(parsed.issued_at, Some(1_700_000_000));

        assert_eq!(
            parse_signed_request(&AppSecret::new("wrong"), &sr),
            Err(SignedRequestError::BadSignature)
        );
        let (sig, body) = sr.split_once('.').unwrap();
        let other_payload = URL_SAFE_NO_PAD.encode(r#"{"algorithm":"HMAC-SHA256","user_id":"1"}"#);
        assert_eq!(
            parse_signed_request(&secret, &format!("{sig}.{other_payload}")),
            Err(SignedRequestError::BadSignature)
        );
        assert_eq!(
            parse_signed_request(&secret, body),
            Err(SignedRequestError::Malformed)
        );
        assert_eq!(
            parse_signed_request(&secret, "!!.??"),
            Err(SignedRequestError::Encoding)
        );
    }

    #[test]
    fn signed_request_known_vector() {
        // payload {"algorithm":"HMAC-SHA256","user_id":"42"} signed with "s3cr3t";
        // signature computed with an independent HMAC implementation (python hmac).
        let payload_b64 = "eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsInVzZXJfaWQiOiI0MiJ9";
        let sr = format!("cUMrxkuthIGGfU1jwyijhj_FqllLkNQA1IC_VpnjNDA.{payload_b64}");
        let parsed = parse_signed_request(&AppSecret::new("s3cr3t"), &sr).unwrap();
        assert_eq!(parsed.user_id.as_deref(), Some("42"));
    }

    #[test]
    fn signed_request_rejects_other_algorithms() {
        let secret = AppSecret::new("x");
        let sr = make_signed_request(&secret, &serde_json::json!({"algorithm":"HMAC-SHA1"}));
        assert!(matches!(
            parse_signed_request(&secret, &sr),
            Err(SignedRequestError::Algorithm(_))
        ));
    }

    #[test]
    fn leadgen_payload() {
        let raw = br#"{"object":"page","entry":[{"id":"153125381133","time":1438292065,"changes":[{"field":"leadgen","value":{"leadgen_id":123123123123,"page_id":153125381133,"form_id":567567567567,"adgroup_id":"345345","ad_id":"345345","created_time":1438292065}}]}]}"#;
        let env = WebhookEnvelope::from_slice(raw).unwrap();
        assert_eq!(env.object, "page");
        let ChangeValue::Leadgen(l) = env.entry[0].changes[0].parse().unwrap() else {
            panic!("expected leadgen")
        };
        assert_eq!(l.leadgen_id, "123123123123");
        assert_eq!(l.form_id, "567567567567");
        assert_eq!(l.ad_id.as_deref(), Some("345345"));
        assert_eq!(l.created_time, Some(1_438_292_065));
    }

    #[test]
    fn whatsapp_inbound_with_referral_and_bsuid() {
        let raw = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}],"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=","timestamp":"1750090702","type":"text","text":{"body":"Hi, is this still available?"},"referral":{"source_url":"https://fb.me/abc","source_id":"120226305854810726","source_type":"ad","body":"Spring sale","headline":"Chat with us","media_type":"image","image_url":"https://scontent.xx/img.jpg","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMXP4wjOI"}}]}}]}]}"#;
        let env = WebhookEnvelope::from_slice(raw).unwrap();
        let ChangeValue::Messages(v) = env.entry[0].changes[0].parse().unwrap() else {
            panic!("expected messages")
        };
        assert_eq!(
            v.metadata.as_ref().unwrap().phone_number_id,
            "106540352242922"
        );
        assert_eq!(
            v.contacts[0].user_id.as_deref(),
            Some("US.13491208655302741918")
        );
        let m = &v.messages[0];
        assert_eq!(m.kind, "text");
        assert_eq!(m.timestamp_secs(), Some(1_750_090_702));
        assert_eq!(m.from_user_id.as_deref(), Some("US.13491208655302741918"));
        let r = m.referral.as_ref().unwrap();
        assert_eq!(r.source_id.as_deref(), Some("120226305854810726"));
        assert_eq!(r.source_type.as_deref(), Some("ad"));
        assert!(r.ctwa_clid.as_deref().unwrap().starts_with("ARAk"));
        assert_eq!(r.headline.as_deref(), Some("Chat with us"));
    }

    #[test]
    fn whatsapp_username_user_without_phone() {
        let v: WhatsAppValue = serde_json::from_str(
            r#"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1555","phone_number_id":"1"},"contacts":[{"profile":{"name":"A"},"user_id":"BR.99"}],"messages":[{"from_user_id":"BR.99","id":"wamid.1","timestamp":"1","type":"image","image":{"id":"m1","mime_type":"image/jpeg"}}]}"#,
        )
        .unwrap();
        assert!(v.contacts[0].wa_id.is_none());
        assert!(v.messages[0].from.is_none());
        assert!(v.messages[0].other.contains_key("image"));
    }

    #[test]
    fn statuses_with_errors_and_callback_data() {
        let v: WhatsAppValue = serde_json::from_str(
            r#"{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1555","phone_number_id":"1"},"statuses":[{"id":"wamid.X","status":"failed","timestamp":"1750263773","recipient_id":"16505551234","recipient_user_id":"US.1","biz_opaque_callback_data":"send:42","errors":[{"code":131050,"title":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business","message":"Unable to deliver","error_data":{"details":"stopped marketing"},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]},{"id":"wamid.Y","status":"delivered","timestamp":"1750263774","recipient_id":"1","conversation":{"id":"c1","expiration_timestamp":"1750350174","origin":{"type":"marketing"}},"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}}]}"#,
        )
        .unwrap();
        let failed = &v.statuses[0];
        assert_eq!(failed.status, "failed");
        assert_eq!(failed.biz_opaque_callback_data.as_deref(), Some("send:42"));
        assert_eq!(failed.errors[0].code, 131050);
        assert_eq!(failed.recipient_user_id.as_deref(), Some("US.1"));
        let d = &v.statuses[1];
        assert_eq!(
            d.pricing.as_ref().unwrap().category.as_deref(),
            Some("marketing")
        );
        assert_eq!(
            d.conversation
                .as_ref()
                .unwrap()
                .origin
                .as_ref()
                .unwrap()
                .kind
                .as_deref(),
            Some("marketing")
        );
    }

    #[test]
    fn template_and_preference_updates() {
        let c = WebhookChange {
            field: "message_template_status_update".into(),
            value: serde_json::json!({"event":"REJECTED","message_template_id":1234567890,"message_template_name":"promo_1","message_template_language":"es_AR","reason":"INCORRECT_CATEGORY"}),
        };
        let ChangeValue::TemplateStatus(t) = c.parse().unwrap() else {
            panic!()
        };
        assert_eq!(t.message_template_id, "1234567890");
        assert_eq!(t.reason.as_deref(), Some("INCORRECT_CATEGORY"));

        let c = WebhookChange {
            field: "message_template_quality_update".into(),
            value: serde_json::json!({"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":1,"message_template_name":"a","message_template_language":"en_US"}),
        };
        assert!(
            matches!(c.parse().unwrap(), ChangeValue::TemplateQuality(q) if q.new_quality_score.as_deref() == Some("YELLOW"))
        );

        let c = WebhookChange {
            field: "template_category_update".into(),
            value: serde_json::json!({"message_template_id":5,"previous_category":"UTILITY","new_category":"MARKETING"}),
        };
        assert!(
            matches!(c.parse().unwrap(), ChangeValue::TemplateCategory(q) if q.new_category.as_deref() == Some("MARKETING"))
        );

        let c = WebhookChange {
            field: "user_preferences".into(),
            value: serde_json::json!({"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"contacts":[{"wa_id":"5491100000000","profile":{"name":"X"}}],"user_preferences":[{"wa_id":"5491100000000","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop","timestamp":1731705721}]}),
        };
        let ChangeValue::UserPreferences(p) = c.parse().unwrap() else {
            panic!()
        };
        assert_eq!(p.user_preferences[0].value.as_deref(), Some("stop"));
        assert_eq!(p.user_preferences[0].timestamp, Some(1_731_705_721));

        let c = WebhookChange {
            field: "account_update".into(),
            value: serde_json::json!({"x":1}),
        };
        assert!(
            matches!(c.parse().unwrap(), ChangeValue::Other { field, .. } if field == "account_update")
        );
    }
}
