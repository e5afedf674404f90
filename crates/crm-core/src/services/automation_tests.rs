//! Engine tests against the real Meta sandbox (library), on the database the
//! test URL names (SQLite by default, PostgreSQL with CRM_TEST_DATABASE_URL).
//! The sandbox's webhooks are received by a small local HTTP listener and
//! handed to the registered HSM handlers; jobs are drained by a loop that
//! does what the worker does (dispatch the outbox, claim, run, record).
//! Every assertion about sending is made on what the sandbox recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crm_db::entity::{automation_run, lead};
use crm_db::jobs;
use crm_db::outbox::{self, Consumer};
use meta_graph::{AppSecret, GraphClient, GraphConfig, LoginScope};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automation::rule::RuleSpec;
use crate::services::automation::{self as auto, RunOutcome};
use crate::services::meta_connection::{self, MetaEnv, SelectWhatsApp};
use crate::services::webhooks::{self, HandlerCx, InboxEvent, WebhookRegistry};
use crate::services::{accounts, leads, messaging, templates};
use crate::{Role, TenantCtx};

struct H {
    db: DatabaseConnection,
    env: MetaEnv,
    ctx: TenantCtx,
    sandbox: meta_sandbox::Sandbox,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!("crm-hsm-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn hooks() -> WebhookRegistry {
    let mut r = WebhookRegistry::default();
    templates::register_webhooks(&mut r);
    messaging::register_webhooks(&mut r);
    r
}

/// A tiny webhook receiver: split the delivery like the shared inbox does
/// and run the handler of each event for `tenant`.
async fn receiver(
    db: DatabaseConnection,
    env_slot: Arc<tokio::sync::OnceCell<MetaEnv>>,
    tenant: Uuid,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hooks = Arc::new(hooks());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let db = db.clone();
            let hooks = hooks.clone();
            let env_slot = env_slot.clone();
            async move {
                let Some(env) = env_slot.get().cloned() else {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                };
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let events = webhooks::split(&v);
                for e in events {
                    if let Some(h) = hooks.get(&e.field) {
                        let ev = InboxEvent {
                            inbox_id: Uuid::now_v7(),
                            tenant_id: tenant,
                            object: e.object.clone(),
                            field: e.field.clone(),
                            entry_id: e.entry_id.clone(),
                            entry_time: e.entry_time,
                            value: e.value.clone(),
                            received_at: Utc::now(),
                        };
                        if let Err(err) = h(
                            HandlerCx {
                                db: db.clone(),
                                env: env.clone(),
                            },
                            ev,
                        )
                        .await
                        {
                            eprintln!("handler {} failed: {err:?}", e.field);
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

async fn setup() -> H {
    let dir = tempdir::Dir::new();
    let url = crm_db::testing::fresh_database_url(&dir.0).await.unwrap();
    let db = crm_db::connect(&url, 5).await.unwrap();
    crm_db::migrate(&db).await.unwrap();
    let t = accounts::create_tenant(
        &db,
        &accounts::NewTenant {
            name: "Acme".into(),
            currency: "USD".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            locale: "es".into(),
            country: "AR".into(),
        },
    )
    .await
    .unwrap();
    let u = accounts::create_user_cli(
        &db,
        t.id,
        &accounts::NewUser {
            email: "ceo@acme.test".into(),
            name: "Carla CEO".into(),
            role: Role::Ceo,
            password: "correct horse battery".into(),
        },
    )
    .await
    .unwrap();
    let ctx = TenantCtx {
        tenant_id: t.id,
        user_id: Some(u.id),
        token_id: None,
        role: Role::Ceo,
        ip: None,
        user_agent: None,
    };
    let slot = Arc::new(tokio::sync::OnceCell::new());
    let hook_url = receiver(db.clone(), slot.clone(), t.id).await;
    let sandbox = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        webhook_url: Some(hook_url),
        enable_control: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = GraphConfig::new(
        sandbox.app_id().to_owned(),
        AppSecret::new("sandbox-app-secret".to_owned()),
    )
    .with_base_url(sandbox.base_url());
    let env = MetaEnv {
        keyring: Arc::new(
            crate::vault::Keyring::from_base64(&[crate::vault::generate_key()]).unwrap(),
        ),
        graph: Some(GraphClient::new(cfg).unwrap()),
        app_secret: Some(AppSecret::new("sandbox-app-secret".to_owned())),
        login: LoginScope::Scopes(vec![]),
        required_scopes: meta_connection::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        public_url: "http://127.0.0.1".into(),
    };
    let _ = slot.set(env.clone());
    let h = H {
        db,
        env,
        ctx,
        sandbox,
        _dir: dir,
    };
    let tok = h.control("/tokens", json!({"user": 0})).await;
    meta_connection::connect_system_user_token(
        &h.db,
        &h.env,
        &h.ctx,
        tok["access_token"].as_str().unwrap(),
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
    let mut pick = None;
    for p in meta_connection::portfolios(&h.db, &h.env, &h.ctx)
        .await
        .map_err(|e| e.to_string())
        .unwrap()
    {
        let wabas = meta_connection::whatsapp_accounts(&h.db, &h.env, &h.ctx, Some(&p.id))
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        if let Some(w) = wabas.into_iter().find(|w| !w.phone_numbers.is_empty()) {
            pick = Some(w);
            break;
        }
    }
    let w = pick.expect("a WABA with a number");
    meta_connection::select_whatsapp(
        &h.db,
        &h.env,
        &h.ctx,
        &SelectWhatsApp {
            waba_id: w.id.clone(),
            phone_number_ids: vec![w.phone_numbers[0].id.clone()],
        },
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
    h
}

impl H {
    async fn control(&self, path: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox{path}", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let s = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(s.is_success(), "{path}: {v}");
        v
    }

    async fn sent(&self) -> Vec<Value> {
        let v: Value = reqwest::get(format!(
            "{}/_sandbox/received/messages",
            self.sandbox.base_url()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    }

    async fn approved(&self, name: &str, category: &str) -> Uuid {
        let t = templates::create(
            &self.db,
            &self.env,
            &self.ctx,
            &templates::NewTemplateInput {
                name: name.into(),
                language: "es".into(),
                category: category.into(),
                parameter_format: None,
                components: serde_json::from_value(json!([
                    {"type": "BODY", "text": "Hola {{1}}, te escribe {{2}}.",
                     "example": {"body_text": [["Ana", "Acme"]]}}
                ]))
                .unwrap(),
            },
        )
        .await
        .map_err(|e| e.to_string())
        .unwrap();
        self.control(
            &format!("/templates/{}/review", t.meta_id),
            json!({"status": "APPROVED"}),
        )
        .await;
        for _ in 0..100 {
            let m = templates::find(&self.db, self.ctx.tenant_id, t.id)
                .await
                .unwrap();
            if m.status == "APPROVED" {
                return t.id;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("template {name} never approved");
    }

    async fn lead(&self, name: &str, phone: Option<&str>, opt_in: bool, tz: Option<&str>) -> Uuid {
        let r = leads::create(
            &self.db,
            &self.ctx,
            &serde_json::from_value(json!({
                "name": name, "phone": phone, "email": if phone.is_none() { Some(format!("{}@x.test", Uuid::new_v4().simple())) } else { None },
                "opt_in_method": if opt_in { Some("web_form") } else { None },
                "timezone": tz,
            }))
            .unwrap(),
            leads::OnDuplicate::Reject,
        )
        .await
        .map_err(|e| e.to_string())
        .unwrap();
        r.lead.id
    }

    async fn rule(&self, spec: Value) -> Uuid {
        let spec: RuleSpec = serde_json::from_value(spec).unwrap();
        auto::create_rule(&self.db, &self.ctx, &spec)
            .await
            .map_err(|e| e.to_string())
            .unwrap()
            .id
    }

    /// Does what the worker does until nothing is due (bounded).
    async fn drain(&self) {
        let consumers = [Consumer {
            job_kind: auto::EVENT_JOB,
            wants: auto::wants_event,
        }];
        for _ in 0..200 {
            outbox::dispatch(&self.db, &consumers, 200).await.unwrap();
            let claimed = jobs::claim(&self.db, "test", 50, Duration::from_secs(60))
                .await
                .unwrap();
            if claimed.is_empty() {
                return;
            }
            for j in claimed {
                match j.kind.as_str() {
                    auto::EVENT_JOB => {
                        auto::on_event(&self.db, &j.payload, j.tenant_id.unwrap())
                            .await
                            .unwrap();
                        jobs::complete(&self.db, &jobs::Fence::of(&j))
                            .await
                            .unwrap();
                    }
                    auto::SEND_JOB => {
                        let run: Uuid = j.payload["run_id"].as_str().unwrap().parse().unwrap();
                        match auto::run_send(&self.db, &self.env, run).await.unwrap() {
                            RunOutcome::Postpone(at) => {
                                jobs::postpone(&self.db, &jobs::Fence::of(&j), at)
                                    .await
                                    .unwrap();
                            }
                            RunOutcome::Retry { error, after } => {
                                jobs::fail(&self.db, &j, &error, after, false)
                                    .await
                                    .unwrap();
                            }
                            _ => {
                                jobs::complete(&self.db, &jobs::Fence::of(&j))
                                    .await
                                    .unwrap();
                            }
                        }
                    }
                    _ => {
                        jobs::complete(&self.db, &jobs::Fence::of(&j))
                            .await
                            .unwrap();
                    }
                }
            }
        }
    }

    async fn runs(&self, rule: Uuid) -> Vec<automation_run::Model> {
        automation_run::Entity::find()
            .filter(automation_run::Column::RuleId.eq(rule))
            .all(&self.db)
            .await
            .unwrap()
    }
}

fn rule_json(name: &str, template: &str, trigger: Value) -> Value {
    json!({
        "name": name, "enabled": true, "trigger": trigger,
        "action": {"template_name": template, "language": "es", "bindings": {
            "1": {"source": "lead.first_name", "fallback": "hola"},
            "2": {"source": "tenant.name"}
        }}
    })
}

#[tokio::test]
async fn lead_created_sends_once_and_guards_have_reason_codes() {
    let h = setup().await;
    h.approved("hsm_test_welcome", "MARKETING").await;
    let rid = h
        .rule(rule_json(
            "Bienvenida",
            "hsm_test_welcome",
            json!({"type": "lead_created"}),
        ))
        .await;
    let ok = h
        .lead("Ana Pérez", Some("+5491155550111"), true, None)
        .await;
    let cold = h
        .lead("Sin Permiso", Some("+5491155550112"), false, None)
        .await;
    let nophone = h.lead("Solo Email", None, true, None).await;
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs.len(), 3);
    let by = |id: Uuid| runs.iter().find(|r| r.lead_id == id).unwrap().clone();
    assert!(
        ["sent", "delivered", "read"].contains(&by(ok).status.as_str()),
        "{:?}",
        by(ok)
    );
    assert_eq!(
        by(ok).rendered.as_deref(),
        Some("Hola Ana, te escribe Acme.")
    );
    assert_eq!(by(cold).reason.as_deref(), Some("no_marketing_consent"));
    assert_eq!(by(nophone).reason.as_deref(), Some("no_recipient"));
    let sent = h.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    // Running the same event again creates nothing new (unique send key).
    h.drain().await;
    assert_eq!(h.runs(rid).await.len(), 3);
    // Status webhooks move the run forward: queued → sent → delivered → read.
    for _ in 0..100 {
        let r = h
            .runs(rid)
            .await
            .into_iter()
            .find(|r| r.lead_id == ok)
            .unwrap();
        if r.status == "read" {
            let steps: Vec<String> = r
                .timeline
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["status"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(steps, vec!["queued", "sent", "delivered", "read"]);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never read");
}

#[tokio::test]
async fn opted_out_and_parameter_mismatch_never_reach_meta() {
    let h = setup().await;
    let tid = h.approved("hsm_test_promo", "MARKETING").await;
    let l = h.lead("Ana", Some("+5491155550121"), true, None).await;
    // STOP keyword from the lead opts them out.
    h.control("/inbound", json!({"from": "5491155550121", "text": "STOP"}))
        .await;
    for _ in 0..100 {
        let m = lead::Entity::find_by_id(l)
            .one(&h.db)
            .await
            .unwrap()
            .unwrap();
        if messaging::consent_of(&m).opted_out {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = lead::Entity::find_by_id(l)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.opt_out_method.as_deref(), Some("keyword:STOP"));
    assert!(m.last_inbound_at.is_some());
    let err = messaging::send_manual(
        &h.db,
        &h.env,
        &h.ctx,
        tid,
        &messaging::SendInput {
            lead_id: l,
            variables: BTreeMap::from([("1".into(), "Ana".into()), ("2".into(), "Acme".into())]),
        },
        None,
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(err.to_string().contains("opted out"), "{err}");
    let l2 = h.lead("Beto", Some("+5491155550122"), true, None).await;
    let err = messaging::send_manual(
        &h.db,
        &h.env,
        &h.ctx,
        tid,
        &messaging::SendInput {
            lead_id: l2,
            variables: BTreeMap::from([("1".into(), "Beto".into())]),
        },
        None,
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert!(err.to_string().contains("expects 2 parameter"), "{err}");
    assert!(h.sent().await.is_empty());
    // A rule for opted-out lead logs opted_out and sends nothing.
    let rid = h.rule(json!({
        "name": "won", "enabled": true, "trigger": {"type": "status_changed", "to": "qualified"},
        "action": {"template_name": "hsm_test_promo", "language": "es", "bindings": {
            "1": {"source": "lead.first_name"}, "2": {"source": "tenant.name"}}}
    })).await;
    leads::update(
        &h.db,
        &h.ctx,
        l,
        &serde_json::from_value(json!({"status": "qualified"})).unwrap(),
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].reason.as_deref(), Some("opted_out"));
    assert!(h.sent().await.is_empty());
}

#[tokio::test]
async fn quiet_hours_reschedule_and_unapproved_template_alerts() {
    let h = setup().await;
    h.approved("aviso", "UTILITY").await;
    // A quiet window that covers "now" in the lead's zone, whatever the time.
    let now_local = Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let start = (now_local - chrono::Duration::hours(1))
        .format("%H:%M")
        .to_string();
    let end = (now_local + chrono::Duration::hours(2))
        .format("%H:%M")
        .to_string();
    let mut spec = rule_json("Quiet", "aviso", json!({"type": "lead_created"}));
    spec["quiet_hours"] = json!({"start": start, "end": end, "timezone": "lead"});
    let rid = h.rule(spec).await;
    h.lead("Kenji", Some("+5491155550131"), true, Some("Asia/Tokyo"))
        .await;
    h.drain().await;
    let r = &h.runs(rid).await[0];
    assert_eq!(r.status, "rescheduled");
    assert_eq!(r.reason.as_deref(), Some("quiet_hours"));
    let expect = now_local + chrono::Duration::hours(2);
    let local = r.run_at.with_timezone(&chrono_tz::Asia::Tokyo);
    assert_eq!(
        local.format("%H:%M").to_string(),
        expect.format("%H:%M").to_string()
    );
    assert!(h.sent().await.is_empty());

    // A rule on a template that is still PENDING: skipped and alerted.
    templates::create(
        &h.db,
        &h.env,
        &h.ctx,
        &templates::NewTemplateInput {
            name: "pendiente".into(),
            language: "es".into(),
            category: "UTILITY".into(),
            parameter_format: None,
            components: serde_json::from_value(
                json!([{"type": "BODY", "text": "Hola {{1}} de {{2}}.",
            "example": {"body_text": [["a", "b"]]}}]),
            )
            .unwrap(),
        },
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
    let rid = h
        .rule(rule_json(
            "Pend",
            "pendiente",
            json!({"type": "lead_created"}),
        ))
        .await;
    h.lead("Luis", Some("+5491155550132"), true, None).await;
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs[0].reason.as_deref(), Some("template_not_approved"));
    let alerts = crm_db::entity::audit_log::Entity::find()
        .filter(crm_db::entity::audit_log::Column::Action.eq("hsm.alert"))
        .all(&h.db)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
}

/// The state a worker leaves when it dies right after claiming a run (the
/// message row is `sending`, the run is `sending`) and before or after Meta's
/// answer could be recorded.
async fn claimed_run(h: &H, template: &str) -> (automation_run::Model, Uuid) {
    use crm_db::entity::{automation_rule, wa_message};
    use sea_orm::{ActiveModelTrait, Set};
    let rid = h
        .rule(rule_json(
            "Crash",
            template,
            json!({"type": "opportunity_won"}),
        ))
        .await;
    let rule = automation_rule::Entity::find_by_id(rid)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap();
    let spec: RuleSpec = serde_json::from_value(rule.spec.clone()).unwrap();
    let lead_id = h
        .lead("Ana Pérez", Some("+5491155550141"), true, None)
        .await;
    auto::schedule_run(&h.db, &rule, &spec, lead_id, "crash", Utc::now())
        .await
        .unwrap();
    let run = h.runs(rid).await.remove(0);
    let template_id = crm_db::entity::wa_template::Entity::find()
        .filter(crm_db::entity::wa_template::Column::TenantId.eq(h.ctx.tenant_id))
        .filter(crm_db::entity::wa_template::Column::Name.eq(template))
        .one(&h.db)
        .await
        .unwrap()
        .map(|t| t.id);
    let mid = Uuid::now_v7();
    let now = Utc::now();
    wa_message::ActiveModel {
        id: Set(mid),
        tenant_id: Set(h.ctx.tenant_id),
        lead_id: Set(lead_id),
        direction: Set("out".into()),
        wamid: Set(None),
        kind: Set("template".into()),
        template_id: Set(template_id),
        template_name: Set(Some(template.into())),
        template_category: Set(Some("UTILITY".into())),
        body: Set("Hola Ana, te escribe Acme.".into()),
        status: Set("sending".into()),
        sent_at: Set(None),
        delivered_at: Set(None),
        read_at: Set(None),
        failed_at: Set(None),
        error_code: Set(None),
        error_message: Set(None),
        rule_id: Set(Some(rid)),
        run_id: Set(Some(run.id)),
        sent_by: Set(None),
        referral: Set(None),
        payload: Set(json!({"values": {"body": {"1": "Ana", "2": "Acme"}}, "language": "es"})),
        idempotency_key: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&h.db)
    .await
    .unwrap();
    let mut am: automation_run::ActiveModel = run.clone().into();
    am.status = Set("sending".into());
    am.message_id = Set(Some(mid));
    let run = am.update(&h.db).await.unwrap();
    (run, mid)
}

async fn run_status(h: &H, id: Uuid) -> automation_run::Model {
    automation_run::Entity::find_by_id(id)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap()
}

async fn message_status(h: &H, id: Uuid) -> String {
    crm_db::entity::wa_message::Entity::find_by_id(id)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn resend_after_silence(h: &H, on: bool) {
    let input: messaging::SettingsInput = serde_json::from_value(json!({
        "opt_out_keywords": ["STOP", "BAJA"], "messages_per_second": 80,
        "resend_unconfirmed": on}))
    .unwrap();
    messaging::update_settings(&h.db, &h.ctx, &input)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unconfirmed_send_is_held_for_review_by_default_and_a_person_resends_it() {
    use crate::services::send_review;
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    h.approved("hsm_crash_a", "UTILITY").await;
    let (run, mid) = claimed_run(&h, "hsm_crash_a").await;
    // Within the grace period nothing happens: Meta might still report it.
    match auto::run_send(&h.db, &h.env, run.id).await.unwrap() {
        RunOutcome::Postpone(at) => assert!(at > Utc::now()),
        o => panic!("expected a postponement, got {o:?}"),
    }
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // No status webhook named m:<id>. Meta may or may not have it: the
    // message is held for a person, never sent again on its own.
    let o = auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert!(matches!(o, RunOutcome::Done), "{o:?}");
    assert!(h.sent().await.is_empty());
    assert_eq!(message_status(&h, mid).await, "held");
    let r = run_status(&h, run.id).await;
    assert_eq!(r.status, "held", "{r:?}");
    assert_eq!(r.reason.as_deref(), Some("outcome_unknown"));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert!(
        h.sent().await.is_empty(),
        "a held message is not resent by the engine"
    );
    // A person resends it: the same message (same callback data), once.
    let v = send_review::resend(&h.db, &h.env, &h.ctx, mid)
        .await
        .map_err(|e| e.to_string())
        .unwrap();
    assert_eq!(v.message.id, mid);
    let sent = h.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["biz_opaque_callback_data"], format!("m:{mid}"));
    assert_eq!(sent[0]["to"], "5491155550141");
    let r = run_status(&h, run.id).await;
    assert!(
        ["sent", "delivered", "read"].contains(&r.status.as_str()),
        "{r:?}"
    );
    // Resending or dismissing it again is refused: it is no longer held.
    let again = send_review::resend(&h.db, &h.env, &h.ctx, mid).await;
    assert!(again.is_err());
    let e = send_review::dismiss(&h.db, &h.ctx, mid).await.unwrap_err();
    assert!(e.to_string().contains("not held"), "{e}");
    assert_eq!(h.sent().await.len(), 1);
}

#[tokio::test]
async fn a_held_message_is_settled_by_a_late_status_webhook() {
    use meta_graph::whatsapp::{Recipient, SendComponent, TemplateMessage};
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    h.approved("hsm_late", "UTILITY").await;
    let (run, mid) = claimed_run(&h, "hsm_late").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert_eq!(message_status(&h, mid).await, "held");
    // Meta did take it after all, and reports it late: the status settles
    // the held message and its run.
    let token = meta_connection::access_token_for(&h.db, &h.env.keyring, h.ctx.tenant_id)
        .await
        .unwrap();
    let (_, phone) = templates::whatsapp_ids(&h.db, h.ctx.tenant_id)
        .await
        .unwrap();
    let components: Vec<SendComponent> = serde_json::from_value(json!([{"type": "body",
        "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "Acme"}]}]))
    .unwrap();
    h.env
        .graph
        .as_ref()
        .unwrap()
        .session(token)
        .send_template(
            &phone,
            &TemplateMessage {
                to: Recipient::Phone("5491155550141".into()),
                name: "hsm_late".into(),
                language: "es".into(),
                components,
                biz_opaque_callback_data: Some(format!("m:{mid}")),
            },
        )
        .await
        .unwrap();
    let mut settled = String::new();
    for _ in 0..50 {
        h.drain().await;
        settled = message_status(&h, mid).await;
        if settled != "held" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ["sent", "delivered", "read"].contains(&settled.as_str()),
        "{settled}"
    );
    let r = run_status(&h, run.id).await;
    assert!(
        ["sent", "delivered", "read"].contains(&r.status.as_str()),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_held_message_dismissed_by_a_person_is_closed_and_not_sent() {
    use crate::services::send_review;
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    h.approved("hsm_dismiss", "UTILITY").await;
    let (run2, mid2) = claimed_run(&h, "hsm_dismiss").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    auto::run_send(&h.db, &h.env, run2.id).await.unwrap();
    assert_eq!(message_status(&h, mid2).await, "held");
    let before = h.sent().await.len();
    let v = send_review::dismiss(&h.db, &h.ctx, mid2).await.unwrap();
    assert_eq!(v.status, "dismissed");
    assert_eq!(run_status(&h, run2.id).await.status, "dismissed");
    assert_eq!(h.sent().await.len(), before);
}

#[tokio::test]
async fn with_resend_after_silence_a_crash_before_the_call_is_resent_once() {
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    resend_after_silence(&h, true).await;
    h.approved("hsm_crash_c", "UTILITY").await;
    let (run, mid) = claimed_run(&h, "hsm_crash_c").await;
    match auto::run_send(&h.db, &h.env, run.id).await.unwrap() {
        RunOutcome::Postpone(at) => assert!(at > Utc::now()),
        o => panic!("expected a postponement, got {o:?}"),
    }
    assert!(h.sent().await.is_empty());
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // At least once: no status webhook named m:<id>, so it is handed over
    // again, with the same callback data.
    let o = auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert!(matches!(o, RunOutcome::Done), "{o:?}");
    let sent = h.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["biz_opaque_callback_data"], format!("m:{mid}"));
    let r = run_status(&h, run.id).await;
    assert!(
        ["sent", "delivered", "read"].contains(&r.status.as_str()),
        "{r:?}"
    );
    assert_eq!(r.message_id, Some(mid));
    // Running the job again (another worker, a retry) sends nothing more.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert_eq!(h.sent().await.len(), 1);
}

#[tokio::test]
async fn crash_after_meta_accepted_is_settled_by_the_status_webhook() {
    use meta_graph::whatsapp::{Recipient, SendComponent, TemplateMessage};
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    h.approved("hsm_crash_b", "UTILITY").await;
    let (run, mid) = claimed_run(&h, "hsm_crash_b").await;
    // The dead worker's request reached Meta; its answer was never recorded.
    let token = meta_connection::access_token_for(&h.db, &h.env.keyring, h.ctx.tenant_id)
        .await
        .unwrap();
    let (_, phone) = templates::whatsapp_ids(&h.db, h.ctx.tenant_id)
        .await
        .unwrap();
    let components: Vec<SendComponent> = serde_json::from_value(json!([{"type": "body",
        "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "Acme"}]}]))
    .unwrap();
    h.env
        .graph
        .as_ref()
        .unwrap()
        .session(token)
        .send_template(
            &phone,
            &TemplateMessage {
                to: Recipient::Phone("5491155550141".into()),
                name: "hsm_crash_b".into(),
                language: "es".into(),
                components,
                biz_opaque_callback_data: Some(format!("m:{mid}")),
            },
        )
        .await
        .unwrap();
    // Past the grace period: the status webhook (matched by the callback
    // data) has settled the message, so the job sends nothing.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let o = auto::run_send(&h.db, &h.env, run.id).await.unwrap();
    assert!(matches!(o, RunOutcome::Done), "{o:?}");
    assert_eq!(h.sent().await.len(), 1);
    let r = run_status(&h, run.id).await;
    assert!(
        ["sent", "delivered", "read"].contains(&r.status.as_str()),
        "{r:?}"
    );
    assert!(r.wamid.is_some());
}

#[tokio::test]
async fn actions_tag_and_set_status_and_a_paused_template_is_skipped() {
    let h = setup().await;
    let tid = h.approved("hsm_acciones", "UTILITY").await;
    let mut spec = rule_json("Acciones", "hsm_acciones", json!({"type": "lead_created"}));
    spec["action"]["add_tag"] = json!("Bienvenida");
    spec["action"]["set_status"] = json!("contacted");
    let rid = h.rule(spec.clone()).await;
    // An unknown status is refused when the rule is saved.
    let mut bad: RuleSpec = serde_json::from_value(spec).unwrap();
    bad.action.set_status = Some("ganado".into());
    let err = auto::create_rule(&h.db, &h.ctx, &bad).await.unwrap_err();
    assert!(err.to_string().contains("set_status"), "{err}");

    let l = h.lead("Ana", Some("+5491155550151"), true, None).await;
    h.drain().await;
    assert_eq!(h.sent().await.len(), 1);
    let m = lead::Entity::find_by_id(l)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.status, "contacted");
    assert_eq!(m.tags, json!(["bienvenida"]));

    // Meta pauses the template (quality): the next run is skipped with
    // template_paused, alerted, and nothing reaches Meta.
    let t = templates::find(&h.db, h.ctx.tenant_id, tid).await.unwrap();
    h.control(
        &format!("/templates/{}/review", t.meta_id),
        json!({"status": "PAUSED"}),
    )
    .await;
    for _ in 0..100 {
        if templates::find(&h.db, h.ctx.tenant_id, tid)
            .await
            .unwrap()
            .status
            == "PAUSED"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let l2 = h.lead("Beto", Some("+5491155550152"), true, None).await;
    h.drain().await;
    let runs = h.runs(rid).await;
    let r2 = runs.iter().find(|r| r.lead_id == l2).unwrap();
    assert_eq!(r2.status, "skipped");
    assert_eq!(r2.reason.as_deref(), Some("template_paused"));
    assert_eq!(h.sent().await.len(), 1);
    let alerts = crm_db::entity::audit_log::Entity::find()
        .filter(crm_db::entity::audit_log::Column::Action.eq("hsm.alert"))
        .all(&h.db)
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
}

#[tokio::test]
async fn quiet_hours_reschedule_to_local_time_across_dst() {
    use chrono::DateTime;
    let h = setup().await;
    h.approved("hsm_dst", "UTILITY").await;
    let mut spec = rule_json("DST", "hsm_dst", json!({"type": "lead_created"}));
    spec["quiet_hours"] = json!({"start": "21:00", "end": "09:00", "timezone": "lead"});
    let spec: RuleSpec = serde_json::from_value(spec).unwrap();
    let l = h
        .lead("Nora", Some("+12125550161"), true, Some("America/New_York"))
        .await;
    let m = lead::Entity::find_by_id(l)
        .one(&h.db)
        .await
        .unwrap()
        .unwrap();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    // Saturday 2026-03-07 23:00 EST; clocks spring forward at 02:00, so
    // 09:00 local next morning is 13:00Z (EDT), not 14:00Z.
    match auto::decide(&h.db, &spec, &m, at("2026-03-08T04:00:00Z"), None, 0)
        .await
        .unwrap()
    {
        auto::Decision::Reschedule { at: t } => assert_eq!(t, at("2026-03-08T13:00:00Z")),
        _ => panic!("expected quiet hours"),
    }
    // Autumn: clocks fall back at 02:00 on 2026-11-01; 09:00 EST is 14:00Z.
    match auto::decide(&h.db, &spec, &m, at("2026-11-01T05:30:00Z"), None, 0)
        .await
        .unwrap()
    {
        auto::Decision::Reschedule { at: t } => assert_eq!(t, at("2026-11-01T14:00:00Z")),
        _ => panic!("expected quiet hours"),
    }
    // At the rescheduled instant the send goes ahead.
    assert!(matches!(
        auto::decide(&h.db, &spec, &m, at("2026-03-08T13:00:00Z"), None, 0)
            .await
            .unwrap(),
        auto::Decision::Send { .. }
    ));
}

#[tokio::test]
async fn meta_errors_permanent_fail_with_code_transient_are_retried() {
    let h = setup().await;
    auto::set_reconcile_after(Duration::from_millis(1000));
    h.approved("hsm_errores", "UTILITY").await;
    let rid = h
        .rule(rule_json(
            "Errores",
            "hsm_errores",
            json!({"type": "lead_created"}),
        ))
        .await;
    // Permanent: Meta's code and message are kept; nothing is retried.
    h.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 131008, "http_status": 400,
               "message": "(#131008) Required parameter is missing",
               "details": "parameter text is required"}),
    )
    .await;
    let a = h.lead("Ana", Some("+5491155550171"), true, None).await;
    h.drain().await;
    let ra = h
        .runs(rid)
        .await
        .into_iter()
        .find(|r| r.lead_id == a)
        .unwrap();
    assert_eq!(ra.status, "failed", "{ra:?}");
    assert_eq!(ra.error_code, Some(131_008));
    assert!(
        ra.error_message
            .as_deref()
            .unwrap_or_default()
            .contains("Required parameter is missing"),
        "{ra:?}"
    );
    assert!(h.sent().await.is_empty());

    // Throughput refusal (130429): retried after a wait, then sent.
    h.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 130429, "http_status": 400,
               "message": "(#130429) Rate limit hit"}),
    )
    .await;
    let b = h.lead("Beto", Some("+5491155550172"), true, None).await;
    h.drain().await;
    assert!(h.sent().await.is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.drain().await;
    let sent = h.sent().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], "5491155550172");

    // Meta unavailable (code 2, HTTP 503): Meta may or may not have it, so
    // the engine waits for a status webhook; none comes, so (at least once,
    // the tenant's choice here) it sends again.
    resend_after_silence(&h, true).await;
    h.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 2, "http_status": 503,
               "message": "Service temporarily unavailable"}),
    )
    .await;
    let c = h.lead("Carla", Some("+5491155550173"), true, None).await;
    h.drain().await;
    assert_eq!(h.sent().await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    h.drain().await;
    let sent = h.sent().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1]["to"], "5491155550173");
    let runs = h.runs(rid).await;
    for id in [b, c] {
        let r = runs.iter().find(|r| r.lead_id == id).unwrap();
        assert!(
            ["sent", "delivered", "read"].contains(&r.status.as_str()),
            "{r:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Acceptance: every trigger type fires, every guard logs its reason code.

/// Moves one of `lead`'s timestamps back in time, as if it happened `ago`.
async fn backdate_lead(h: &H, id: Uuid, col: lead::Column, ago: chrono::Duration) {
    use sea_orm::sea_query::Expr;
    lead::Entity::update_many()
        .col_expr(col, Expr::value(Utc::now() - ago))
        .filter(lead::Column::Id.eq(id))
        .exec(&h.db)
        .await
        .unwrap();
}

/// Every message (and activity) of the lead now looks `ago` old.
async fn backdate_messages(h: &H, id: Uuid, ago: chrono::Duration) {
    use crm_db::entity::{lead_activity, wa_message};
    use sea_orm::sea_query::Expr;
    wa_message::Entity::update_many()
        .col_expr(wa_message::Column::CreatedAt, Expr::value(Utc::now() - ago))
        .filter(wa_message::Column::LeadId.eq(id))
        .exec(&h.db)
        .await
        .unwrap();
    lead_activity::Entity::update_many()
        .col_expr(lead_activity::Column::At, Expr::value(Utc::now() - ago))
        .filter(lead_activity::Column::LeadId.eq(id))
        .exec(&h.db)
        .await
        .unwrap();
}

async fn set_status(h: &H, id: Uuid, status: &str) {
    leads::update(
        &h.db,
        &h.ctx,
        id,
        &serde_json::from_value(json!({ "status": status })).unwrap(),
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
}

/// (template, recipient) of every message the sandbox accepted, sorted.
async fn received(h: &H) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .sent()
        .await
        .iter()
        .map(|m| {
            (
                m["template_name"].as_str().unwrap_or_default().to_owned(),
                m["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pair(template: &str, phone: &str) -> (String, String) {
    (
        template.to_owned(),
        phone.trim_start_matches('+').to_owned(),
    )
}

#[tokio::test]
async fn every_trigger_type_fires_once_per_occurrence() {
    use crate::services::pipeline;
    let h = setup().await;
    let names = [
        "trg_creado",
        "trg_sin_respuesta",
        "trg_estado",
        "trg_etapa",
        "trg_ganado",
        "trg_fecha",
        "trg_inactivo",
    ];
    for n in names {
        h.approved(n, "UTILITY").await;
    }
    // Leads that exist before any rule (no lead_created message): one for
    // each trigger but lead_created and no_reply. One message per lead, so
    // the per-recipient pacing (one message every 6 s) never delays a send.
    let (p_inactive, p_dated, p_status, p_stage, p_won) = (
        "+5491155550201",
        "+5491155550202",
        "+5491155550204",
        "+5491155550205",
        "+5491155550207",
    );
    let inactive = h.lead("Ines", Some(p_inactive), true, None).await;
    let dated = h.lead("Dario", Some(p_dated), true, None).await;
    let st = h.lead("Sergio", Some(p_status), true, None).await;
    let stage_lead = h.lead("Olga", Some(p_stage), true, None).await;
    let won_lead = h.lead("Gabi", Some(p_won), true, None).await;
    h.drain().await;

    let stages = pipeline::list_stages(&h.db, &h.ctx).await.unwrap().items;
    let open: Vec<_> = stages
        .iter()
        .filter(|s| s.kind == pipeline::StageKind::Open)
        .collect();
    let won = stages
        .iter()
        .find(|s| s.kind == pipeline::StageKind::Won)
        .unwrap();
    let next = open[1];
    let mut rules = Vec::new();
    for (tpl, trigger) in [
        ("trg_creado", json!({"type": "lead_created"})),
        ("trg_sin_respuesta", json!({"type": "no_reply", "hours": 2})),
        (
            "trg_estado",
            json!({"type": "status_changed", "to": "qualified"}),
        ),
        (
            "trg_etapa",
            json!({"type": "stage_changed", "to": next.key}),
        ),
        ("trg_ganado", json!({"type": "opportunity_won"})),
        (
            "trg_fecha",
            json!({"type": "date_relative", "field": "lead.created_at", "offset_hours": 1}),
        ),
        ("trg_inactivo", json!({"type": "inactive", "days": 7})),
    ] {
        rules.push(h.rule(rule_json(tpl, tpl, trigger)).await);
    }

    // Event triggers.
    let (p_new, p_quiet) = ("+5491155550203", "+5491155550206");
    h.lead("Ana", Some(p_new), true, None).await;
    let quiet = h.lead("Quique", Some(p_quiet), true, None).await;
    set_status(&h, st, "qualified").await;
    let opp = |lead_id: Uuid, stage_id: Uuid| {
        let h = &h;
        async move {
            pipeline::create_opportunity(
                &h.db,
                &h.ctx,
                &serde_json::from_value(json!({
                    "lead_id": lead_id, "name": "Plan anual", "value_minor": 100_000,
                    "stage_id": stage_id
                }))
                .unwrap(),
            )
            .await
            .map_err(|e| e.to_string())
            .unwrap()
        }
    };
    let o = opp(stage_lead, open[0].id).await;
    pipeline::update_opportunity(
        &h.db,
        &h.ctx,
        o.id,
        &pipeline::OpportunityPatch {
            stage_id: Some(next.id),
            ..Default::default()
        },
    )
    .await
    .map_err(|e| e.to_string())
    .unwrap();
    // Created already won: opportunity_won without a stage change.
    opp(won_lead, won.id).await;
    h.drain().await;
    // The same events again create nothing (unique send key).
    h.drain().await;

    // Time triggers: the data says the time has passed; the scheduler ticks.
    backdate_messages(&h, quiet, chrono::Duration::hours(3)).await;
    backdate_lead(
        &h,
        dated,
        lead::Column::CreatedAt,
        chrono::Duration::hours(2),
    )
    .await;
    backdate_messages(&h, inactive, chrono::Duration::days(10)).await;
    backdate_lead(
        &h,
        inactive,
        lead::Column::UpdatedAt,
        chrono::Duration::days(10),
    )
    .await;
    assert_eq!(auto::tick(&h.db, Utc::now()).await.unwrap(), 3);
    assert_eq!(auto::tick(&h.db, Utc::now()).await.unwrap(), 0);
    h.drain().await;
    assert_eq!(auto::tick(&h.db, Utc::now()).await.unwrap(), 0);
    h.drain().await;

    let mut want = vec![
        pair("trg_creado", p_new),
        pair("trg_creado", p_quiet),
        pair("trg_estado", p_status),
        pair("trg_etapa", p_stage),
        pair("trg_ganado", p_won),
        pair("trg_sin_respuesta", p_quiet),
        pair("trg_fecha", p_dated),
        pair("trg_inactivo", p_inactive),
    ];
    want.sort();
    assert_eq!(received(&h).await, want);
    // Every run of every rule was sent: nothing skipped, nothing left.
    for (rid, n) in rules.iter().zip([2, 1, 1, 1, 1, 1, 1]) {
        let runs = h.runs(*rid).await;
        assert_eq!(runs.len(), n, "{runs:?}");
        for r in runs {
            assert!(
                ["sent", "delivered", "read"].contains(&r.status.as_str()),
                "{r:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_guard_logs_its_reason() {
    let h = &setup().await;
    h.approved("guardia", "UTILITY").await;
    let one = |rid: Uuid| async move {
        let runs = h.runs(rid).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs.into_iter().next().unwrap()
    };
    let off = |rid: Uuid| async move {
        auto::toggle_rule(&h.db, &h.ctx, rid, false)
            .await
            .map_err(|e| e.to_string())
            .unwrap();
    };

    // conditions_not_met: the lead lacks the tag the rule asks for.
    let mut spec = rule_json("vip", "guardia", json!({"type": "lead_created"}));
    spec["conditions"] = json!([{"field": "lead.tags", "op": "contains", "value": "vip"}]);
    let rid = h.rule(spec).await;
    h.lead("Carla", Some("+5491155550301"), true, None).await;
    h.drain().await;
    let r = one(rid).await;
    assert_eq!(
        (r.status.as_str(), r.reason.as_deref()),
        ("skipped", Some("conditions_not_met"))
    );
    off(rid).await;

    // template_not_found: no such template synced (and alerted).
    let rid = h
        .rule(rule_json(
            "nf",
            "no_existe",
            json!({"type": "lead_created"}),
        ))
        .await;
    h.lead("Nora", Some("+5491155550302"), true, None).await;
    h.drain().await;
    assert_eq!(one(rid).await.reason.as_deref(), Some("template_not_found"));
    off(rid).await;

    // missing_variable: bound to the lead's email, which it lacks, no fallback.
    let mut spec = rule_json("mv", "guardia", json!({"type": "lead_created"}));
    spec["action"]["bindings"]["1"] = json!({"source": "lead.email"});
    let rid = h.rule(spec).await;
    h.lead("Mario", Some("+5491155550303"), true, None).await;
    h.drain().await;
    assert_eq!(one(rid).await.reason.as_deref(), Some("missing_variable"));
    off(rid).await;

    // frequency_cap: one automated message per 24 h; the second is skipped.
    let mut spec = rule_json("cap", "guardia", json!({"type": "status_changed"}));
    spec["frequency_cap"] = json!({"max": 1, "hours": 24});
    let rid = h.rule(spec).await;
    let capped = h.lead("Fede", Some("+5491155550304"), true, None).await;
    h.drain().await;
    set_status(h, capped, "contacted").await;
    h.drain().await;
    set_status(h, capped, "qualified").await;
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let mut reasons: Vec<Option<&str>> = runs.iter().map(|r| r.reason.as_deref()).collect();
    reasons.sort();
    assert_eq!(reasons, vec![None, Some("frequency_cap")]);
    assert_eq!(received(h).await, vec![pair("guardia", "+5491155550304")]);
    off(rid).await;

    // replied: the no-reply follow-up is due, but the lead answers first.
    let rid = h
        .rule(rule_json(
            "nr",
            "guardia",
            json!({"type": "no_reply", "hours": 2}),
        ))
        .await;
    backdate_messages(h, capped, chrono::Duration::hours(3)).await;
    assert_eq!(auto::tick(&h.db, Utc::now()).await.unwrap(), 1);
    h.control(
        "/inbound",
        json!({"from": "5491155550304", "text": "hola, sigo acá"}),
    )
    .await;
    for _ in 0..100 {
        let m = lead::Entity::find_by_id(capped)
            .one(&h.db)
            .await
            .unwrap()
            .unwrap();
        if m.last_inbound_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.drain().await;
    assert_eq!(one(rid).await.reason.as_deref(), Some("replied"));
    off(rid).await;

    // rule_disabled: the rule is switched off while its run waits (delay).
    let mut spec = rule_json("later", "guardia", json!({"type": "lead_created"}));
    spec["delay_minutes"] = json!(30);
    let rid = h.rule(spec).await;
    h.lead("Dora", Some("+5491155550305"), true, None).await;
    h.drain().await;
    let r = one(rid).await;
    assert_eq!(r.status, "queued");
    off(rid).await;
    auto::run_send(&h.db, &h.env, r.id).await.unwrap();
    assert_eq!(one(rid).await.reason.as_deref(), Some("rule_disabled"));

    // parameter_count_mismatch: the template changed at Meta after the rule
    // was saved (now three variables); the engine refuses before Meta.
    h.approved("guardia_b", "UTILITY").await;
    let rid = h
        .rule(rule_json(
            "pc",
            "guardia_b",
            json!({"type": "lead_created"}),
        ))
        .await;
    {
        use crm_db::entity::wa_template;
        use sea_orm::sea_query::Expr;
        wa_template::Entity::update_many()
            .col_expr(
                wa_template::Column::Components,
                Expr::value(
                    json!([{"type": "BODY", "text": "Hola {{1}}, te escribe {{2}} por {{3}}.",
                    "example": {"body_text": [["Ana", "Acme", "tu pedido"]]}}]),
                ),
            )
            .filter(wa_template::Column::Name.eq("guardia_b"))
            .exec(&h.db)
            .await
            .unwrap();
    }
    h.lead("Paco", Some("+5491155550308"), true, None).await;
    h.drain().await;
    assert_eq!(
        one(rid).await.reason.as_deref(),
        Some("parameter_count_mismatch")
    );
    off(rid).await;

    // meta_error: a permanent Meta error fails the run with Meta's code.
    let rid = h
        .rule(rule_json("me", "guardia", json!({"type": "lead_created"})))
        .await;
    h.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 131008, "http_status": 400,
               "message": "(#131008) Required parameter is missing"}),
    )
    .await;
    h.lead("Meli", Some("+5491155550309"), true, None).await;
    h.drain().await;
    let r = one(rid).await;
    assert_eq!(
        (r.status.as_str(), r.reason.as_deref(), r.error_code),
        ("failed", Some("meta_error"), Some(131_008))
    );
    off(rid).await;

    // token_invalid: Meta refuses the token; the tenant is paused and the
    // next run is paused without calling Meta.
    let rid = h
        .rule(rule_json("tok", "guardia", json!({"type": "lead_created"})))
        .await;
    h.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 190, "http_status": 401,
               "message": "Error validating access token: The session has been invalidated"}),
    )
    .await;
    h.lead("Toni", Some("+5491155550306"), true, None).await;
    h.drain().await;
    h.lead("Tere", Some("+5491155550307"), true, None).await;
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    for r in &runs {
        assert_eq!(
            (r.status.as_str(), r.reason.as_deref()),
            ("paused", Some("token_invalid")),
            "{r:?}"
        );
    }

    // Only the first capped message ever reached Meta.
    assert_eq!(received(h).await, vec![pair("guardia", "+5491155550304")]);
}

#[tokio::test]
async fn a_disconnected_tenant_logs_not_connected() {
    let h = setup().await;
    h.approved("desconectado", "UTILITY").await;
    let rid = h
        .rule(rule_json(
            "dc",
            "desconectado",
            json!({"type": "lead_created"}),
        ))
        .await;
    meta_connection::disconnect(&h.db, &h.env, &h.ctx)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    h.lead("Vera", Some("+5491155550310"), true, None).await;
    h.drain().await;
    let runs = h.runs(rid).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0].status.as_str(), runs[0].reason.as_deref()),
        ("paused", Some("not_connected"))
    );
    assert!(h.sent().await.is_empty());
}
