//! WhatsApp Cloud API: WABAs, phone numbers, templates, sending.

use serde::{Deserialize, Serialize};

use crate::client::{GraphRequest, Session};
use crate::error::GraphError;
use crate::marketing::object_id;
use crate::oauth::success_of;
use crate::webhook::{opt_string_or_number, string_or_number};

/// Whether the business owns the WABA or accesses it as a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    Owned,
    Client,
}

/// A WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Waba {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub timezone_id: Option<String>,
    #[serde(default)]
    pub message_template_namespace: Option<String>,
    #[serde(skip_deserializing, default = "owned")]
    pub ownership: Ownership,
}

fn owned() -> Ownership {
    Ownership::Owned
}

/// A business phone number of a WABA.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct PhoneNumber {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    /// GREEN, YELLOW, RED, UNKNOWN.
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub code_verification_status: Option<String>,
    #[serde(default)]
    pub platform_type: Option<String>,
    #[serde(default)]
    pub throughput: Option<serde_json::Value>,
    #[serde(default)]
    pub whatsapp_business_manager_messaging_limit: Option<String>,
}

/// A template button definition.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct TemplateButton {
    /// QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW, CATALOG, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
}

/// A template component definition (HEADER, BODY, FOOTER, BUTTONS).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct TemplateComponent {
    #[serde(rename = "type")]
    pub kind: String,
    /// Header format: TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `header_text`, `header_handle`, `body_text`, `body_text_named_params`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<TemplateButton>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct QualityScore {
    /// GREEN, YELLOW, RED, UNKNOWN.
    #[serde(default)]
    pub score: Option<String>,
    #[serde(default)]
    pub date: Option<i64>,
}

/// A message template as listed by Meta.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct MessageTemplate {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub language: String,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub components: Vec<TemplateComponent>,
    #[serde(default)]
    pub quality_score: Option<QualityScore>,
    #[serde(default)]
    pub rejected_reason: Option<String>,
    /// POSITIONAL or NAMED.
    #[serde(default)]
    pub parameter_format: Option<String>,
}

/// A template to create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewTemplate {
    pub name: String,
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
    pub components: Vec<TemplateComponent>,
}

/// Changes to an existing template.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TemplateEdit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<TemplateComponent>>,
}

/// Answer of a template creation.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct CreatedTemplate {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
}

/// Who receives a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// E.164 digits (a leading `+` is removed).
    Phone(String),
    /// Business-scoped user id (BSUID), e.g. `US.1349…`.
    UserId(String),
}

/// Media reference for header parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// One parameter of a template component when sending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendParameter {
    Text {
        text: String,
        /// For NAMED templates.
        #[serde(skip_serializing_if = "Option::is_none")]
        parameter_name: Option<String>,
    },
    Image {
        image: MediaRef,
    },
    Video {
        video: MediaRef,
    },
    Document {
        document: MediaRef,
    },
    Payload {
        payload: String,
    },
    Currency {
        currency: serde_json::Value,
    },
    DateTime {
        date_time: serde_json::Value,
    },
}

/// A template component with values, when sending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendComponent {
    /// header, body, button.
    #[serde(rename = "type")]
    pub kind: String,
    /// For buttons: url, quick_reply, copy_code, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// For buttons: the button index as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub parameters: Vec<SendParameter>,
}

impl SendComponent {
    /// A body component with positional text values.
    pub fn body_texts<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            kind: "body".into(),
            sub_type: None,
            index: None,
            parameters: values
                .into_iter()
                .map(|v| SendParameter::Text {
                    text: v.into(),
                    parameter_name: None,
                })
                .collect(),
        }
    }
}

/// A template send.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMessage {
    pub to: Recipient,
    pub name: String,
    /// e.g. `es_AR`.
    pub language: String,
    pub components: Vec<SendComponent>,
    /// Echoed back in status webhooks: use it as the CRM's correlation key.
    pub biz_opaque_callback_data: Option<String>,
}

/// Answer of a send.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct SendResult {
    #[serde(default)]
    pub contacts: Vec<SentContact>,
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

impl SendResult {
    /// The wamid of the (first) message.
    pub fn wamid(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct SentContact {
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct SentMessage {
    pub id: String,
    /// accepted, held_for_quality_assessment, …
    #[serde(default)]
    pub message_status: Option<String>,
}

/// Checks a template name: lowercase letters, digits and underscores, ≤512.
pub fn validate_template_name(name: &str) -> Result<(), GraphError> {
    if name.is_empty() || name.len() > 512 {
        return Err(GraphError::InvalidInput(
            "template name must be 1-512 characters".into(),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(GraphError::InvalidInput(format!(
            "template name {name:?} may only contain lowercase letters, digits and underscores"
        )));
    }
    Ok(())
}

fn recipient_fields(
    to: &Recipient,
) -> Result<serde_json::Map<String, serde_json::Value>, GraphError> {
    let mut m = serde_json::Map::new();
    m.insert("messaging_product".into(), "whatsapp".into());
    m.insert("recipient_type".into(), "individual".into());
    match to {
        Recipient::Phone(p) => {
            let digits = p.trim().trim_start_matches('+');
            if digits.len() < 6 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(GraphError::InvalidInput(format!(
                    "recipient phone must be 6-15 digits in E.164, got {p:?}"
                )));
            }
            m.insert("to".into(), digits.into());
        }
        Recipient::UserId(id) => {
            let id = id.trim();
            if id.is_empty() {
                return Err(GraphError::InvalidInput("empty recipient user id".into()));
            }
            m.insert("recipient".into(), id.into());
        }
    }
    Ok(m)
}

/// Builds the JSON body of a template send (exposed for audit/dry runs).
pub fn template_send_body(msg: &TemplateMessage) -> Result<serde_json::Value, GraphError> {
    validate_template_name(&msg.name)?;
    if msg.language.trim().is_empty() {
        return Err(GraphError::InvalidInput(
            "template language is required".into(),
        ));
    }
    let mut body = recipient_fields(&msg.to)?;
    body.insert("type".into(), "template".into());
    let mut template = serde_json::json!({
        "name": msg.name,
        "language": {"code": msg.language, "policy": "deterministic"},
    });
    if !msg.components.is_empty()
        && let Some(obj) = template.as_object_mut()
    {
        obj.insert(
            "components".into(),
            serde_json::to_value(&msg.components)
                .map_err(|e| GraphError::InvalidInput(e.to_string()))?,
        );
    }
    body.insert("template".into(), template);
    if let Some(data) = &msg.biz_opaque_callback_data {
        if data.len() > 512 {
            return Err(GraphError::InvalidInput(
                "biz_opaque_callback_data is limited to 512 characters".into(),
            ));
        }
        body.insert("biz_opaque_callback_data".into(), data.clone().into());
    }
    Ok(serde_json::Value::Object(body))
}

impl Session {
    /// Owned and client WABAs of a business, every page, deduplicated by id.
    pub async fn wabas(&self, business_id: &str) -> Result<Vec<Waba>, GraphError> {
        let b = object_id("business", business_id)?;
        let fields = "id,name,currency,timezone_id,message_template_namespace";
        let owned: Vec<Waba> = self
            .all(
                GraphRequest::get(format!("{b}/owned_whatsapp_business_accounts"))
                    .query("fields", fields),
            )
            .await?;
        let client: Vec<Waba> = self
            .all(
                GraphRequest::get(format!("{b}/client_whatsapp_business_accounts"))
                    .query("fields", fields),
            )
            .await?;
        let mut out: Vec<Waba> = Vec::with_capacity(owned.len() + client.len());
        for w in owned {
            if !out.iter().any(|x| x.id == w.id) {
                out.push(w);
            }
        }
        for mut w in client {
            if !out.iter().any(|x| x.id == w.id) {
                w.ownership = Ownership::Client;
                out.push(w);
            }
        }
        Ok(out)
    }

    /// `GET /{waba}/phone_numbers`, every page.
    pub async fn phone_numbers(&self, waba_id: &str) -> Result<Vec<PhoneNumber>, GraphError> {
        let w = object_id("WABA", waba_id)?;
        self.all(GraphRequest::get(format!("{w}/phone_numbers")).query(
            "fields",
            "id,display_phone_number,verified_name,quality_rating,code_verification_status,platform_type,throughput,whatsapp_business_manager_messaging_limit",
        ))
        .await
    }

    /// `POST /{waba}/subscribed_apps`: subscribes this app to the WABA's webhooks.
    pub async fn subscribe_waba(&self, waba_id: &str) -> Result<bool, GraphError> {
        let w = object_id("WABA", waba_id)?;
        let v: serde_json::Value = self
            .call(&GraphRequest::post(format!("{w}/subscribed_apps")))
            .await?;
        success_of(v)
    }

    /// `GET /{waba}/message_templates`, every page (not just the first 100).
    pub async fn templates(&self, waba_id: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        let w = object_id("WABA", waba_id)?;
        self.all(GraphRequest::get(format!("{w}/message_templates")).query(
            "fields",
            "id,name,language,status,category,components,quality_score,rejected_reason,parameter_format",
        ))
        .await
    }

    /// `POST /{waba}/message_templates`.
    pub async fn create_template(
        &self,
        waba_id: &str,
        template: &NewTemplate,
    ) -> Result<CreatedTemplate, GraphError> {
        let w = object_id("WABA", waba_id)?;
        validate_template_name(&template.name)?;
        if template
            .components
            .iter()
            .all(|c| !c.kind.eq_ignore_ascii_case("BODY"))
        {
            return Err(GraphError::InvalidInput(
                "a template needs a BODY component".into(),
            ));
        }
        let body =
            serde_json::to_value(template).map_err(|e| GraphError::InvalidInput(e.to_string()))?;
        self.call(&GraphRequest::post(format!("{w}/message_templates")).json(body))
            .await
    }

    /// `POST /{template_id}`: edits category and/or components.
    pub async fn edit_template(
        &self,
        template_id: &str,
        edit: &TemplateEdit,
    ) -> Result<bool, GraphError> {
        let t = object_id("template", template_id)?;
        if edit.category.is_none() && edit.components.is_none() {
            return Err(GraphError::InvalidInput("nothing to edit".into()));
        }
        let body =
            serde_json::to_value(edit).map_err(|e| GraphError::InvalidInput(e.to_string()))?;
        let v: serde_json::Value = self.call(&GraphRequest::post(t).json(body)).await?;
        success_of(v)
    }

    /// `DELETE /{waba}/message_templates?name=…[&hsm_id=…]`. Without
    /// `hsm_id` every language of the name is deleted.
    pub async fn delete_template(
        &self,
        waba_id: &str,
        name: &str,
        hsm_id: Option<&str>,
    ) -> Result<bool, GraphError> {
        let w = object_id("WABA", waba_id)?;
        validate_template_name(name)?;
        let mut req = GraphRequest::delete(format!("{w}/message_templates")).query("name", name);
        if let Some(id) = hsm_id {
            req = req.query("hsm_id", object_id("template", id)?);
        }
        let v: serde_json::Value = self.call(&req).await?;
        success_of(v)
    }

    /// Sends an approved template. Not repeated on timeouts (no duplicate
    /// sends); returns Meta's answer with the wamid.
    pub async fn send_template(
        &self,
        phone_number_id: &str,
        message: &TemplateMessage,
    ) -> Result<SendResult, GraphError> {
        let p = object_id("phone number", phone_number_id)?;
        let body = template_send_body(message)?;
        self.send_message(&p, body).await
    }

    /// Sends free-form text (only inside the 24 h customer-service window).
    pub async fn send_text(
        &self,
        phone_number_id: &str,
        to: &Recipient,
        text: &str,
        preview_url: bool,
        reply_to: Option<&str>,
    ) -> Result<SendResult, GraphError> {
        let p = object_id("phone number", phone_number_id)?;
        if text.is_empty() || text.chars().count() > 4096 {
            return Err(GraphError::InvalidInput(
                "text must be 1-4096 characters".into(),
            ));
        }
        let mut body = recipient_fields(to)?;
        body.insert("type".into(), "text".into());
        body.insert(
            "text".into(),
            serde_json::json!({"body": text, "preview_url": preview_url}),
        );
        if let Some(id) = reply_to {
            body.insert("context".into(), serde_json::json!({"message_id": id}));
        }
        self.send_message(&p, serde_json::Value::Object(body)).await
    }

    async fn send_message(
        &self,
        phone_number_id: &str,
        body: serde_json::Value,
    ) -> Result<SendResult, GraphError> {
        let result: SendResult = self
            .call(
                &GraphRequest::post(format!("{phone_number_id}/messages"))
                    .json(body)
                    .unsafe_to_repeat(),
            )
            .await?;
        if result.wamid().is_none() {
            return Err(GraphError::UnexpectedResponse {
                status: 200,
                message: "send answered without a message id".into(),
            });
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn template_names() {
        assert!(validate_template_name("order_update_2").is_ok());
        assert!(validate_template_name("Order").is_err());
        assert!(validate_template_name("with space").is_err());
        assert!(validate_template_name("").is_err());
    }

    #[test]
    fn send_body_for_phone() {
        let body = template_send_body(&TemplateMessage {
            to: Recipient::Phone("+5491155550000".into()),
            name: "welcome".into(),
            language: "es_AR".into(),
            components: vec![SendComponent::body_texts(["Ana", "10%"])],
            biz_opaque_callback_data: Some("send:7".into()),
        })
        .unwrap();
        assert_eq!(body["to"], "5491155550000");
        assert!(body.get("recipient").is_none());
        assert_eq!(body["type"], "template");
        assert_eq!(body["template"]["language"]["code"], "es_AR");
        assert_eq!(body["template"]["components"][0]["type"], "body");
        assert_eq!(
            body["template"]["components"][0]["parameters"][1]["type"],
            "text"
        );
        assert_eq!(
            body["template"]["components"][0]["parameters"][1]["text"],
            "10%"
        );
        assert_eq!(body["biz_opaque_callback_data"], "send:7");
    }

    #[test]
    fn send_body_for_bsuid_and_bad_input() {
        let body = template_send_body(&TemplateMessage {
            to: Recipient::UserId("US.13491208655302741918".into()),
            name: "welcome".into(),
            language: "en_US".into(),
            components: vec![],
            biz_opaque_callback_data: None,
        })
        .unwrap();
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
        assert!(body["template"].get("components").is_none());

        let bad = TemplateMessage {
            to: Recipient::Phone("call me".into()),
            name: "welcome".into(),
            language: "en_US".into(),
            components: vec![],
            biz_opaque_callback_data: None,
        };
        assert!(matches!(
            template_send_body(&bad),
            Err(GraphError::InvalidInput(_))
        ));
    }

    #[test]
    fn template_listing_shape() {
        let t: MessageTemplate = serde_json::from_str(
            r##"{"id":"594425479261596","name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","parameter_format":"POSITIONAL","quality_score":{"score":"GREEN","date":1750000000},"components":[{"type":"HEADER","format":"TEXT","text":"Order {{1}}","example":{"header_text":["#123"]}},{"type":"BODY","text":"Hi {{1}}, your order {{2}} shipped.","example":{"body_text":[["Ana","#123"]]}},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://x.example/{{1}}","example":["https://x.example/1"]}]}]}"##,
        )
        .unwrap();
        assert_eq!(t.components.len(), 3);
        assert_eq!(t.components[2].buttons.as_ref().unwrap()[0].kind, "URL");
        assert_eq!(t.quality_score.unwrap().score.as_deref(), Some("GREEN"));
    }
}
