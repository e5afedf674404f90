use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn pages_forms_leads_and_leadgen_webhook() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let rx = receiver("verify-me", 0).await;
    hook(&c, &sb, &rx, true).await;

    let pages = get(&c, &format!("{base}/v25.0/me/accounts?access_token={t}")).await;
    assert_eq!(pages.status, 200, "{}", pages.json);
    let page = pages.json["data"][0].clone();
    let page_id = page["id"].as_str().unwrap().to_string();
    let page_token = page["access_token"].as_str().unwrap().to_string();

    // Subscribing needs a Page token.
    let r = post_form(
        &c,
        &format!("{base}/v25.0/{page_id}/subscribed_apps"),
        &[("access_token", &t), ("subscribed_fields", "leadgen")],
    )
    .await;
    assert_eq!(assert_error(&r).0, 210);

    // Before subscribing, a new lead is not delivered (Meta only sends for subscribed Pages).
    let forms = get(&c, &format!("{base}/v25.0/{page_id}/leadgen_forms?fields=id,name,status,questions,leads_count&access_token={page_token}")).await;
    assert_eq!(forms.status, 200, "{}", forms.json);
    let form_id = forms.json["data"][0]["id"].as_str().unwrap().to_string();
    assert!(
        forms.json["data"][0]["questions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["key"] == json!("email"))
    );
    let created = post_json(
        &c,
        &format!("{base}/_sandbox/leads"),
        &json!({"form_id": form_id}),
    )
    .await;
    assert_eq!(created.json["page_subscribed"], json!(false));

    let r = post_form(
        &c,
        &format!("{base}/v25.0/{page_id}/subscribed_apps"),
        &[
            ("access_token", &page_token),
            ("subscribed_fields", "leadgen"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["success"], json!(true));
    let subs = get(
        &c,
        &format!("{base}/v25.0/{page_id}/subscribed_apps?access_token={page_token}"),
    )
    .await;
    assert_eq!(
        subs.json["data"][0]["subscribed_fields"],
        json!(["leadgen"])
    );

    let since = chrono::Utc::now().timestamp() - 5;
    let created = post_json(&c, &format!("{base}/_sandbox/leads"), &json!({"form_id": form_id, "fields": {"email": "nueva@example.com", "full_name": "Nueva Persona"}})).await;
    assert_eq!(created.status, 200, "{}", created.json);
    let leadgen_id = created.json["leadgen_id"].as_str().unwrap().to_string();
    assert!((15..=17).contains(&leadgen_id.len()));

    let bodies = rx
        .wait_for("leadgen", |b| {
            b.iter()
                .any(|x| x["entry"][0]["changes"][0]["value"]["leadgen_id"] == json!(leadgen_id))
        })
        .await;
    let hit = rx
        .hits()
        .into_iter()
        .find(|h| String::from_utf8_lossy(&h.body).contains(&leadgen_id))
        .unwrap();
    assert!(
        signature_ok(sb.app_secret(), &hit),
        "X-Hub-Signature-256 verifies over the exact bytes"
    );
    assert!(!signature_ok("wrong-secret", &hit));
    assert!(
        legacy_signature_ok(sb.app_secret(), &hit),
        "legacy X-Hub-Signature (sha1) is sent too"
    );
    let v = bodies
        .iter()
        .find(|x| x.to_string().contains(&leadgen_id))
        .unwrap();
    assert_eq!(v["object"], json!("page"));
    let change = &v["entry"][0]["changes"][0];
    assert_eq!(change["field"], json!("leadgen"));
    assert_eq!(change["value"]["page_id"], json!(page_id));
    assert_eq!(change["value"]["form_id"], json!(form_id));
    assert!(change["value"]["created_time"].is_i64());
    // Only one delivery for the lead made after subscribing.
    assert_eq!(bodies.len(), 1);

    // Read the lead back.
    let lead = get(&c, &format!("{base}/v25.0/{leadgen_id}?fields=id,created_time,field_data,form_id,ad_id,adset_id,campaign_id,campaign_name,is_organic&access_token={page_token}")).await;
    assert_eq!(lead.status, 200, "{}", lead.json);
    assert_eq!(lead.json["form_id"], json!(form_id));
    let fd = lead.json["field_data"].as_array().unwrap();
    assert!(
        fd.iter()
            .any(|f| f["name"] == json!("email") && f["values"] == json!(["nueva@example.com"]))
    );
    assert_eq!(lead.json["ad_id"], change["value"]["ad_id"]);
    if let Some(ad_id) = lead.json["ad_id"].as_str() {
        let ad = sb.world().ads.iter().find(|a| a.id == ad_id).unwrap();
        assert_eq!(
            lead.json["campaign_id"],
            json!(sb.world().campaigns[ad.campaign].id)
        );
        assert_eq!(lead.json["adset_id"], json!(sb.world().adsets[ad.adset].id));
        assert_eq!(lead.json["is_organic"], json!(false));
    }
    let ct = lead.json["created_time"].as_str().unwrap();
    assert!(ct.ends_with("+0000") && ct.contains('T'));

    // Bulk read with time_created filtering: only the two new leads.
    let filter =
        format!("[{{\"field\":\"time_created\",\"operator\":\"GREATER_THAN\",\"value\":{since}}}]");
    let url = format!(
        "{base}/v25.0/{form_id}/leads?fields=id,created_time&filtering={}&access_token={page_token}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    let recent = get(&c, &url).await;
    assert_eq!(recent.status, 200, "{}", recent.json);
    let ids: Vec<&str> = recent.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&leadgen_id.as_str()));
    let all = get(
        &c,
        &format!("{base}/v25.0/{form_id}/leads?limit=500&access_token={page_token}"),
    )
    .await;
    assert!(
        all.json["data"].as_array().unwrap().len() > ids.len(),
        "the world has older leads too"
    );

    // A user token without leads_retrieval cannot read leads.
    let no_leads = sb
        .issue_token(meta_sandbox::TokenRequest {
            scopes: vec!["ads_read".into(), "pages_show_list".into()],
            ..Default::default()
        })
        .unwrap();
    let r = get(
        &c,
        &format!("{base}/v25.0/{form_id}/leads?access_token={no_leads}"),
    )
    .await;
    assert_eq!(assert_error(&r).0, 200);
    sb.shutdown().await;
}

#[tokio::test]
async fn webhook_retries_and_handshake() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let rx = receiver("s3cret", 2).await;

    // Handshake with the wrong verify token is refused and the URL is not saved.
    let bad = post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"webhook_url": rx.url, "webhook_verify_token": "nope"}),
    )
    .await;
    assert_eq!(bad.status, 400);
    let cfg = get(&c, &format!("{base}/_sandbox/config")).await;
    assert!(cfg.json["webhook_url"].is_null());
    let ok = post_json(&c, &format!("{base}/_sandbox/config"), &json!({"webhook_url": rx.url, "webhook_verify_token": "s3cret", "require_subscription": false, "webhook_retry_base_ms": 10})).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["handshake"], json!("ok"));

    let created = post_json(&c, &format!("{base}/_sandbox/leads"), &json!({})).await;
    let id = created.json["webhook_id"].as_u64().unwrap();
    let mut rec = Value::Null;
    for _ in 0..200 {
        let w = get(
            &c,
            &format!("{base}/_sandbox/received/webhooks?field=leadgen"),
        )
        .await;
        rec = w.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(id))
            .cloned()
            .unwrap();
        if rec["state"] == json!("delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rec["state"], json!("delivered"), "{rec}");
    let attempts = rec["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "two 500s, then success");
    assert_eq!(attempts[0]["status"], json!(500));
    assert_eq!(attempts[2]["status"], json!(200));
    // Every attempt carries the same signed bytes.
    let hits = rx.hits();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .all(|h| h.body == hits[0].body && signature_ok(sb.app_secret(), h))
    );

    // App-level subscription over the Graph API with the app token performs the handshake too.
    let app_token = sb.app_token();
    let r = post_form(
        &c,
        &format!("{base}/v25.0/{}/subscriptions", sb.app_id()),
        &[
            ("access_token", &app_token),
            ("object", "page"),
            ("callback_url", &rx.url),
            ("fields", "leadgen"),
            ("verify_token", "s3cret"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/{}/subscriptions", sb.app_id()),
        &[
            ("access_token", &app_token),
            ("object", "page"),
            ("callback_url", &rx.url),
            ("fields", "leadgen"),
            ("verify_token", "bad"),
        ],
    )
    .await;
    assert_eq!(assert_error(&r).0, 100);
    let list = get(
        &c,
        &format!(
            "{base}/v25.0/{}/subscriptions?access_token={}",
            sb.app_id(),
            url::form_urlencoded::byte_serialize(app_token.as_bytes()).collect::<String>()
        ),
    )
    .await;
    assert_eq!(list.json["data"][0]["object"], json!("page"));
    sb.shutdown().await;
}
