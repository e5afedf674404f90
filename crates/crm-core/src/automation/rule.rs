//! The automation rule model and its pure evaluation: trigger matching,
//! conditions over lead/opportunity facts, variable bindings with fallbacks,
//! quiet hours in an IANA time zone, and frequency caps.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, LocalResult, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::CoreError;

/// What starts a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// A lead was created; optional filters on its source, channel or campaign.
    LeadCreated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign_id: Option<String>,
    },
    /// `hours` after our last outbound message with no inbound since.
    NoReply {
        hours: u32,
    },
    /// The lead's status changed to `to` (any status when absent).
    StatusChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// An opportunity moved to stage `to` (any stage when absent).
    StageChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    OpportunityWon,
    /// `offset_hours` (negative = before) relative to a date field.
    DateRelative {
        field: String,
        offset_hours: i32,
    },
    /// No activity for `days` days.
    Inactive {
        days: u32,
    },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::LeadCreated { .. } => "lead_created",
            Trigger::NoReply { .. } => "no_reply",
            Trigger::StatusChanged { .. } => "status_changed",
            Trigger::StageChanged { .. } => "stage_changed",
            Trigger::OpportunityWon => "opportunity_won",
            Trigger::DateRelative { .. } => "date_relative",
            Trigger::Inactive { .. } => "inactive",
        }
    }

    /// Whether the trigger is driven by the scheduler (time) rather than by
    /// an outbox event.
    pub fn is_time_based(&self) -> bool {
        matches!(
            self,
            Trigger::NoReply { .. } | Trigger::DateRelative { .. } | Trigger::Inactive { .. }
        )
    }

    pub fn validate(&self) -> Result<(), CoreError> {
        match self {
            Trigger::NoReply { hours } if *hours == 0 || *hours > 24 * 90 => Err(
                CoreError::validation("invalid_trigger", "no_reply hours must be 1 to 2160"),
            ),
            Trigger::Inactive { days } if *days == 0 || *days > 365 => Err(CoreError::validation(
                "invalid_trigger",
                "inactive days must be 1 to 365",
            )),
            Trigger::DateRelative {
                field,
                offset_hours,
            } => {
                if !DATE_FIELDS.contains(&field.as_str()) {
                    return Err(CoreError::validation(
                        "invalid_trigger",
                        format!(
                            "date field '{field}' must be one of {}",
                            DATE_FIELDS.join(", ")
                        ),
                    ));
                }
                if offset_hours.unsigned_abs() > 24 * 365 {
                    return Err(CoreError::validation(
                        "invalid_trigger",
                        "offset_hours must be within a year",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Date fields a `date_relative` trigger may use.
pub const DATE_FIELDS: [&str; 4] = [
    "lead.created_at",
    "opportunity.expected_close_date",
    "opportunity.created_at",
    "opportunity.won_at",
];

/// A condition over facts: `field op value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Condition {
    /// e.g. `lead.source`, `lead.status`, `lead.tags`, `lead.owner_id`,
    /// `lead.campaign_id`, `lead.has_phone`, `opportunity.stage`.
    pub field: String,
    pub op: Op,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Neq,
    In,
    NotIn,
    /// For lists (tags): contains the value.
    Contains,
    NotContains,
    Exists,
    NotExists,
}

pub const CONDITION_FIELDS: [&str; 12] = [
    "lead.source",
    "lead.channel",
    "lead.status",
    "lead.tags",
    "lead.owner_id",
    "lead.campaign_id",
    "lead.has_phone",
    "lead.has_whatsapp",
    "lead.country",
    "lead.opted_in",
    "opportunity.stage",
    "opportunity.status",
];

impl Condition {
    pub fn validate(&self) -> Result<(), CoreError> {
        if !CONDITION_FIELDS.contains(&self.field.as_str()) {
            return Err(CoreError::validation(
                "invalid_condition",
                format!(
                    "condition field '{}' must be one of {}",
                    self.field,
                    CONDITION_FIELDS.join(", ")
                ),
            ));
        }
        let list_value = matches!(self.op, Op::In | Op::NotIn);
        if list_value && !self.value.is_array() {
            return Err(CoreError::validation(
                "invalid_condition",
                format!("condition on '{}' with in/not_in needs a list", self.field),
            ));
        }
        Ok(())
    }

    /// Evaluates against `facts` (field → JSON value; absent = null).
    pub fn matches(&self, facts: &Facts) -> bool {
        let got = facts.get(&self.field);
        let eq = |a: &Value, b: &Value| match (a, b) {
            (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
            (x, y) => x == y,
        };
        match self.op {
            Op::Eq => got.is_some_and(|g| eq(g, &self.value)),
            Op::Neq => !got.is_some_and(|g| eq(g, &self.value)),
            Op::In => got.is_some_and(|g| {
                self.value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| eq(g, v)))
            }),
            Op::NotIn => !got.is_some_and(|g| {
                self.value
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| eq(g, v)))
            }),
            Op::Contains => got
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| eq(v, &self.value))),
            Op::NotContains => !got
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| eq(v, &self.value))),
            Op::Exists => got.is_some_and(|g| !g.is_null() && g != &Value::Bool(false)),
            Op::NotExists => !got.is_some_and(|g| !g.is_null() && g != &Value::Bool(false)),
        }
    }
}

/// Facts about a lead (and its latest opportunity, seller and tenant), keyed
/// `lead.name`, `opportunity.stage`, `seller.name`, `tenant.name`, …
pub type Facts = BTreeMap<String, Value>;

/// Where a template variable gets its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    /// A fact key (`lead.first_name`, `opportunity.value`, `seller.name`,
    /// `tenant.name`, …) or `fixed`.
    pub source: String,
    /// The text when `source` is `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Used when the source is empty or missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

pub const BINDING_SOURCES: [&str; 13] = [
    "fixed",
    "lead.name",
    "lead.first_name",
    "lead.phone",
    "lead.email",
    "lead.status",
    "lead.source",
    "opportunity.title",
    "opportunity.stage",
    "opportunity.value",
    "seller.name",
    "seller.first_name",
    "tenant.name",
];

impl Binding {
    pub fn validate(&self, key: &str) -> Result<(), CoreError> {
        if !BINDING_SOURCES.contains(&self.source.as_str()) {
            return Err(CoreError::Validation {
                code: "invalid_binding",
                message: format!(
                    "variable {{{{{key}}}}}: source '{}' must be one of {}",
                    self.source,
                    BINDING_SOURCES.join(", ")
                ),
                details: Some(json!({"key": key})),
            });
        }
        if self.source == "fixed" && self.value.as_deref().unwrap_or_default().trim().is_empty() {
            return Err(CoreError::Validation {
                code: "invalid_binding",
                message: format!("variable {{{{{key}}}}}: a fixed value needs a text"),
                details: Some(json!({"key": key})),
            });
        }
        Ok(())
    }

    /// The value for these facts, or `None` when empty and without fallback.
    pub fn resolve(&self, facts: &Facts) -> Option<String> {
        let raw = if self.source == "fixed" {
            self.value.clone()
        } else {
            facts.get(&self.source).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        raw.filter(|s| !s.trim().is_empty())
            .or_else(|| self.fallback.clone().filter(|s| !s.trim().is_empty()))
    }
}

/// Resolves every binding; the first variable without a value is an error
/// carrying its key.
pub fn resolve_bindings(
    bindings: &BTreeMap<String, Binding>,
    facts: &Facts,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, b) in bindings {
        let v = b.resolve(facts).ok_or_else(|| k.clone())?;
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// A daily window in which nothing is sent, e.g. 21:00–09:00.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuietHours {
    /// "HH:MM", local time.
    pub start: String,
    /// "HH:MM", local time.
    pub end: String,
    /// `lead` (the lead's zone, falling back to the tenant's) or `tenant`.
    #[serde(default = "default_tz_source")]
    pub timezone: String,
}

fn default_tz_source() -> String {
    "lead".to_owned()
}

fn parse_hm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl QuietHours {
    pub fn validate(&self) -> Result<(), CoreError> {
        let (Some(a), Some(b)) = (parse_hm(&self.start), parse_hm(&self.end)) else {
            return Err(CoreError::validation(
                "invalid_quiet_hours",
                "quiet hours start and end must be HH:MM",
            ));
        };
        if a == b {
            return Err(CoreError::validation(
                "invalid_quiet_hours",
                "quiet hours start and end must differ",
            ));
        }
        if self.timezone != "lead" && self.timezone != "tenant" {
            return Err(CoreError::validation(
                "invalid_quiet_hours",
                "quiet hours timezone must be 'lead' or 'tenant'",
            ));
        }
        Ok(())
    }

    fn window(&self) -> Option<(NaiveTime, NaiveTime)> {
        Some((parse_hm(&self.start)?, parse_hm(&self.end)?))
    }

    /// Whether local wall time `t` falls in the quiet window (start inclusive,
    /// end exclusive; a window may wrap midnight).
    fn contains(&self, t: NaiveTime) -> bool {
        let Some((a, b)) = self.window() else {
            return false;
        };
        if a < b {
            t >= a && t < b
        } else {
            t >= a || t < b
        }
    }

    /// `None` when `now` is outside the window; otherwise the first instant
    /// at or after the window's end in `tz`, computed on the local calendar
    /// so DST changes move the UTC instant, not the local hour.
    pub fn next_allowed(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let (_, end) = self.window()?;
        let local = now.with_timezone(&tz);
        if !self.contains(local.time()) {
            return None;
        }
        let mut date = local.date_naive();
        if local.time() >= end {
            date = date.succ_opt()?;
        }
        let naive = date.and_time(end);
        let at = match tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            // The end time does not exist that day (clocks jumped over it):
            // the first valid instant after the gap.
            LocalResult::None => {
                let mut probe = naive;
                loop {
                    probe += Duration::minutes(15);
                    if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                        tz.from_local_datetime(&probe)
                    {
                        break t;
                    }
                }
            }
        };
        Some(at.with_timezone(&Utc))
    }
}

/// At most `max` automated sends to one lead per `hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FrequencyCap {
    pub max: u32,
    pub hours: u32,
}

impl FrequencyCap {
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.max == 0 || self.hours == 0 || self.hours > 24 * 90 {
            return Err(CoreError::validation(
                "invalid_frequency_cap",
                "a frequency cap needs max ≥ 1 and hours between 1 and 2160",
            ));
        }
        Ok(())
    }

    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::hours(i64::from(self.hours))
    }

    /// Whether one more send is allowed given `sent_in_window` sends already.
    pub fn allows(&self, sent_in_window: u64) -> bool {
        sent_in_window < u64::from(self.max)
    }
}

/// What the rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Action {
    /// Template name (with `language`) to send.
    pub template_name: String,
    pub language: String,
    /// Variable key ("1", "2", or a named parameter; header variables as
    /// "header.1", URL button variables as "button.0") → binding.
    #[serde(default)]
    pub bindings: BTreeMap<String, Binding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_status: Option<String>,
}

/// A rule's definition (the stored columns other than bookkeeping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleSpec {
    #[schema(min_length = 1, max_length = 120, pattern = r"\S")]
    pub name: String,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub action: Action,
    /// Minutes to wait after the trigger before sending.
    #[serde(default)]
    pub delay_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<FrequencyCap>,
    #[serde(default)]
    pub enabled: bool,
}

impl RuleSpec {
    pub fn validate(&self) -> Result<(), CoreError> {
        crate::validate::name("name", &self.name, 120)?;
        self.trigger.validate()?;
        for c in &self.conditions {
            c.validate()?;
        }
        super::template::validate_name(&self.action.template_name)?;
        super::template::validate_language(&self.action.language)?;
        for (k, b) in &self.action.bindings {
            b.validate(k)?;
        }
        if self.delay_minutes > 60 * 24 * 30 {
            return Err(CoreError::validation(
                "invalid_delay",
                "the delay may be at most 30 days",
            ));
        }
        if let Some(q) = &self.quiet_hours {
            q.validate()?;
        }
        if let Some(f) = &self.frequency_cap {
            f.validate()?;
        }
        Ok(())
    }

    /// Whether an outbox event matches this rule's trigger.
    pub fn matches_event(&self, event_type: &str, payload: &Value, facts: &Facts) -> bool {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let same = |want: &Option<String>, got: Option<String>| match want {
            None => true,
            Some(w) => got.is_some_and(|g| g.eq_ignore_ascii_case(w)),
        };
        match &self.trigger {
            Trigger::LeadCreated {
                source,
                channel,
                campaign_id,
            } => {
                event_type == "lead_created"
                    && same(source, s(facts.get("lead.source")))
                    && same(channel, s(facts.get("lead.channel")))
                    && same(campaign_id, s(facts.get("lead.campaign_id")))
            }
            Trigger::StatusChanged { to } => {
                event_type == "lead_status_changed"
                    && same(
                        to,
                        s(payload.get("to")).or_else(|| s(payload.get("status"))),
                    )
            }
            Trigger::StageChanged { to } => {
                event_type == "opportunity_stage_changed"
                    && same(
                        to,
                        s(payload.get("to"))
                            .or_else(|| s(payload.get("to_stage")))
                            .or_else(|| s(payload.get("stage"))),
                    )
            }
            Trigger::OpportunityWon => event_type == "opportunity_won",
            _ => false,
        }
    }

    pub fn conditions_hold(&self, facts: &Facts) -> Result<(), String> {
        match self.conditions.iter().find(|c| !c.matches(facts)) {
            None => Ok(()),
            Some(c) => Err(c.field.clone()),
        }
    }
}

/// Why a send did not happen (or was deferred). Stable codes for the log.
pub mod reason {
    pub const QUIET_HOURS: &str = "quiet_hours";
    pub const OPTED_OUT: &str = "opted_out";
    pub const NO_MARKETING_CONSENT: &str = "no_marketing_consent";
    pub const FREQUENCY_CAP: &str = "frequency_cap";
    pub const TEMPLATE_NOT_APPROVED: &str = "template_not_approved";
    pub const TEMPLATE_PAUSED: &str = "template_paused";
    pub const TEMPLATE_NOT_FOUND: &str = "template_not_found";
    pub const NO_RECIPIENT: &str = "no_recipient";
    pub const TOKEN_INVALID: &str = "token_invalid";
    pub const CONDITIONS_NOT_MET: &str = "conditions_not_met";
    pub const MISSING_VARIABLE: &str = "missing_variable";
    pub const PARAMETER_MISMATCH: &str = "parameter_count_mismatch";
    pub const RULE_DISABLED: &str = "rule_disabled";
    pub const NOT_CONNECTED: &str = "not_connected";
    pub const REPLIED: &str = "replied";
    pub const META_ERROR: &str = "meta_error";
    /// Meta neither answered the send nor reported on it: it may or may not
    /// have been delivered. Held for a person to resend or dismiss.
    pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
    /// Dry run only: the rule already handled this lead's trigger occurrence
    /// (its send key exists), so the engine would not send again.
    pub const ALREADY_HANDLED: &str = "already_handled";
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn facts(pairs: &[(&str, Value)]) -> Facts {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn conditions_evaluate() {
        let f = facts(&[
            ("lead.source", json!("meta_ads")),
            ("lead.tags", json!(["vip", "promo"])),
            ("lead.has_phone", json!(true)),
            ("lead.owner_id", Value::Null),
        ]);
        let c = |field: &str, op: Op, value: Value| Condition {
            field: field.into(),
            op,
            value,
        };
        assert!(c("lead.source", Op::Eq, json!("META_ADS")).matches(&f));
        assert!(!c("lead.source", Op::Neq, json!("meta_ads")).matches(&f));
        assert!(c("lead.source", Op::In, json!(["web", "meta_ads"])).matches(&f));
        assert!(c("lead.source", Op::NotIn, json!(["web"])).matches(&f));
        assert!(c("lead.tags", Op::Contains, json!("vip")).matches(&f));
        assert!(c("lead.tags", Op::NotContains, json!("cold")).matches(&f));
        assert!(c("lead.has_phone", Op::Exists, Value::Null).matches(&f));
        assert!(c("lead.owner_id", Op::NotExists, Value::Null).matches(&f));
        assert!(!c("lead.owner_id", Op::Exists, Value::Null).matches(&f));
        assert!(c("lead.campaign_id", Op::NotExists, Value::Null).matches(&f));
        assert!(c("lead.source", Op::In, json!("web")).validate().is_err());
        assert!(c("lead.nope", Op::Eq, json!(1)).validate().is_err());
    }

    #[test]
    fn bindings_use_fallbacks() {
        let f = facts(&[
            ("lead.first_name", json!("")),
            ("seller.name", json!("Marta")),
            ("opportunity.value", json!(1500)),
        ]);
        let mut b = BTreeMap::new();
        b.insert(
            "1".to_string(),
            Binding {
                source: "lead.first_name".into(),
                value: None,
                fallback: Some("cliente".into()),
            },
        );
        b.insert(
            "2".to_string(),
            Binding {
                source: "seller.name".into(),
                value: None,
                fallback: None,
            },
        );
        b.insert(
            "10".to_string(),
            Binding {
                source: "fixed".into(),
                value: Some("hoy".into()),
                fallback: None,
            },
        );
        let v = resolve_bindings(&b, &f).unwrap();
        assert_eq!(v["1"], "cliente");
        assert_eq!(v["2"], "Marta");
        assert_eq!(v["10"], "hoy");
        b.insert(
            "3".to_string(),
            Binding {
                source: "tenant.name".into(),
                value: None,
                fallback: None,
            },
        );
        assert_eq!(resolve_bindings(&b, &f).unwrap_err(), "3");
        let n = Binding {
            source: "opportunity.value".into(),
            value: None,
            fallback: None,
        };
        assert_eq!(n.resolve(&f).as_deref(), Some("1500"));
    }

    fn quiet(start: &str, end: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            timezone: "lead".into(),
        }
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_local_time() {
        let q = quiet("21:00", "09:00");
        let tz: Tz = "America/Argentina/Buenos_Aires".parse().unwrap();
        // 23:30 UTC is 20:30 in Buenos Aires (UTC-3): allowed.
        assert_eq!(q.next_allowed(utc("2026-03-10T23:30:00Z"), tz), None);
        // 01:00 UTC is 22:00 local: wait until 09:00 local = 12:00 UTC.
        assert_eq!(
            q.next_allowed(utc("2026-03-11T01:00:00Z"), tz),
            Some(utc("2026-03-11T12:00:00Z"))
        );
        // 10:00 UTC is 07:00 local, same morning.
        assert_eq!(
            q.next_allowed(utc("2026-03-11T10:00:00Z"), tz),
            Some(utc("2026-03-11T12:00:00Z"))
        );
        // A UTC comparison would have said 10:00 is fine; local time says no.
        let day = quiet("13:00", "14:00");
        assert_eq!(
            day.next_allowed(utc("2026-03-11T16:30:00Z"), tz),
            Some(utc("2026-03-11T17:00:00Z"))
        );
    }

    #[test]
    fn quiet_hours_across_dst_changes() {
        let q = quiet("21:00", "09:00");
        let ny: Tz = "America/New_York".parse().unwrap();
        // Saturday 2026-03-07 23:00 EST (04:00Z Sunday). DST starts Sunday
        // 2026-03-08 at 02:00; 09:00 EDT is 13:00Z, not 14:00Z.
        assert_eq!(
            q.next_allowed(utc("2026-03-08T04:00:00Z"), ny),
            Some(utc("2026-03-08T13:00:00Z"))
        );
        // Autumn: DST ends Sunday 2026-11-01 at 02:00; 09:00 EST is 14:00Z.
        assert_eq!(
            q.next_allowed(utc("2026-11-01T03:00:00Z"), ny),
            Some(utc("2026-11-01T14:00:00Z"))
        );
        // A window ending inside the spring gap (02:30 does not exist).
        let gap = quiet("01:00", "02:30");
        assert_eq!(
            gap.next_allowed(utc("2026-03-08T06:30:00Z"), ny),
            Some(utc("2026-03-08T07:00:00Z"))
        );
        // Madrid, spring forward 2026-03-29 02:00 → 03:00.
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        assert_eq!(
            q.next_allowed(utc("2026-03-28T22:00:00Z"), madrid),
            Some(utc("2026-03-29T07:00:00Z"))
        );
    }

    #[test]
    fn frequency_cap_counts() {
        let f = FrequencyCap { max: 2, hours: 24 };
        assert!(f.allows(0));
        assert!(f.allows(1));
        assert!(!f.allows(2));
        assert_eq!(
            f.window_start(utc("2026-03-11T12:00:00Z")),
            utc("2026-03-10T12:00:00Z")
        );
        assert!(FrequencyCap { max: 0, hours: 1 }.validate().is_err());
    }

    #[test]
    fn triggers_match_events() {
        let spec = |trigger: Trigger| RuleSpec {
            name: "r".into(),
            trigger,
            conditions: vec![],
            action: Action {
                template_name: "welcome".into(),
                language: "es".into(),
                bindings: BTreeMap::new(),
                add_tag: None,
                set_status: None,
            },
            delay_minutes: 0,
            quiet_hours: None,
            frequency_cap: None,
            enabled: true,
        };
        let f = facts(&[
            ("lead.source", json!("meta_ads")),
            ("lead.channel", json!("whatsapp")),
        ]);
        let lc = spec(Trigger::LeadCreated {
            source: Some("meta_ads".into()),
            channel: None,
            campaign_id: None,
        });
        assert!(lc.matches_event("lead_created", &json!({}), &f));
        assert!(!lc.matches_event("opportunity_won", &json!({}), &f));
        let web = spec(Trigger::LeadCreated {
            source: Some("web".into()),
            channel: None,
            campaign_id: None,
        });
        assert!(!web.matches_event("lead_created", &json!({}), &f));
        let st = spec(Trigger::StatusChanged {
            to: Some("qualified".into()),
        });
        assert!(st.matches_event("lead_status_changed", &json!({"to": "qualified"}), &f));
        assert!(!st.matches_event("lead_status_changed", &json!({"to": "lost"}), &f));
        let won = spec(Trigger::OpportunityWon);
        assert!(won.matches_event("opportunity_won", &json!({}), &f));
        assert!(spec(Trigger::NoReply { hours: 0 }).validate().is_err());
        assert!(spec(Trigger::NoReply { hours: 2 }).validate().is_ok());
    }
}
