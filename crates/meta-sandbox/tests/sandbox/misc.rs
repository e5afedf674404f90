//! Routes not covered by the scenario tests.
use serde_json::{Value, json};

use crate::common::*;

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn whatsapp_accounts_pages_and_creatives() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let s = sb.summary();
    let biz = &s.businesses[0].id;
    let wabas = get(&c, &format!("{base}/v25.0/{biz}/owned_whatsapp_business_accounts?fields=id,name,currency,message_template_namespace,owner_business_info&access_token={t}")).await;
    assert_eq!(wabas.status, 200, "{}", wabas.json);
    assert_eq!(wabas.json["data"][0]["id"], json!(s.wabas[0].id));
    assert_eq!(
        wabas.json["data"][0]["owner_business_info"]["id"],
        json!(biz)
    );
    let phones = get(&c, &format!("{base}/v25.0/{}/phone_numbers?fields=id,display_phone_number,verified_name,quality_rating,throughput,whatsapp_business_manager_messaging_limit&access_token={t}", s.wabas[0].id)).await;
    assert_eq!(
        phones.json["data"].as_array().unwrap().len(),
        s.wabas[0].phone_number_ids.len()
    );
    assert_eq!(
        phones.json["data"][0]["throughput"]["level"],
        json!("STANDARD")
    );
    // WABA usage headers are keyed by the WABA id.
    let buc: Value = serde_json::from_str(
        phones.headers["x-business-use-case-usage"]
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        buc[&s.wabas[0].id][0]["type"],
        json!("whatsapp_business_management")
    );
    // WABA subscription can be listed and removed.
    post_form(
        &c,
        &format!("{base}/v25.0/{}/subscribed_apps", s.wabas[0].id),
        &[("access_token", &t)],
    )
    .await;
    let subs = get(
        &c,
        &format!(
            "{base}/v25.0/{}/subscribed_apps?access_token={t}",
            s.wabas[0].id
        ),
    )
    .await;
    assert_eq!(subs.json["data"].as_array().unwrap().len(), 1);
    let del = c
        .delete(format!(
            "{base}/v25.0/{}/subscribed_apps?access_token={t}",
            s.wabas[0].id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let subs = get(
        &c,
        &format!(
            "{base}/v25.0/{}/subscribed_apps?access_token={t}",
            s.wabas[0].id
        ),
    )
    .await;
    assert!(subs.json["data"].as_array().unwrap().is_empty());

    // A Page token from the node itself; it sees its Page but not others.
    let page = get(
        &c,
        &format!(
            "{base}/v25.0/{}?fields=id,name,access_token&access_token={t}",
            s.pages[0].id
        ),
    )
    .await;
    let pt = page.json["access_token"].as_str().unwrap().to_string();
    let me = get(&c, &format!("{base}/v25.0/me?access_token={pt}")).await;
    assert_eq!(me.json["id"], json!(s.pages[0].id));
    let other = get(
        &c,
        &format!("{base}/v25.0/{}?access_token={pt}", s.pages[1].id),
    )
    .await;
    assert_eq!(assert_error(&other), (100, Some(33)));
    let dbg = get(
        &c,
        &format!("{base}/v25.0/debug_token?input_token={pt}&access_token={t}"),
    )
    .await;
    assert_eq!(dbg.json["data"]["type"], json!("PAGE"));
    assert_eq!(dbg.json["data"]["profile_id"], json!(s.pages[0].id));
    // Bruno cannot see Ana's first business's Page.
    let bruno = sb
        .issue_token(meta_sandbox::TokenRequest {
            user: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/{}?access_token={bruno}", s.pages[0].id)
            )
            .await
        ),
        (100, Some(33))
    );

    // Creatives and ad-level leads.
    let act = &s.ad_accounts[0].id;
    let cr = get(
        &c,
        &format!(
            "{base}/v25.0/{act}/adcreatives?fields=id,title,body,image_url&limit=3&access_token={t}"
        ),
    )
    .await;
    assert_eq!(cr.json["data"].as_array().unwrap().len(), 3);
    assert!(cr.json["data"][0]["title"].is_string());
    let lead_ad = sb
        .world()
        .ads
        .iter()
        .find(|a| a.form.is_some())
        .unwrap()
        .id
        .clone();
    let made = post_json(
        &c,
        &format!("{base}/_sandbox/leads"),
        &json!({"ad_id": lead_ad}),
    )
    .await;
    let leads = get(
        &c,
        &format!("{base}/v25.0/{lead_ad}/leads?fields=id,ad_id&access_token={t}"),
    )
    .await;
    assert_eq!(
        leads.json["data"][0]["id"], made.json["leadgen_id"],
        "newest first"
    );
    assert_eq!(leads.json["data"][0]["ad_id"], json!(lead_ad));
    let organic = post_json(
        &c,
        &format!("{base}/_sandbox/leads"),
        &json!({"ad_id": null}),
    )
    .await;
    let l = get(
        &c,
        &format!(
            "{base}/v25.0/{}?fields=is_organic,ad_id&access_token={t}",
            organic.json["leadgen_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(l.json["is_organic"], json!(true));
    assert!(l.json.get("ad_id").is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn token_flows_and_control_odds_and_ends() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    // client_credentials gives the app token.
    let app = get(&c, &format!("{base}/v25.0/oauth/access_token?grant_type=client_credentials&client_id=1234567890&client_secret=sandbox-app-secret")).await;
    assert_eq!(app.json["access_token"], json!(sb.app_token()));
    // Implicit flow: the token is in the fragment.
    let form = [
        ("client_id", "1234567890"),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("response_type", "token"),
        ("state", "s1"),
        ("scope", "ads_read"),
        ("action", "continue"),
    ];
    let r = c
        .post(format!("{base}/v25.0/dialog/oauth/confirm"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let frag = loc.split_once('#').unwrap().1;
    let pairs: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(frag.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(pairs["state"], "s1");
    let implicit = pairs["access_token"].clone();
    assert_eq!(
        get(&c, &format!("{base}/v25.0/me?access_token={implicit}"))
            .await
            .status,
        200
    );

    // Control-issued tokens with a chosen lifetime and scopes; expire all.
    let issued = post_json(
        &c,
        &format!("{base}/_sandbox/tokens"),
        &json!({"user": 1, "scopes": ["ads_read"], "expires_in": 3600}),
    )
    .await;
    let tok = issued.json["access_token"].as_str().unwrap().to_string();
    let me = get(&c, &format!("{base}/v25.0/me?access_token={tok}")).await;
    assert_eq!(me.json["id"], issued.json["user_id"]);
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/me/businesses?access_token={tok}")
            )
            .await
        )
        .0,
        200
    );
    post_json(
        &c,
        &format!("{base}/_sandbox/tokens/expire"),
        &json!({"all": true}),
    )
    .await;
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={tok}")).await),
        (190, Some(463))
    );
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={implicit}")).await),
        (190, Some(463))
    );

    // Faults: listed, method-specific, token kinds; 613 throttle.
    let t = token(&sb);
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "token_invalid", "method": "POST"}),
    )
    .await;
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/adaccounts", "kind": "throttle", "code": 613}),
    )
    .await;
    let list = get(&c, &format!("{base}/_sandbox/faults")).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&c, &format!("{base}/v25.0/me?access_token={t}"))
            .await
            .status,
        200,
        "GET does not match a POST-only fault"
    );
    let r = get(&c, &format!("{base}/v25.0/me/adaccounts?access_token={t}")).await;
    assert_eq!(assert_error(&r), (613, Some(1487742)));
    let usage: Value = serde_json::from_str(r.headers["x-app-usage"].to_str().unwrap()).unwrap();
    assert_eq!(usage["call_count"], json!(100));
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "token_expired"}),
    )
    .await;
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t}")).await),
        (190, Some(463))
    );
    assert_eq!(
        post_json(
            &c,
            &format!("{base}/_sandbox/faults"),
            &json!({"path": "/me", "kind": "explode"})
        )
        .await
        .status,
        400
    );

    // time_ranges gives one row per range.
    let act = &sb.summary().ad_accounts[0].id;
    let ranges = enc(
        r#"[{"since":"2026-03-01","until":"2026-03-07"},{"since":"2026-03-08","until":"2026-03-14"}]"#,
    );
    let r = get(
        &c,
        &format!("{base}/v25.0/{act}/insights?time_ranges={ranges}&access_token={t}"),
    )
    .await;
    let rows = r.json["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["date_start"], json!("2026-03-08"));

    // Reset forgets tokens, faults and recordings.
    let rr = post_json(&c, &format!("{base}/_sandbox/reset"), &json!({})).await;
    assert_eq!(rr.status, 200);
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t}")).await).0,
        190
    );
    assert!(
        get(&c, &format!("{base}/_sandbox/faults")).await.json["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let log = get(&c, &format!("{base}/_sandbox/received/requests")).await;
    assert_eq!(
        log.json["data"].as_array().unwrap().len(),
        1,
        "only the call made after the reset"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn manual_statuses_and_username_only_inbound() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let rx = receiver("v", 0).await;
    hook(&c, &sb, &rx, false).await;
    let phone = sb.summary().wabas[0].phone_number_ids[0].clone();
    // A user who only has a BSUID writes in; the business can answer to the BSUID.
    let r = post_json(&c, &format!("{base}/_sandbox/inbound"), &json!({"user_id": "AR.555", "name": "Sin Número", "text": "hola", "phone_number_id": phone})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let bodies = rx.wait_for("inbound", |b| !b.is_empty()).await;
    let m = &bodies[0]["entry"][0]["changes"][0]["value"]["messages"][0];
    assert!(m.get("from").is_none());
    assert_eq!(m["from_user_id"], json!("AR.555"));
    let send = c.post(format!("{base}/v25.0/{phone}/messages")).bearer_auth(&t).json(&json!({"messaging_product": "whatsapp", "recipient": "AR.555", "type": "text", "text": {"body": "¡Hola!"}})).send().await.unwrap();
    assert_eq!(send.status(), 200);
    let unknown = c.post(format!("{base}/v25.0/{phone}/messages")).bearer_auth(&t).json(&json!({"messaging_product": "whatsapp", "to": "AR.999", "type": "text", "text": {"body": "x"}})).send().await.unwrap();
    assert_eq!(unknown.status(), 400);

    // Emit a status by hand (e.g. a late failure).
    let ok = c.post(format!("{base}/v25.0/{phone}/messages")).bearer_auth(&t).json(&json!({"messaging_product": "whatsapp", "to": "5491144440001", "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}})).send().await.unwrap();
    let id = ok.json::<Value>().await.unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post_json(&c, &format!("{base}/_sandbox/messages/{id}/status"), &json!({"status": "failed", "error_code": 131049, "error_title": "This message was not delivered to maintain healthy ecosystem engagement."})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    rx.wait_for("manual failed", |b| {
        b.iter().any(|x| {
            x["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"]
                == json!(131049)
        })
    })
    .await;
    let rec = get(&c, &format!("{base}/_sandbox/received/messages")).await;
    let m = rec.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(id))
        .unwrap()
        .clone();
    assert!(
        m["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["status"] == json!("failed") && s["error_code"] == json!(131049))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn large_world_serves_and_refuses_oversized_insights() {
    let sb = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        world: meta_sandbox::WorldSize::large(),
        today: Some(today()),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = sb.world().ad_accounts[0].act_id();
    assert_eq!(sb.world().ad_accounts[0].campaigns.len(), 1000);
    let page = get(&c, &format!("{base}/v25.0/{act}/campaigns?fields=id,name&limit=100&summary=total_count&access_token={t}")).await;
    assert_eq!(page.json["data"].as_array().unwrap().len(), 100);
    assert!(page.json["paging"]["next"].is_string());
    // 3,000 ads x 365 daily rows is too much for one request, as on Meta.
    let r = get(&c, &format!("{base}/v25.0/{act}/insights?level=ad&time_increment=1&date_preset=maximum&access_token={t}")).await;
    assert_eq!(assert_error(&r), (1, Some(99)));
    // A year of daily account rows is fine.
    let r = get(&c, &format!("{base}/v25.0/{act}/insights?time_increment=1&date_preset=maximum&limit=400&access_token={t}")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json["data"].as_array().unwrap().len() > 300);
    sb.shutdown().await;
}
