//! The client against the local Meta sandbox over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use meta_graph::whatsapp::SendComponent;
use meta_graph::{
    AccessToken, AppSecret, BatchRequest, GraphClient, GraphConfig, GraphError, InsightsLevel,
    InsightsQuery, LoginScope, Recipient, TemplateMessage, TransientKind,
};
use meta_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

struct Env {
    sb: Sandbox,
    client: GraphClient,
    http: reqwest::Client,
}

fn config_for(sb: &Sandbox) -> GraphConfig {
    GraphConfig {
        retry_base_delay: Duration::from_millis(20),
        max_retry_delay: Duration::from_millis(200),
        default_throttle_wait: Duration::from_millis(300),
        ..GraphConfig::new(sb.app_id(), AppSecret::new(sb.app_secret()))
            .with_base_url(sb.base_url())
    }
}

async fn env() -> Env {
    env_with(|c| c).await
}

async fn env_with(tweak: impl FnOnce(GraphConfig) -> GraphConfig) -> Env {
    let sb = Sandbox::start(SandboxConfig {
        enable_control: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = GraphClient::new(tweak(config_for(&sb))).unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env { sb, client, http }
}

impl Env {
    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_sandbox{path}", self.sb.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "control {path} failed: {v}");
        v
    }

    async fn received(&self, what: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/_sandbox/received/{what}", self.sb.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["data"].as_array().cloned().unwrap_or_default()
    }

    /// Requests the sandbox logged whose path contains `needle`.
    async fn requests_to(&self, needle: &str) -> Vec<Value> {
        self.received("requests")
            .await
            .into_iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.contains(needle)))
            .collect()
    }

    async fn token(&self) -> AccessToken {
        let v = self.control("/tokens", json!({"user": 0})).await;
        AccessToken::new(v["access_token"].as_str().unwrap())
    }
}

#[tokio::test]
async fn oauth_dialog_code_exchange_long_lived_and_debug_token() {
    let e = env().await;
    let redirect = "http://127.0.0.1:9/api/crm/auth/meta/callback";
    let state = "f3a9c1d2e4b5a6978899aabbccddeeff";
    let scopes = vec![
        "ads_read".to_string(),
        "business_management".to_string(),
        "whatsapp_business_messaging".to_string(),
    ];
    let url = e
        .client
        .authorize_url(redirect, state, &LoginScope::Scopes(scopes.clone()))
        .unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/v25.0/dialog/oauth?", e.sb.base_url()))
    );

    // The consent page renders for our app and redirect URI.
    let page = e.http.get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"consent\""), "{html}");

    // Press Continue as the first user.
    let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let user_id = e.sb.summary().users[0].id.clone();
    let mut form: Vec<(String, String)> = q.into_iter().collect();
    form.push(("action".into(), "continue".into()));
    form.push(("user_id".into(), user_id.clone()));
    let resp = e
        .http
        .post(format!("{}/v25.0/dialog/oauth/confirm", e.sb.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let back: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(back["state"], state);
    let code = back["code"].clone();

    let short = e.client.exchange_code(&code, redirect).await.unwrap();
    assert!(!short.access_token.is_empty());
    assert!(short.expires_in.unwrap() > 0);

    // Codes are single-use: a replay is refused with a typed Meta error, not retried.
    let replay = e.client.exchange_code(&code, redirect).await.unwrap_err();
    assert!(replay.meta().is_some(), "{replay:?}");
    let exchanges = e.requests_to("oauth/access_token").await;
    assert_eq!(exchanges.len(), 2);
    for r in &exchanges {
        // The secret and the code go in the POST body, never in the URL.
        assert_eq!(r["method"], "POST", "{r}");
        let q = r["query"].as_str().unwrap_or_default();
        assert!(
            !q.contains("client_secret") && !q.contains("code"),
            "secret or code in the URL: {q}"
        );
    }

    let long = e
        .client
        .exchange_long_lived(&short.access_token)
        .await
        .unwrap();
    assert!(long.expires_in.unwrap() > short.expires_in.unwrap());

    let info = e.client.debug_token(&long.access_token).await.unwrap();
    assert!(info.is_valid);
    assert_eq!(info.user_id.as_deref(), Some(user_id.as_str()));
    for s in &scopes {
        assert!(
            info.scopes.contains(s),
            "missing scope {s} in {:?}",
            info.scopes
        );
    }
    assert!(info.expires_at_unix().is_some());

    let session = e.client.session(long.access_token.clone());
    let me = session.me().await.unwrap();
    assert_eq!(me.id, user_id);
    assert_eq!(
        session.client_business_id().await.unwrap(),
        None,
        "a plain user token"
    );
    let perms = session.permissions().await.unwrap();
    assert!(
        perms
            .iter()
            .any(|p| p.permission == "ads_read" && p.status == "granted")
    );

    // The token never appeared in a URL the sandbox saw: it travels as a bearer header.
    for r in e.received("requests").await {
        let q = r["query"].as_str().unwrap_or_default();
        assert!(
            !q.contains(long.access_token.expose()),
            "token leaked into {r}"
        );
        if r["path"].as_str().unwrap_or_default().ends_with("/me") {
            assert!(q.contains("appsecret_proof"), "no appsecret_proof on {r}");
        }
    }

    // Revoking makes the token useless.
    assert!(session.revoke_permissions().await.unwrap());
    let after = session.me().await.unwrap_err();
    assert!(after.is_auth(), "{after:?}");
}

#[tokio::test]
async fn wrong_app_secret_is_refused_by_the_sandbox() {
    let e = env_with(|c| GraphConfig {
        app_secret: Some(AppSecret::new("not-the-secret")),
        ..c
    })
    .await;
    let token = e.token().await;
    // appsecret_proof computed with the wrong secret does not match.
    let err = e.client.session(token).me().await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidParameter(_)), "{err:?}");
    assert!(err.to_string().contains("appsecret_proof"));
}

#[tokio::test]
async fn paging_collects_every_ad_account_with_a_small_limit() {
    let e = env().await;
    let summary = e.sb.summary();
    let biz = &summary.businesses[0];
    let expected: BTreeSet<String> = biz.owned_ad_account_ids.iter().cloned().collect();
    assert!(
        expected.len() >= 3,
        "the seeded world should have several accounts"
    );

    let session = e.client.session(e.token().await).with_page_limit(1);
    let got = session.owned_ad_accounts(&biz.id).await.unwrap();
    let ids: BTreeSet<String> = got.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, expected);
    assert_eq!(got.len(), expected.len(), "no duplicates across pages");
    // One request per page at least: limit=1 means several pages were followed.
    let pages = e.requests_to("owned_ad_accounts").await;
    assert!(
        pages.len() >= expected.len(),
        "only {} page requests",
        pages.len()
    );
    for a in &got {
        assert!(a.currency.is_some() && a.name.is_some() && a.account_status.is_some());
    }

    let mine = session.my_ad_accounts().await.unwrap();
    let unlimited = e
        .client
        .session(session.token().clone())
        .my_ad_accounts()
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|a| &a.id).collect::<BTreeSet<_>>(),
        unlimited.iter().map(|a| &a.id).collect::<BTreeSet<_>>()
    );
    let businesses = session.businesses().await.unwrap();
    assert!(businesses.iter().any(|b| b.id == biz.id));
    assert!(
        !session.last_usage().is_empty(),
        "usage headers should be exposed"
    );
}

#[tokio::test]
async fn insights_rows_are_typed_and_match_the_raw_strings() {
    let e = env().await;
    let summary = e.sb.summary();
    let acct = summary
        .ad_accounts
        .iter()
        .find(|a| a.currency == "ARS")
        .unwrap();
    let since = chrono::NaiveDate::parse_from_str(&summary.start_date, "%Y-%m-%d").unwrap();
    let until = chrono::NaiveDate::parse_from_str(&summary.end_date, "%Y-%m-%d").unwrap();
    let session = e.client.session(e.token().await).with_page_limit(25);
    let query = InsightsQuery::daily(InsightsLevel::Campaign, since, until);

    let rows = session.insights(&acct.id, &query).await.unwrap();
    assert!(!rows.is_empty());
    let raw = session.insights_raw(&acct.id, &query).await.unwrap();
    assert_eq!(rows.len(), raw.len());

    let mut total = 0i64;
    for (row, raw) in rows.iter().zip(&raw) {
        assert_eq!(row.currency, "ARS");
        assert_eq!(
            row.date_start, row.date_stop,
            "time_increment=1 gives daily rows"
        );
        assert!(row.date_start >= since && row.date_stop <= until);
        assert!(row.campaign_id.is_some());
        // spend "1234.56" → 123456 minor units
        let s = raw.spend.as_deref().unwrap_or("0");
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let expect = int.parse::<i64>().unwrap() * 100
            + format!("{frac:0<2}")[..2].parse::<i64>().unwrap_or(0);
        assert_eq!(row.spend_minor, expect, "spend {s}");
        assert_eq!(
            row.impressions.to_string(),
            raw.impressions.clone().unwrap_or("0".into())
        );
        // `lead` is the aggregate; its components are never added to it.
        let lead = raw.actions.iter().find(|a| a.action_type == "lead");
        assert_eq!(row.leads, lead.map_or(0, |a| a.value.parse().unwrap()));
        total += row.spend_minor;
    }
    assert!(total > 0, "the seeded account spends money");
}

#[tokio::test]
async fn async_insights_report_runs_to_completion() {
    let e = env().await;
    let summary = e.sb.summary();
    let acct = &summary.ad_accounts[0];
    let session = e.client.session(e.token().await);
    let query = InsightsQuery {
        period: Some(meta_graph::InsightsPeriod::Preset("last_30d".into())),
        level: Some(InsightsLevel::Campaign),
        ..InsightsQuery::default()
    };
    let run_id = session
        .start_insights_report(&acct.id, &query)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = session.report_status(&run_id).await.unwrap();
        match run.state() {
            meta_graph::ReportState::Completed => break,
            meta_graph::ReportState::Failed => panic!("report failed: {run:?}"),
            meta_graph::ReportState::Pending => {
                assert!(Instant::now() < deadline, "report never completed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let rows = session.report_results(&run_id, None).await.unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.currency == acct.currency));
}

#[tokio::test]
async fn expired_token_is_classified_and_never_retried() {
    let e = env().await;
    let token = e.token().await;
    e.control("/tokens/expire", json!({"token": token.expose()}))
        .await;
    let before = e.requests_to("/me").await.len();
    let err = e.client.session(token.clone()).me().await.unwrap_err();
    let GraphError::TokenExpired(meta) = &err else {
        panic!("expected TokenExpired, got {err:?}")
    };
    assert_eq!(meta.code, 190);
    assert_eq!(meta.error_subcode, Some(463));
    assert!(meta.fbtrace_id.is_some());
    assert_eq!(
        e.requests_to("/me").await.len(),
        before + 1,
        "a 190 must not be retried"
    );
    assert!(!format!("{err} {err:?}").contains(token.expose()));

    // An injected 190/467 is TokenInvalid.
    let fresh = e.token().await;
    e.control("/faults", json!({"path": "/me", "kind": "token_invalid"}))
        .await;
    let err = e.client.session(fresh).me().await.unwrap_err();
    assert!(matches!(err, GraphError::TokenInvalid(_)), "{err:?}");
}

#[tokio::test]
async fn transient_errors_are_retried_until_success() {
    let e = env().await;
    let session = e.client.session(e.token().await);
    e.control(
        "/faults",
        json!({"path": "/me", "kind": "error", "code": 2, "count": 2}),
    )
    .await;
    let me = session.me().await.unwrap();
    assert!(!me.id.is_empty());
    let calls = e.requests_to("/me").await;
    assert_eq!(calls.len(), 3, "two failures then a success: {calls:?}");

    // More failures than retries surface as Transient.
    e.control(
        "/faults",
        json!({"path": "/me", "kind": "error", "code": 1, "count": 10}),
    )
    .await;
    let err = session.me().await.unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::Transient {
                kind: TransientKind::MetaService,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(e.requests_to("/me").await.len(), 3 + 4, "1 try + 3 retries");
}

#[tokio::test]
async fn permission_and_not_found_errors_are_typed() {
    let e = env().await;
    let v = e
        .control("/tokens", json!({"user": 0, "scopes": ["public_profile"]}))
        .await;
    let weak = e
        .client
        .session(AccessToken::new(v["access_token"].as_str().unwrap()));
    let acct = e.sb.summary().ad_accounts[0].id.clone();
    let err = weak.campaigns(&acct).await.unwrap_err();
    assert!(matches!(err, GraphError::PermissionMissing(_)), "{err:?}");

    let strong = e.client.session(e.token().await);
    let err = strong.ad_account("act_999999999999999").await.unwrap_err();
    assert!(matches!(err, GraphError::NotFound(_)), "{err:?}");

    // Classification follows the code, not the HTTP status: a 500 carrying
    // code 100 is a bad parameter and is not retried.
    e.control(
        "/faults",
        json!({"path": "/me", "kind": "error", "code": 100, "http_status": 500, "count": 5}),
    )
    .await;
    let before = e.requests_to("/me").await.len();
    let err = strong.me().await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidParameter(_)), "{err:?}");
    assert_eq!(err.meta().unwrap().http_status, 500);
    assert_eq!(e.requests_to("/me").await.len(), before + 1);
}

#[tokio::test]
async fn forced_throttle_with_a_long_advertised_wait_is_returned_not_slept() {
    let e = env().await;
    let acct = e.sb.summary().ad_accounts[0].id.clone();
    let session = e.client.session(e.token().await);
    e.control("/faults", json!({"path": "/insights", "kind": "throttle"}))
        .await;
    let started = Instant::now();
    let err = session
        .insights(
            &acct,
            &InsightsQuery {
                level: Some(InsightsLevel::Account),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    let GraphError::Throttled {
        retry_after,
        meta,
        usage,
    } = &err
    else {
        panic!("expected Throttled, got {err:?}")
    };
    assert!(meta_graph::error::is_throttle_code(meta.code));
    // The sandbox advertises its wait in the usage headers; longer than
    // max_throttle_wait (120 s) it is handed back to the caller at once.
    assert!(*retry_after > Duration::from_secs(120), "{retry_after:?}");
    assert_eq!(usage.regain_access_after(), Some(*retry_after));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.requests_to("/insights").await.len(), 1);
}

#[tokio::test]
async fn throttling_waits_the_advertised_time_then_succeeds() {
    // Natural throttling: a tiny per-account budget. The sandbox advertises
    // the regain time (≥ 1 minute, Meta's granularity), the client sleeps it
    // and the retry succeeds.
    let e = env_with(|c| GraphConfig {
        max_throttle_wait: Duration::from_secs(150),
        ..c
    })
    .await;
    let acct = e.sb.summary().ad_accounts[0].id.clone();
    let session = e.client.session(e.token().await);
    e.control("/config", json!({"account_calls_per_window": 3}))
        .await;
    for _ in 0..2 {
        session.ad_account(&acct).await.unwrap();
    }
    assert!(
        session.last_usage().max_pct() >= 60.0,
        "{:?}",
        session.last_usage()
    );
    let started = Instant::now();
    let got = session.ad_account(&acct).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(got.id, acct);
    let log: Vec<Value> = e.requests_to(&acct).await;
    let throttled: Vec<&Value> = log.iter().filter(|r| r["status"] != 200).collect();
    assert!(
        !throttled.is_empty(),
        "the sandbox never throttled: {log:?}"
    );
    assert!(
        waited >= Duration::from_secs(55),
        "retried after only {waited:?}, before the advertised wait"
    );
}

#[tokio::test]
async fn batch_resends_null_entries() {
    let e = env().await;
    let session = e.client.session(e.token().await);
    let accts: Vec<String> =
        e.sb.summary()
            .ad_accounts
            .iter()
            .map(|a| a.id.clone())
            .collect();
    let reqs: Vec<BatchRequest> = accts
        .iter()
        .map(|id| BatchRequest::get(format!("{id}?fields=id,name,currency")))
        .chain([BatchRequest::get("act_999999999999999?fields=id")])
        .collect();
    e.control(
        "/faults",
        json!({"path": accts[1].as_str(), "kind": "null_batch", "count": 1}),
    )
    .await;
    let results = session.batch(&reqs).await.unwrap();
    assert_eq!(results.len(), reqs.len());
    for (id, r) in accts.iter().zip(&results) {
        let r = r.as_ref().unwrap();
        assert_eq!(r.code, 200);
        assert_eq!(r.body["id"], id.as_str());
    }
    assert!(matches!(
        results.last().unwrap(),
        Err(GraphError::NotFound(_))
    ));
    let posts = e
        .received("requests")
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(posts, 2, "one batch, then one re-send of the null entry");

    let too_many: Vec<BatchRequest> = (0..51).map(|_| BatchRequest::get("me")).collect();
    assert!(matches!(
        session.batch(&too_many).await,
        Err(GraphError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn template_send_returns_the_wamid_the_sandbox_recorded() {
    let e = env().await;
    let summary = e.sb.summary();
    let waba = &summary.wabas[0];
    let phone_id = waba.phone_number_ids[0].clone();
    let session = e.client.session(e.token().await).with_page_limit(2);

    let templates = session.templates(&waba.id).await.unwrap();
    assert!(templates.len() > 2, "all pages should be fetched");
    let names: BTreeSet<_> = templates.iter().map(|t| (&t.name, &t.language)).collect();
    assert_eq!(names.len(), templates.len(), "no duplicates across pages");
    let approved = templates
        .iter()
        .find(|t| {
            t.status == "APPROVED"
                && t.category.as_deref() == Some("UTILITY")
                && t.components.iter().all(|c| {
                    c.kind != "HEADER"
                        || c.format.as_deref() == Some("TEXT")
                            && !c.text.as_deref().unwrap_or("").contains("{{")
                })
                && t.components.iter().all(|c| c.kind != "BUTTONS")
        })
        .expect("an approved utility template");
    let body_vars = approved
        .components
        .iter()
        .find(|c| c.kind == "BODY")
        .and_then(|c| c.text.as_deref())
        .map_or(0, |t| t.matches("{{").count());
    let values: Vec<String> = (1..=body_vars).map(|i| format!("value{i}")).collect();
    let msg = TemplateMessage {
        to: Recipient::Phone("+5491155550101".into()),
        name: approved.name.clone(),
        language: approved.language.clone(),
        components: if values.is_empty() {
            vec![]
        } else {
            vec![SendComponent::body_texts(values.clone())]
        },
        biz_opaque_callback_data: Some("crm-send-1".into()),
    };
    let sent = session.send_template(&phone_id, &msg).await.unwrap();
    let wamid = sent.wamid().unwrap().to_string();
    assert!(wamid.starts_with("wamid."), "{wamid}");

    let recorded = e.received("messages").await;
    let rec = recorded
        .iter()
        .find(|m| m.to_string().contains(&wamid))
        .unwrap_or_else(|| panic!("sandbox did not record {wamid}: {recorded:?}"));
    let text = rec.to_string();
    assert!(text.contains(&approved.name));
    assert!(text.contains("crm-send-1"));
    for v in &values {
        assert!(text.contains(v.as_str()), "{v} missing from {text}");
    }
}

#[tokio::test]
async fn sends_are_not_repeated_after_a_transient_failure() {
    let e = env().await;
    let summary = e.sb.summary();
    let phone_id = summary.wabas[0].phone_number_ids[0].clone();
    let session = e.client.session(e.token().await);
    e.control(
        "/faults",
        json!({"path": "/messages", "kind": "error", "code": 2, "http_status": 500, "count": 1}),
    )
    .await;
    let msg = TemplateMessage {
        to: Recipient::Phone("5491155550102".into()),
        name: "does_not_matter".into(),
        language: "es_AR".into(),
        components: vec![],
        biz_opaque_callback_data: None,
    };
    let err = session.send_template(&phone_id, &msg).await.unwrap_err();
    assert!(matches!(err, GraphError::Transient { .. }), "{err:?}");
    assert_eq!(
        e.requests_to("/messages").await.len(),
        1,
        "a send must not be repeated blindly"
    );
}

// ---------------------------------------------------------------------------
// Webhooks: a real receiver that verifies the sandbox's signatures.
// ---------------------------------------------------------------------------

mod receiver {
    use std::collections::HashMap;
    use std::time::Duration;

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use meta_graph::webhook::{ChangeValue, WebhookEnvelope};
    use meta_graph::{AppSecret, verify_challenge, verify_signature};
    use tokio::sync::mpsc;

    #[derive(Clone)]
    struct Rx {
        secret: AppSecret,
        verify_token: String,
        tx: mpsc::UnboundedSender<Bytes>,
    }

    pub struct Receiver {
        pub url: String,
        rx: mpsc::UnboundedReceiver<Bytes>,
    }

    async fn challenge(
        State(s): State<Rx>,
        Query(q): Query<HashMap<String, String>>,
    ) -> (StatusCode, String) {
        match verify_challenge(
            q.get("hub.mode").map(String::as_str),
            q.get("hub.verify_token").map(String::as_str),
            q.get("hub.challenge").map(String::as_str),
            &s.verify_token,
        ) {
            Some(c) => (StatusCode::OK, c.to_string()),
            None => (StatusCode::FORBIDDEN, String::new()),
        }
    }

    async fn event(State(s): State<Rx>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let sig = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !verify_signature(&s.secret, &body, sig) {
            return StatusCode::UNAUTHORIZED;
        }
        let _ = s.tx.send(body);
        StatusCode::OK
    }

    pub async fn start(secret: AppSecret, verify_token: &str) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Rx {
            secret,
            verify_token: verify_token.to_string(),
            tx,
        };
        let app = Router::new()
            .route("/webhook", get(challenge).post(event))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url: format!("http://{addr}/webhook"),
            rx,
        }
    }

    impl Receiver {
        /// The next verified event whose change matches `pick`.
        pub async fn next<T>(&mut self, mut pick: impl FnMut(ChangeValue) -> Option<T>) -> T {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let body = tokio::time::timeout_at(deadline, self.rx.recv())
                    .await
                    .expect("timed out waiting for a webhook")
                    .expect("receiver closed");
                let env = WebhookEnvelope::from_slice(&body).unwrap();
                for entry in env.entry {
                    for change in entry.changes {
                        if let Some(found) = pick(change.parse().unwrap()) {
                            return found;
                        }
                    }
                }
            }
        }
    }
}

async fn with_webhooks(e: &Env) -> receiver::Receiver {
    let verify_token = "verify-token-0123456789";
    let rx = receiver::start(AppSecret::new(e.sb.app_secret()), verify_token).await;
    let v = e
        .control(
            "/config",
            json!({"webhook_verify_token": verify_token, "webhook_url": rx.url, "status_delay_ms": 10}),
        )
        .await;
    assert_eq!(
        v["handshake"], "ok",
        "the verify-token handshake should pass"
    );
    rx
}

#[tokio::test]
async fn signed_webhooks_parse_into_typed_whatsapp_events() {
    use meta_graph::webhook::ChangeValue;
    let e = env().await;
    let mut rx = with_webhooks(&e).await;
    let summary = e.sb.summary();
    let waba = &summary.wabas[0];
    let phone_id = waba.phone_number_ids[0].clone();
    let ad_id = summary.ad_accounts[0].sample_ad_ids[0].clone();
    let session = e.client.session(e.token().await);
    assert!(session.subscribe_waba(&waba.id).await.unwrap());

    // A click-to-WhatsApp inbound message carries the ad referral.
    e.control(
        "/inbound",
        json!({"phone_number_id": phone_id, "from": "5491155550123", "text": "Hola, info?", "name": "Ana",
               "referral": {"source_id": ad_id, "ctwa_clid": "ARAkTestClid"}}),
    )
    .await;
    let (value, msg) = rx
        .next(|c| match c {
            ChangeValue::Messages(v) if !v.messages.is_empty() => {
                let m = v.messages[0].clone();
                Some((v, m))
            }
            _ => None,
        })
        .await;
    assert_eq!(value.metadata.as_ref().unwrap().phone_number_id, phone_id);
    assert_eq!(value.contacts[0].wa_id.as_deref(), Some("5491155550123"));
    assert_eq!(msg.text.as_ref().unwrap().body, "Hola, info?");
    let referral = msg.referral.as_ref().unwrap();
    assert_eq!(referral.source_id.as_deref(), Some(ad_id.as_str()));
    assert_eq!(referral.source_type.as_deref(), Some("ad"));
    assert_eq!(referral.ctwa_clid.as_deref(), Some("ARAkTestClid"));
    assert!(referral.headline.as_deref().is_some_and(|h| !h.is_empty()));

    // Inside the window a free-form reply goes out; the status webhook echoes the wamid.
    let sent = session
        .send_text(
            &phone_id,
            &Recipient::Phone("5491155550123".into()),
            "¡Hola Ana!",
            false,
            Some(&msg.id),
        )
        .await
        .unwrap();
    let wamid = sent.wamid().unwrap().to_string();
    let status = rx
        .next(|c| match c {
            ChangeValue::Messages(v) => v.statuses.into_iter().find(|s| s.id == wamid),
            _ => None,
        })
        .await;
    assert!(
        ["sent", "delivered", "read"].contains(&status.status.as_str()),
        "{status:?}"
    );
    assert_eq!(status.recipient_id.as_deref(), Some("5491155550123"));

    // Outside the window free-form text is refused with 131047, typed as WhatsApp.
    let err = session
        .send_text(
            &phone_id,
            &Recipient::Phone("5491155550999".into()),
            "hi",
            false,
            None,
        )
        .await
        .unwrap_err();
    let GraphError::WhatsApp { code, meta, .. } = &err else {
        panic!("expected a WhatsApp error, got {err:?}")
    };
    assert_eq!(*code, 131047);
    assert!(meta.fbtrace_id.is_some());

    // A marketing opt-out arrives as user_preferences.
    e.control(
        "/user-preferences",
        json!({"phone_number_id": phone_id, "from": "5491155550123", "value": "stop"}),
    )
    .await;
    let pref = rx
        .next(|c| match c {
            ChangeValue::UserPreferences(p) => p.user_preferences.into_iter().next(),
            _ => None,
        })
        .await;
    assert_eq!(pref.value.as_deref(), Some("stop"));
    assert_eq!(pref.wa_id.as_deref(), Some("5491155550123"));
    assert_eq!(pref.category.as_deref(), Some("marketing_messages"));
}

#[tokio::test]
async fn template_lifecycle_create_review_edit_delete() {
    use meta_graph::webhook::ChangeValue;
    use meta_graph::whatsapp::{NewTemplate, TemplateComponent, TemplateEdit};
    let e = env().await;
    let mut rx = with_webhooks(&e).await;
    let waba = e.sb.summary().wabas[0].id.clone();
    let session = e.client.session(e.token().await);
    assert!(session.subscribe_waba(&waba).await.unwrap());

    let new = NewTemplate {
        name: "crm_followup_1".into(),
        language: "es_AR".into(),
        category: "UTILITY".into(),
        parameter_format: Some("POSITIONAL".into()),
        components: vec![TemplateComponent {
            kind: "BODY".into(),
            text: Some("Hola {{1}}, ¿seguimos con tu pedido {{2}}?".into()),
            example: Some(json!({"body_text": [["Ana", "#12"]]})),
            ..Default::default()
        }],
    };
    let created = session.create_template(&waba, &new).await.unwrap();
    assert_eq!(created.status.as_deref(), Some("PENDING"));
    let listed = session.templates(&waba).await.unwrap();
    let mine = listed.iter().find(|t| t.id == created.id).unwrap();
    assert_eq!(mine.name, "crm_followup_1");
    assert_eq!(mine.status, "PENDING");

    e.control(
        &format!("/templates/{}/review", created.id),
        json!({"status": "APPROVED"}),
    )
    .await;
    let update = rx
        .next(|c| match c {
            ChangeValue::TemplateStatus(t) if t.message_template_id == created.id => Some(t),
            _ => None,
        })
        .await;
    assert_eq!(update.event, "APPROVED");
    assert_eq!(
        update.message_template_name.as_deref(),
        Some("crm_followup_1")
    );

    // Quality and category changes arrive as their own typed webhooks.
    e.control(
        &format!("/templates/{}/quality", created.id),
        json!({"score": "YELLOW"}),
    )
    .await;
    let quality = rx
        .next(|c| match c {
            ChangeValue::TemplateQuality(q) if q.message_template_id == created.id => Some(q),
            _ => None,
        })
        .await;
    assert_eq!(quality.new_quality_score.as_deref(), Some("YELLOW"));
    e.control(
        &format!("/templates/{}/category", created.id),
        json!({"category": "MARKETING"}),
    )
    .await;
    let category = rx
        .next(|c| match c {
            ChangeValue::TemplateCategory(q) if q.message_template_id == created.id => Some(q),
            _ => None,
        })
        .await;
    assert_eq!(category.new_category.as_deref(), Some("MARKETING"));

    let edit = TemplateEdit {
        components: Some(vec![TemplateComponent {
            kind: "BODY".into(),
            text: Some("Hola {{1}}, tu pedido {{2}} sigue en curso.".into()),
            example: Some(json!({"body_text": [["Ana", "#12"]]})),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert!(session.edit_template(&created.id, &edit).await.unwrap());
    let after_edit = session.templates(&waba).await.unwrap();
    let body = after_edit
        .iter()
        .find(|t| t.id == created.id)
        .and_then(|t| t.components.iter().find(|c| c.kind == "BODY"))
        .and_then(|c| c.text.clone())
        .unwrap();
    assert!(body.contains("sigue en curso"), "{body}");

    assert!(
        session
            .delete_template(&waba, "crm_followup_1", Some(&created.id))
            .await
            .unwrap()
    );
    let remaining = session.templates(&waba).await.unwrap();
    assert!(
        remaining
            .iter()
            .all(|t| t.id != created.id || t.status == "DELETED" || t.status == "PENDING_DELETION")
    );

    let bad = NewTemplate {
        name: "Bad Name".into(),
        ..new
    };
    assert!(matches!(
        session.create_template(&waba, &bad).await,
        Err(GraphError::InvalidInput(_))
    ));
}

#[tokio::test]
async fn lead_ads_webhook_then_read_with_the_page_token_and_send_capi() {
    use meta_graph::CrmEvent;
    use meta_graph::webhook::ChangeValue;
    let e = env().await;
    let mut rx = with_webhooks(&e).await;
    let summary = e.sb.summary();
    let page = summary
        .pages
        .iter()
        .find(|p| !p.form_ids.is_empty())
        .unwrap()
        .clone();
    let form_id = page.form_ids[0].clone();
    let user = e.client.session(e.token().await);

    let pages = user.pages().await.unwrap();
    let mine = pages.iter().find(|p| p.id == page.id).unwrap();
    let page_token = mine.access_token.clone().expect("a page token");
    assert!(
        user.subscribe_page(&page.id, &page_token, &["leadgen"])
            .await
            .unwrap()
    );
    let page_session = e.client.session(page_token);
    let forms = page_session.leadgen_forms(&page.id).await.unwrap();
    assert!(forms.iter().any(|f| f.id == form_id));

    let before = chrono::Utc::now().timestamp() - 5;
    e.control(
        "/leads",
        json!({"form_id": form_id, "fields": {"email": "ana@example.com"}}),
    )
    .await;
    let change = rx
        .next(|c| match c {
            ChangeValue::Leadgen(l) => Some(l),
            _ => None,
        })
        .await;
    assert_eq!(change.form_id, form_id);
    assert_eq!(change.page_id, page.id);

    let lead = page_session.lead(&change.leadgen_id).await.unwrap();
    assert_eq!(lead.id, change.leadgen_id);
    assert_eq!(lead.field("email"), Some("ana@example.com"));
    assert_eq!(lead.form_id.as_deref(), Some(form_id.as_str()));
    assert!(lead.created_at().is_some());

    let backfill = page_session
        .form_leads(&form_id, Some(before))
        .await
        .unwrap();
    assert!(
        backfill.iter().any(|l| l.id == change.leadgen_id),
        "backfill misses the new lead"
    );

    // Stage feedback to Meta through the Conversions API.
    let dataset = summary.datasets[0].id.clone();
    let event = CrmEvent::lead_stage(
        &change.leadgen_id,
        "qualified_lead",
        chrono::Utc::now().timestamp(),
        "CRM Ventas",
    )
    .unwrap()
    .with_event_id(format!("{}:qualified_lead", change.leadgen_id));
    let resp = user.send_events(&dataset, &[event], None).await.unwrap();
    assert_eq!(resp.events_received, 1);
    let capi = e.received("capi").await;
    assert!(
        capi.iter()
            .any(|c| c.to_string().contains(&change.leadgen_id)
                && c.to_string().contains("qualified_lead")),
        "sandbox did not record the CAPI event: {capi:?}"
    );
}

#[tokio::test]
async fn marketing_structure_campaigns_adsets_ads_with_creatives() {
    let e = env().await;
    let summary = e.sb.summary();
    let acct = &summary.ad_accounts[0];
    let session = e.client.session(e.token().await).with_page_limit(3);
    let campaigns = session.campaigns(&acct.id).await.unwrap();
    assert_eq!(campaigns.len(), acct.campaigns);
    assert!(
        campaigns
            .iter()
            .all(|c| c.status.is_some() && c.name.is_some())
    );
    let adsets = session.adsets(&acct.id).await.unwrap();
    assert!(!adsets.is_empty());
    assert!(adsets.iter().all(|s| {
        campaigns
            .iter()
            .any(|c| Some(&c.id) == s.campaign_id.as_ref())
    }));
    let ads = session.ads(&acct.id).await.unwrap();
    assert_eq!(ads.len(), acct.ads);
    let sample = ads.iter().find(|a| a.id == acct.sample_ad_ids[0]).unwrap();
    let creative = sample.creative.as_ref().unwrap();
    assert!(creative.title.as_deref().is_some_and(|t| !t.is_empty()));
    assert!(creative.body.as_deref().is_some_and(|t| !t.is_empty()));
    let account = session.ad_account(&acct.account_id).await.unwrap();
    assert_eq!(account.currency.as_deref(), Some(acct.currency.as_str()));
    assert!(account.amount_spent_minor().unwrap().is_ok());
}

#[tokio::test]
async fn username_users_are_reached_by_bsuid() {
    use meta_graph::webhook::ChangeValue;
    let e = env().await;
    let mut rx = with_webhooks(&e).await;
    let summary = e.sb.summary();
    let waba = &summary.wabas[0];
    let phone_id = waba.phone_number_ids[0].clone();
    let session = e.client.session(e.token().await);
    assert!(session.subscribe_waba(&waba.id).await.unwrap());
    let bsuid = "AR.1349120865530274";
    e.control(
        "/inbound",
        json!({"phone_number_id": phone_id, "user_id": bsuid, "text": "hola"}),
    )
    .await;
    let (contact, msg) = rx
        .next(|c| match c {
            ChangeValue::Messages(v) if !v.messages.is_empty() => {
                Some((v.contacts[0].clone(), v.messages[0].clone()))
            }
            _ => None,
        })
        .await;
    assert_eq!(contact.user_id.as_deref(), Some(bsuid));
    assert!(contact.wa_id.is_none(), "no phone for a username user");
    assert!(msg.from.is_none());
    assert_eq!(msg.from_user_id.as_deref(), Some(bsuid));

    let sent = session
        .send_text(
            &phone_id,
            &Recipient::UserId(bsuid.into()),
            "¿Cómo te ayudo?",
            false,
            None,
        )
        .await
        .unwrap();
    assert_eq!(sent.contacts[0].user_id.as_deref(), Some(bsuid));
    let wamid = sent.wamid().unwrap().to_string();
    let recorded = e.received("messages").await;
    assert!(
        recorded
            .iter()
            .any(|m| m.to_string().contains(&wamid) && m.to_string().contains(bsuid))
    );
}

#[tokio::test]
async fn stream_yields_every_item_lazily() {
    use futures::TryStreamExt;
    use meta_graph::{AdAccount, GraphRequest};
    let e = env().await;
    let biz = e.sb.summary().businesses[0].clone();
    let session = e.client.session(e.token().await).with_page_limit(1);
    let items: Vec<AdAccount> = session
        .stream(
            GraphRequest::get(format!("{}/owned_ad_accounts", biz.id)).query("fields", "id,name"),
        )
        .try_collect()
        .await
        .unwrap();
    let got: BTreeSet<String> = items.into_iter().map(|a| a.id).collect();
    let want: BTreeSet<String> = biz.owned_ad_account_ids.into_iter().collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn whatsapp_accounts_and_numbers_of_a_business() {
    let e = env().await;
    let summary = e.sb.summary();
    let session = e.client.session(e.token().await).with_page_limit(1);
    for biz in &summary.businesses {
        let wabas = session.wabas(&biz.id).await.unwrap();
        let expected: BTreeSet<&String> = summary
            .wabas
            .iter()
            .filter(|w| w.business_id == biz.id)
            .map(|w| &w.id)
            .collect();
        let owned: BTreeSet<&String> = wabas
            .iter()
            .filter(|w| w.ownership == meta_graph::whatsapp::Ownership::Owned)
            .map(|w| &w.id)
            .collect();
        assert_eq!(owned, expected, "owned WABAs of {}", biz.id);
    }
    let waba = &summary.wabas[0];
    let numbers = session.phone_numbers(&waba.id).await.unwrap();
    let ids: BTreeSet<&String> = numbers.iter().map(|n| &n.id).collect();
    assert_eq!(ids, waba.phone_number_ids.iter().collect());
    assert!(numbers.iter().all(|n| n.display_phone_number.is_some()));
}
