//! Picking the business, ad account, WhatsApp number and Lead Ads pages, and
//! Meta's deauthorize / data-deletion callbacks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::*;

#[tokio::test]
async fn the_wizard_selects_every_asset_and_routes_webhooks_to_the_tenant() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;
    let w = world(&app).await;
    let user_biz: Vec<String> = w["users"][0]["business_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();

    let r = ceo.get("/api/crm/marketing/meta-portfolios").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, user_biz, "every business of the person");

    // A business with owned and client accounts: all of them, once each.
    let biz = w["businesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| user_biz.contains(&b["id"].as_str().unwrap().to_owned()))
        .max_by_key(|b| {
            b["owned_ad_account_ids"].as_array().unwrap().len()
                + b["client_ad_account_ids"].as_array().unwrap().len()
        })
        .unwrap()
        .clone();
    let biz_id = biz["id"].as_str().unwrap();
    let mut expected: Vec<String> = biz["owned_ad_account_ids"]
        .as_array()
        .unwrap()
        .iter()
        .chain(biz["client_ad_account_ids"].as_array().unwrap())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    expected.dedup();
    let r = ceo
        .get(&format!(
            "/api/crm/marketing/meta-accounts?portfolio_id={biz_id}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let mut ids: Vec<String> = items
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, expected);
    let names: Vec<String> = items
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    let pick = items
        .iter()
        .find(|a| a["ownership"] == "owned")
        .unwrap()
        .clone();
    assert!(pick["currency"].is_string() && pick["status"].is_string());

    // Bad and unreachable ids are refused before anything is saved.
    let r = ceo
        .post(
            "/api/crm/marketing/connect",
            json!({"account_id": "act_x1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_account_id");
    let r = ceo
        .post(
            "/api/crm/marketing/connect",
            json!({"account_id": "act_987654321"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "ad_account_unreachable");

    let account_digits = pick["id"].as_str().unwrap().trim_start_matches("act_");
    let r = ceo
        .post(
            "/api/crm/marketing/connect",
            json!({"account_id": account_digits, "account_name": "typed", "portfolio_id": biz_id,
                   "portfolio_name": biz["name"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let summary = w["ad_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == pick["id"])
        .unwrap();
    assert_eq!(r.body["ad_account"]["id"], pick["id"]);
    assert_eq!(r.body["ad_account"]["name"], summary["name"]);
    assert_eq!(r.body["ad_account"]["currency"], summary["currency"]);
    assert_eq!(r.body["ad_account"]["timezone"], summary["timezone_name"]);
    assert_eq!(r.body["business"]["id"], biz_id);

    // WhatsApp: the portfolio's WABAs with numbers; select one number.
    let r = ceo.get("/api/crm/marketing/whatsapp").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let wabas = r.body["items"].as_array().unwrap().clone();
    let expected_wabas: Vec<&Value> = w["wabas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["business_id"] == biz_id)
        .collect();
    assert_eq!(wabas.len(), expected_wabas.len());
    let waba = wabas
        .iter()
        .find(|x| !x["phone_numbers"].as_array().unwrap().is_empty())
        .expect("a WABA with numbers");
    let waba_id = waba["id"].as_str().unwrap();
    let phone = waba["phone_numbers"][0].clone();
    let r = ceo
        .post(
            "/api/crm/marketing/whatsapp",
            json!({"waba_id": waba_id, "phone_number_ids": ["1"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "phone_number_not_in_waba");
    let r = ceo
        .post(
            "/api/crm/marketing/whatsapp",
            json!({"waba_id": waba_id, "phone_number_ids": [phone["id"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["whatsapp"]["waba_id"], waba_id);
    assert_eq!(r.body["whatsapp"]["phone_numbers"][0]["id"], phone["id"]);
    assert_eq!(
        r.body["whatsapp"]["phone_numbers"][0]["display_phone_number"],
        phone["display_phone_number"]
    );
    assert_eq!(
        received(&app, "POST", &format!("/{waba_id}/subscribed_apps"))
            .await
            .len(),
        1,
        "the app is subscribed to the WABA's webhooks"
    );

    // Lead Ads pages: subscribe to leadgen, keep the Page tokens encrypted.
    let r = ceo.get("/api/crm/marketing/lead-pages").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let page = r.body["items"][0].clone();
    assert_eq!(page["selected"], false);
    let page_id = page["id"].as_str().unwrap();
    let r = ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": ["123"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "page_not_managed");
    let r = ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": [page_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["pages"][0]["id"], page_id);
    let subs = received(&app, "POST", &format!("/{page_id}/subscribed_apps")).await;
    assert_eq!(subs.len(), 1);
    let r = ceo.get("/api/crm/marketing/lead-pages").await;
    assert_eq!(r.body["items"][0]["selected"], true);
    let kinds = query(&db(&app), "SELECT kind FROM meta_credentials ORDER BY kind").await;
    let kinds: Vec<String> = kinds
        .iter()
        .map(|r| r.try_get::<String>("", "kind").unwrap())
        .collect();
    assert_eq!(kinds, vec!["page_token", "user_token"]);

    // The live test checks every selected asset.
    let r = ceo.get("/api/crm/auth/meta/test-connection").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ok"], true, "{:?}", r.body);
    let names: Vec<&str> = r.body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["me", "ad_account", "whatsapp"]);

    // Other features route webhooks and read the selection.
    let tenant: uuid::Uuid = ceo.get("/api/auth/me").await.body["tenant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    use crm_core::services::meta_connection as mc;
    let conn = db(&app);
    assert_eq!(
        mc::tenant_for_page(&conn, page_id).await.unwrap(),
        Some(tenant)
    );
    assert_eq!(
        mc::tenant_for_waba(&conn, waba_id).await.unwrap(),
        Some(tenant)
    );
    assert_eq!(
        mc::tenant_for_phone_number_id(&conn, phone["id"].as_str().unwrap())
            .await
            .unwrap(),
        Some(tenant)
    );
    assert_eq!(mc::tenant_for_page(&conn, "42").await.unwrap(), None);
    let info = mc::connection_for_tenant(&conn, tenant)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.ad_accounts[0].id, pick["id"].as_str().unwrap());
    assert_eq!(info.page_ids, vec![page_id.to_owned()]);
    assert!(!info.paused());

    // Another workspace cannot claim the same page (webhooks route by it).
    let (_other, other_ceo) = other_tenant_ceo(&app, "boss@other.test").await;
    connect_meta(&app, &other_ceo).await;
    let r = other_ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": [page_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "asset_in_use");
    assert_eq!(
        mc::tenant_for_page(&conn, page_id).await.unwrap(),
        Some(tenant)
    );
}

#[tokio::test]
async fn deauthorize_and_data_deletion_callbacks_verify_the_signature() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    connect_meta(&app, &ceo).await;
    let w = world(&app).await;
    let meta_user = w["users"][0]["id"].as_str().unwrap().to_owned();
    let secret = meta_graph::AppSecret::new(meta_sandbox::SandboxConfig::default().app_secret);
    let http = reqwest::Client::new();
    let post = |path: &'static str, signed: String| {
        let http = http.clone();
        let url = format!("{}{path}", app.url);
        async move {
            let r = http
                .post(url)
                .form(&[("signed_request", signed)])
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };

    // A forged signature changes nothing.
    let forged = meta_graph::webhook::make_signed_request(
        &meta_graph::AppSecret::new("not-the-secret"),
        &json!({"algorithm": "HMAC-SHA256", "user_id": meta_user, "issued_at": 1}),
    );
    let (status, body) = post("/api/crm/auth/meta/deauthorize", forged).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_signed_request");
    assert_eq!(token_status(&ceo).await["status"], "ok");

    // Correctly signed but issued long ago (a replay), or without a date:
    // refused, nothing changes.
    for payload in [
        json!({"algorithm": "HMAC-SHA256", "user_id": meta_user, "issued_at": 1}),
        json!({"algorithm": "HMAC-SHA256", "user_id": meta_user,
               "issued_at": chrono::Utc::now().timestamp() - 2 * 3600}),
        json!({"algorithm": "HMAC-SHA256", "user_id": meta_user,
               "issued_at": chrono::Utc::now().timestamp() + 3600}),
        json!({"algorithm": "HMAC-SHA256", "user_id": meta_user}),
    ] {
        let old = meta_graph::webhook::make_signed_request(&secret, &payload);
        for path in [
            "/api/crm/auth/meta/deauthorize",
            "/api/crm/auth/meta/data-deletion",
        ] {
            let (status, body) = post(path, old.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{payload} {body}");
            assert!(
                ["stale_signed_request", "invalid_signed_request"]
                    .contains(&body["error"]["code"].as_str().unwrap()),
                "{body}"
            );
        }
        assert_eq!(token_status(&ceo).await["status"], "ok");
    }

    let signed = meta_graph::webhook::make_signed_request(
        &secret,
        &json!({"algorithm": "HMAC-SHA256", "user_id": meta_user,
                "issued_at": chrono::Utc::now().timestamp()}),
    );
    let (status, body) = post("/api/crm/auth/meta/deauthorize", signed.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(token_status(&ceo).await["status"], "disconnected");
    assert_eq!(
        query(&db(&app), "SELECT id FROM meta_credentials")
            .await
            .len(),
        0
    );

    connect_meta(&app, &ceo).await;
    let (status, body) = post("/api/crm/auth/meta/data-deletion", signed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = body["confirmation_code"].as_str().unwrap();
    assert_eq!(
        body["url"],
        format!("{}/api/crm/auth/meta/data-deletion/{code}", app.url)
    );
    let st = reqwest::get(body["url"].as_str().unwrap())
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(st["status"], "completed");
    assert_eq!(st["confirmation_code"], code);
    let rows = query(&db(&app), "SELECT meta_user_id FROM meta_connections").await;
    assert!(
        rows[0]
            .try_get::<Option<String>>("", "meta_user_id")
            .unwrap()
            .is_none()
    );
    assert_eq!(token_status(&ceo).await["status"], "disconnected");
    let r = reqwest::get(format!("{}/api/crm/auth/meta/data-deletion/nope", app.url))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
