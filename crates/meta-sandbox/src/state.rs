//! Mutable sandbox state: tokens, leads, templates, contacts, recordings, faults, usage.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::error::GraphError;
use crate::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TokenKind {
    User,
    Page,
    App,
    SystemUser,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRec {
    #[serde(skip)]
    pub token: String,
    pub kind: TokenKind,
    pub user: Option<usize>,
    pub page: Option<usize>,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    /// 0 = never expires.
    pub expires_at: i64,
    pub data_access_expires_at: i64,
    pub invalidated: bool,
    pub revoked: bool,
    pub long_lived: bool,
    /// Business Integration System User tokens are limited to one client business.
    pub business: Option<usize>,
}

impl TokenRec {
    /// Businesses whose assets this token reaches.
    pub fn businesses(&self, w: &World) -> Vec<usize> {
        match (self.business, self.user) {
            (Some(b), _) => vec![b],
            (None, Some(u)) => w
                .users
                .get(u)
                .map(|x| x.businesses.clone())
                .unwrap_or_default(),
            _ => vec![],
        }
    }
}

#[derive(Debug, Clone)]
pub struct CodeRec {
    pub user: usize,
    pub business: Option<usize>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub created_at: i64,
    pub used: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadRec {
    pub id: String,
    pub form: usize,
    pub ad: Option<usize>,
    pub created_time: i64,
    pub field_data: Vec<(String, Vec<String>)>,
    pub platform: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemplateRec {
    pub id: String,
    pub waba: usize,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub components: Value,
    pub parameter_format: String,
    pub quality: String,
    pub rejected_reason: String,
    pub previous_category: Option<String>,
    pub deleted: bool,
    /// Body variables: positional count or named list.
    pub body_params: usize,
    pub header_params: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactRec {
    pub wa_id: String,
    pub name: String,
    pub user_id: Option<String>,
    pub last_inbound: Option<i64>,
    pub opted_out: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub id: String,
    pub phone_number_id: String,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: Value,
    pub template_name: Option<String>,
    pub template_language: Option<String>,
    pub category: String,
    pub biz_opaque_callback_data: Option<String>,
    pub status: String,
    pub statuses: Vec<StatusEvent>,
    pub created_at: i64,
    /// Whether the customer-service window was open when it was sent (pricing).
    pub in_window: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusEvent {
    pub status: String,
    pub timestamp: i64,
    pub error_code: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CapiRecord {
    pub dataset_id: String,
    pub received_at: i64,
    pub events: Vec<Value>,
    pub test_event_code: Option<String>,
    pub partner_agent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookRecord {
    pub id: u64,
    pub object: String,
    pub field: String,
    pub url: Option<String>,
    pub body: String,
    pub signature_256: String,
    pub state: String,
    pub attempts: Vec<Attempt>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestLog {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub error_code: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    Error(GraphError),
    Latency(u64),
    Throttle(Option<i64>),
    NullBatch,
    TokenExpired,
    TokenInvalid,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub path: String,
    pub remaining: u32,
    pub kind: FaultKind,
    pub method: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReportRun {
    pub id: String,
    pub account: usize,
    pub target: String,
    pub params: Vec<(String, String)>,
    pub polls: u32,
    pub created_at: i64,
    pub date_start: String,
    pub date_stop: String,
}

/// Settings that can be changed at runtime through `/_sandbox/config`.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub webhook_url: Option<String>,
    pub webhook_verify_token: Option<String>,
    pub template_review_delay_ms: Option<u64>,
    pub status_delay_ms: u64,
    /// "ordered" | "shuffled" | "duplicate"
    pub status_mode: String,
    pub messages_per_second: u32,
    pub pair_messages_per_minute: u32,
    pub app_calls_per_window: u32,
    pub account_calls_per_window: u32,
    pub user_calls_per_window: u32,
    pub webhook_max_attempts: u32,
    pub webhook_retry_base_ms: u64,
    pub async_policy_errors: bool,
    pub require_subscription: bool,
    pub report_run_polls: u32,
    /// When set, every Nth insights request restates a random part of the last 28 days by ±3%.
    pub auto_restate_every: Option<u32>,
    /// Like the app setting "Require App Secret": user-token calls without `appsecret_proof` fail.
    pub require_appsecret_proof: bool,
}

/// Sliding 60-second window counter with one bucket per second.
#[derive(Debug, Clone)]
pub struct Window {
    buckets: [u32; 60],
    stamps: [u64; 60],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            buckets: [0; 60],
            stamps: [0; 60],
        }
    }
}

impl Window {
    pub fn hit(&mut self, sec: u64) {
        let i = (sec % 60) as usize;
        if self.stamps[i] != sec {
            self.stamps[i] = sec;
            self.buckets[i] = 0;
        }
        self.buckets[i] += 1;
    }
    pub fn count(&self, sec: u64) -> u32 {
        (0..60)
            .filter(|&i| self.stamps[i] + 60 > sec && self.stamps[i] <= sec)
            .map(|i| self.buckets[i])
            .sum()
    }
    /// Seconds until the oldest counted bucket leaves the window.
    pub fn regain_secs(&self, sec: u64) -> u64 {
        (0..60)
            .filter(|&i| self.stamps[i] + 60 > sec && self.stamps[i] <= sec && self.buckets[i] > 0)
            .map(|i| self.stamps[i] + 60 - sec)
            .min()
            .unwrap_or(0)
    }
}

pub struct State {
    pub runtime: Runtime,
    pub tokens: HashMap<String, TokenRec>,
    pub codes: HashMap<String, CodeRec>,
    pub leads: Vec<LeadRec>,
    pub lead_index: HashMap<String, usize>,
    pub templates: Vec<TemplateRec>,
    pub template_index: HashMap<String, usize>,
    pub contacts: HashMap<(usize, String), ContactRec>,
    pub sent: Vec<SentMessage>,
    pub sent_index: HashMap<String, usize>,
    pub capi: Vec<CapiRecord>,
    pub webhooks: Vec<WebhookRecord>,
    pub requests: VecDeque<RequestLog>,
    pub faults: Vec<Fault>,
    pub report_runs: HashMap<String, ReportRun>,
    pub restatements: Vec<(i64, f64)>,
    pub page_subscriptions: HashMap<usize, Vec<String>>,
    pub waba_subscriptions: HashSet<usize>,
    pub app_subscriptions: HashMap<String, (String, Vec<String>)>,
    pub app_usage: Window,
    pub account_usage: HashMap<usize, (Window, Window)>,
    pub user_usage: HashMap<usize, Window>,
    pub throughput: HashMap<usize, VecDeque<Instant>>,
    pub pair: HashMap<(usize, String), VecDeque<Instant>>,
    pub counter: u64,
    pub insights_calls: u64,
}

impl State {
    pub fn new(world: &World, runtime: Runtime, now: i64) -> State {
        let mut s = State {
            runtime,
            tokens: HashMap::new(),
            codes: HashMap::new(),
            leads: vec![],
            lead_index: HashMap::new(),
            templates: vec![],
            template_index: HashMap::new(),
            contacts: HashMap::new(),
            sent: vec![],
            sent_index: HashMap::new(),
            capi: vec![],
            webhooks: vec![],
            requests: VecDeque::new(),
            faults: vec![],
            report_runs: HashMap::new(),
            restatements: vec![],
            page_subscriptions: HashMap::new(),
            waba_subscriptions: HashSet::new(),
            app_subscriptions: HashMap::new(),
            app_usage: Window::default(),
            account_usage: HashMap::new(),
            user_usage: HashMap::new(),
            throughput: HashMap::new(),
            pair: HashMap::new(),
            counter: 0,
            insights_calls: 0,
        };
        for l in &world.seed_leads {
            let form = &world.forms[l.form];
            let custom_key = form
                .questions
                .last()
                .map(|q| q.key.clone())
                .unwrap_or_default();
            let id = s.new_lead_id(world.seed);
            s.insert_lead(LeadRec {
                id,
                form: l.form,
                ad: l.ad,
                created_time: l.created_time,
                field_data: vec![
                    ("full_name".into(), vec![l.full_name.clone()]),
                    ("email".into(), vec![l.email.clone()]),
                    ("phone_number".into(), vec![l.phone.clone()]),
                    (custom_key, vec![l.answer.clone()]),
                ],
                platform: if l.ad.is_some() { "fb" } else { "ig" },
            });
        }
        for c in &world.seed_contacts {
            s.contacts.insert(
                (c.waba, c.wa_id.clone()),
                ContactRec {
                    wa_id: c.wa_id.clone(),
                    name: c.name.clone(),
                    user_id: None,
                    last_inbound: c.last_inbound_ago.map(|a| now - a),
                    opted_out: c.opted_out,
                },
            );
        }
        for w in 0..world.wabas.len() {
            for t in crate::whatsapp::seed_templates() {
                let id = s.new_numeric_id(world.seed, "", 15);
                let mut rec = t;
                rec.id = id;
                rec.waba = w;
                s.insert_template(rec);
            }
        }
        s
    }

    pub fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub fn new_numeric_id(&mut self, seed: u64, prefix: &str, width: u32) -> String {
        let n = self.next_id();
        let low = 10u64.pow(width - 1);
        let v = low + (crate::util::mix(crate::util::mix(seed).wrapping_add(n)) % (8 * low));
        format!("{prefix}{v}")
    }

    pub fn new_lead_id(&mut self, seed: u64) -> String {
        loop {
            let id = self.new_numeric_id(seed, "", 16);
            if !self.lead_index.contains_key(&id) {
                return id;
            }
        }
    }

    pub fn insert_lead(&mut self, l: LeadRec) {
        self.lead_index.insert(l.id.clone(), self.leads.len());
        self.leads.push(l);
    }

    pub fn insert_template(&mut self, t: TemplateRec) {
        self.template_index
            .insert(t.id.clone(), self.templates.len());
        self.templates.push(t);
    }

    pub fn log_request(&mut self, r: RequestLog) {
        if self.requests.len() >= 5000 {
            self.requests.pop_front();
        }
        self.requests.push_back(r);
    }

    /// Takes the first matching fault, decrementing its count.
    pub fn take_fault(&mut self, path: &str, method: &str, batch_item: bool) -> Option<FaultKind> {
        let pos = self.faults.iter().position(|f| {
            f.remaining > 0
                && path.contains(&f.path)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && (batch_item || !matches!(f.kind, FaultKind::NullBatch))
        })?;
        let f = &mut self.faults[pos];
        f.remaining -= 1;
        let kind = f.kind.clone();
        if f.remaining == 0 {
            self.faults.remove(pos);
        }
        Some(kind)
    }
}
