//! Lead Ads: pages with their tokens, forms, leads, page subscription.

use serde::{Deserialize, Serialize};

use crate::client::{GraphRequest, Session};
use crate::error::GraphError;
use crate::marketing::object_id;
use crate::oauth::success_of;
use crate::secret::AccessToken;
use crate::webhook::{opt_string_or_number, string_or_number};

/// A Page the user manages (`/me/accounts`), with its Page access token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PageAccount {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// Store encrypted; needed for leadgen forms and subscriptions.
    #[serde(default)]
    pub access_token: Option<AccessToken>,
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// A lead form of a Page.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct LeadgenForm {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// ACTIVE, ARCHIVED, …
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub leads_count: Option<i64>,
    /// The form's questions (standard ones like `EMAIL`, and custom ones).
    #[serde(default)]
    pub questions: Vec<FormQuestion>,
}

/// A question of a lead form: its `key` is the `field_data` name of the answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FormQuestion {
    pub key: String,
    #[serde(default)]
    pub label: Option<String>,
    /// `FULL_NAME`, `EMAIL`, `PHONE`, `CITY`, `CUSTOM`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One answer of a lead.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct FieldData {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// A lead with its answers and ad attribution.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Lead {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// ISO 8601, e.g. `2026-01-05T10:00:00+0000`.
    #[serde(default)]
    pub created_time: Option<String>,
    #[serde(default)]
    pub field_data: Vec<FieldData>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub form_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub ad_id: Option<String>,
    #[serde(default)]
    pub ad_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub adset_id: Option<String>,
    #[serde(default)]
    pub adset_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default)]
    pub is_organic: Option<bool>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub custom_disclaimer_responses: Option<serde_json::Value>,
}

impl Lead {
    /// The first value of an answer (`email`, `full_name`, `phone_number`, custom keys).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.field_data
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.values.first())
            .map(String::as_str)
    }

    /// `created_time` as a UTC timestamp.
    pub fn created_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let s = self.created_time.as_deref()?;
        chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
            .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc))
    }
}

const LEAD_FIELDS: &str = "id,created_time,field_data,form_id,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,is_organic,platform,custom_disclaimer_responses";

impl Session {
    /// `GET /me/accounts`: Pages with their Page access tokens, every page.
    pub async fn pages(&self) -> Result<Vec<PageAccount>, GraphError> {
        self.all(
            GraphRequest::get("me/accounts").query("fields", "id,name,category,access_token,tasks"),
        )
        .await
    }

    /// `GET /{page}/leadgen_forms`, every page. Use a session with the Page token.
    pub async fn leadgen_forms(&self, page_id: &str) -> Result<Vec<LeadgenForm>, GraphError> {
        let p = object_id("page", page_id)?;
        self.all(GraphRequest::get(format!("{p}/leadgen_forms")).query(
            "fields",
            "id,name,status,locale,created_time,leads_count,questions",
        ))
        .await
    }

    /// `GET /{form}/leads`, optionally only leads created after `since`
    /// (Unix seconds), every page. Used to backfill missed webhooks.
    pub async fn form_leads(
        &self,
        form_id: &str,
        since: Option<i64>,
    ) -> Result<Vec<Lead>, GraphError> {
        let f = object_id("form", form_id)?;
        let mut req = GraphRequest::get(format!("{f}/leads")).query("fields", LEAD_FIELDS);
        if let Some(since) = since {
            req = req.query(
                "filtering",
                serde_json::json!([{"field": "time_created", "operator": "GREATER_THAN", "value": since}])
                    .to_string(),
            );
        }
        self.all(req).await
    }

    /// `GET /{leadgen_id}` with answers and attribution.
    pub async fn lead(&self, leadgen_id: &str) -> Result<Lead, GraphError> {
        let id = object_id("lead", leadgen_id)?;
        self.call(&GraphRequest::get(id).query("fields", LEAD_FIELDS))
            .await
    }

    /// `POST /{page}/subscribed_apps?subscribed_fields=…` with the Page token.
    pub async fn subscribe_page(
        &self,
        page_id: &str,
        page_token: &AccessToken,
        fields: &[&str],
    ) -> Result<bool, GraphError> {
        let p = object_id("page", page_id)?;
        if fields.is_empty() {
            return Err(GraphError::InvalidInput(
                "no subscribed_fields given".into(),
            ));
        }
        let req = GraphRequest::post(format!("{p}/subscribed_apps"))
            .form_field("subscribed_fields", fields.join(","));
        let v: serde_json::Value = self.client.session(page_token.clone()).call(&req).await?;
        success_of(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lead_fields_and_time() {
        let l: Lead = serde_json::from_str(
            r#"{"id":"900","created_time":"2026-01-05T10:00:00+0000","field_data":[{"name":"email","values":["a@b.com"]},{"name":"full_name","values":["Ana Pérez"]},{"name":"phone_number","values":["+5491155550000"]}],"form_id":"77","ad_id":"55","campaign_id":"33","is_organic":false}"#,
        )
        .unwrap();
        assert_eq!(l.field("email"), Some("a@b.com"));
        assert_eq!(l.field("city"), None);
        assert_eq!(l.created_at().unwrap().timestamp(), 1_767_607_200);
        assert_eq!(l.campaign_id.as_deref(), Some("33"));
    }

    #[test]
    fn page_token_is_hidden_in_debug() {
        let p: PageAccount = serde_json::from_str(
            r#"{"id":"1","name":"Shop","access_token":"EAAPageSecretToken","tasks":["ADVERTISE"]}"#,
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("EAAPageSecretToken"));
        assert_eq!(p.access_token.unwrap().expose(), "EAAPageSecretToken");
    }
}
