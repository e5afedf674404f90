//! Conversions API for CRM: lead-stage events back to Meta.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::{GraphRequest, Session};
use crate::error::GraphError;
use crate::marketing::object_id;
use crate::money::format_minor;

/// `action_source` of a CRM event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    /// Lead Ads (Instant Form) leads: `user_data.lead_id`.
    SystemGenerated,
    /// Click-to-WhatsApp leads: `user_data.ctwa_clid` + `messaging_channel`.
    BusinessMessaging,
}

/// `user_data` of a CRM event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrmUserData {
    /// The Lead Ads leadgen id, sent as an integer and not hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_business_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// SHA-256 of normalised emails ([`hash_email`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub em: Vec<String>,
    /// SHA-256 of normalised phones ([`hash_phone`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ph: Vec<String>,
}

/// `custom_data` of a CRM event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrmCustomData {
    /// Always `crm`.
    pub event_source: String,
    /// The CRM's name.
    pub lead_event_source: String,
    /// Major units (Meta's format); set with [`CrmEvent::with_value`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// One CRM stage event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmEvent {
    /// Free-form stage name, e.g. `initial_lead`, `qualified_lead`, `converted`.
    pub event_name: String,
    /// Unix seconds; at most 7 days old and after the lead's creation.
    pub event_time: i64,
    pub action_source: ActionSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messaging_channel: Option<String>,
    /// For Meta's deduplication; use a stable id per (lead, stage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub user_data: CrmUserData,
    pub custom_data: CrmCustomData,
}

impl CrmEvent {
    /// A stage event for a Lead Ads lead.
    pub fn lead_stage(
        leadgen_id: &str,
        stage: &str,
        event_time: i64,
        crm_name: &str,
    ) -> Result<Self, GraphError> {
        let lead_id: u64 = leadgen_id.trim().parse().map_err(|_| {
            GraphError::InvalidInput(format!("leadgen id must be numeric, got {leadgen_id:?}"))
        })?;
        Self::base(stage, event_time, crm_name, ActionSource::SystemGenerated).map(|mut e| {
            e.user_data.lead_id = Some(lead_id);
            e
        })
    }

    /// A stage event for a Click-to-WhatsApp lead.
    pub fn ctwa_stage(
        ctwa_clid: &str,
        waba_id: Option<&str>,
        stage: &str,
        event_time: i64,
        crm_name: &str,
    ) -> Result<Self, GraphError> {
        if ctwa_clid.trim().is_empty() {
            return Err(GraphError::InvalidInput("ctwa_clid is required".into()));
        }
        Self::base(stage, event_time, crm_name, ActionSource::BusinessMessaging).map(|mut e| {
            e.messaging_channel = Some("whatsapp".into());
            e.user_data.ctwa_clid = Some(ctwa_clid.trim().to_string());
            e.user_data.whatsapp_business_account_id = waba_id.map(str::to_string);
            e
        })
    }

    fn base(
        stage: &str,
        event_time: i64,
        crm_name: &str,
        action_source: ActionSource,
    ) -> Result<Self, GraphError> {
        if stage.trim().is_empty() {
            return Err(GraphError::InvalidInput("event_name is required".into()));
        }
        if event_time <= 0 {
            return Err(GraphError::InvalidInput(
                "event_time must be Unix seconds".into(),
            ));
        }
        Ok(Self {
            event_name: stage.trim().to_string(),
            event_time,
            action_source,
            messaging_channel: None,
            event_id: None,
            user_data: CrmUserData::default(),
            custom_data: CrmCustomData {
                event_source: "crm".into(),
                lead_event_source: crm_name.to_string(),
                value: None,
                currency: None,
            },
        })
    }

    /// Sets `event_id` for deduplication.
    pub fn with_event_id(mut self, id: impl Into<String>) -> Self {
        self.event_id = Some(id.into());
        self
    }

    /// Attaches a value given in minor units.
    pub fn with_value(mut self, minor: i64, currency: &str) -> Result<Self, GraphError> {
        let major =
            format_minor(minor, currency).map_err(|e| GraphError::InvalidInput(e.to_string()))?;
        let value: f64 = major
            .parse()
            .map_err(|_| GraphError::InvalidInput(format!("value {major} is not a number")))?;
        self.custom_data.value = Some(value);
        self.custom_data.currency = Some(currency.trim().to_ascii_uppercase());
        Ok(self)
    }
}

/// SHA-256 hex of a trimmed, lowercased email.
pub fn hash_email(email: &str) -> String {
    hex::encode(Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

/// SHA-256 hex of a phone reduced to its digits (country code included).
pub fn hash_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    hex::encode(Sha256::digest(digits.as_bytes()))
}

/// Answer of `/{dataset}/events`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct EventsResponse {
    #[serde(default)]
    pub events_received: i64,
    #[serde(default)]
    pub messages: Vec<serde_json::Value>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// Events per request Meta accepts.
pub const MAX_EVENTS_PER_REQUEST: usize = 1000;

impl Session {
    /// `POST /{dataset_id}/events`. Safe to retry when every event carries an
    /// `event_id` (Meta deduplicates); otherwise retried only when Meta
    /// certainly did not receive it.
    pub async fn send_events(
        &self,
        dataset_id: &str,
        events: &[CrmEvent],
        test_event_code: Option<&str>,
    ) -> Result<EventsResponse, GraphError> {
        let d = object_id("dataset", dataset_id)?;
        if events.is_empty() {
            return Err(GraphError::InvalidInput("no events to send".into()));
        }
        if events.len() > MAX_EVENTS_PER_REQUEST {
            return Err(GraphError::InvalidInput(format!(
                "at most {MAX_EVENTS_PER_REQUEST} events per request"
            )));
        }
        let mut body = serde_json::json!({ "data": events });
        if let (Some(code), Some(obj)) = (test_event_code, body.as_object_mut()) {
            obj.insert("test_event_code".into(), code.into());
        }
        let mut req = GraphRequest::post(format!("{d}/events")).json(body);
        if events.iter().any(|e| e.event_id.is_none()) {
            req = req.unsafe_to_repeat();
        }
        self.call(&req).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lead_ads_event_shape() {
        let e = CrmEvent::lead_stage(
            "1234567890123456",
            "qualified_lead",
            1_767_600_000,
            "CRM Ventas",
        )
        .unwrap()
        .with_event_id("lead-1:qualified")
        .with_value(150_050, "ARS")
        .unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["action_source"], "system_generated");
        assert_eq!(v["user_data"]["lead_id"], 1_234_567_890_123_456_u64);
        assert!(v.get("messaging_channel").is_none());
        assert_eq!(v["custom_data"]["event_source"], "crm");
        assert_eq!(v["custom_data"]["lead_event_source"], "CRM Ventas");
        assert_eq!(v["custom_data"]["value"], 1500.5);
        assert_eq!(v["custom_data"]["currency"], "ARS");
        assert!(CrmEvent::lead_stage("abc", "x", 1, "c").is_err());
    }

    #[test]
    fn ctwa_event_shape() {
        let e = CrmEvent::ctwa_stage("ARAkLk", Some("1020"), "converted", 1_767_600_000, "CRM")
            .unwrap();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["action_source"], "business_messaging");
        assert_eq!(v["messaging_channel"], "whatsapp");
        assert_eq!(v["user_data"]["ctwa_clid"], "ARAkLk");
        assert_eq!(v["user_data"]["whatsapp_business_account_id"], "1020");
        assert!(v["user_data"].get("lead_id").is_none());
    }

    #[test]
    fn hashing_normalises() {
        // sha256("a@b.com")
        assert_eq!(
            hash_email("  A@B.com "),
            "fb98d44ad7501a959f3f4f4a3f004fe2d9e581ea6207e218c4b02c08a4d75adf"
        );
        assert_eq!(
            hash_phone("+54 9 11 5555-0000"),
            hash_phone("5491155550000")
        );
    }
}
