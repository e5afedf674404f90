use serde_json::{Value, json};

use crate::common::*;

#[tokio::test]
async fn versions_tokens_and_error_envelope() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    assert!(!base.ends_with('/'));

    let me = get(&c, &format!("{base}/v25.0/me?access_token={t}")).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.headers["facebook-api-version"], "v25.0");
    assert_eq!(me.json["id"], json!(sb.world().users[0].id));
    assert_eq!(me.json["name"], json!("Ana Sandbox"));

    // Any current version works, and so does no version; retired versions fail like Meta.
    assert_eq!(
        get(&c, &format!("{base}/v23.0/me?access_token={t}"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&c, &format!("{base}/me?access_token={t}")).await.status,
        200
    );
    let old = get(&c, &format!("{base}/v19.0/me?access_token={t}")).await;
    assert_eq!(assert_error(&old).0, 2635);

    // Bearer header instead of the query parameter.
    let r = c
        .get(format!("{base}/v25.0/me"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Missing, unknown token.
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me")).await).0,
        104
    );
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token=EAAnope")).await).0,
        190
    );

    // appsecret_proof: accepted when right, refused when wrong.
    let proof = {
        use hmac::{Hmac, Mac};
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(sb.app_secret().as_bytes()).unwrap();
        m.update(t.as_bytes());
        hex::encode(m.finalize().into_bytes())
    };
    assert_eq!(
        get(
            &c,
            &format!("{base}/v25.0/me?access_token={t}&appsecret_proof={proof}")
        )
        .await
        .status,
        200
    );
    let bad = get(
        &c,
        &format!("{base}/v25.0/me?access_token={t}&appsecret_proof=deadbeef"),
    )
    .await;
    assert_eq!(assert_error(&bad).0, 100);
    // With "Require App Secret" on, a call without the proof is refused.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"require_appsecret_proof": true}),
    )
    .await;
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t}")).await).0,
        100
    );
    assert_eq!(
        get(
            &c,
            &format!("{base}/v25.0/me?access_token={t}&appsecret_proof={proof}")
        )
        .await
        .status,
        200
    );
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"require_appsecret_proof": false}),
    )
    .await;

    // Unknown object and unknown field.
    let missing = get(&c, &format!("{base}/v25.0/999999999999?access_token={t}")).await;
    assert_eq!(assert_error(&missing), (100, Some(33)));
    let field = get(
        &c,
        &format!("{base}/v25.0/me?fields=id,shoe_size&access_token={t}"),
    )
    .await;
    assert_eq!(assert_error(&field).0, 100);
    assert!(
        field.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shoe_size")
    );
    let syntax = get(
        &c,
        &format!("{base}/v25.0/me?fields=id,businesses{{name&access_token={t}"),
    )
    .await;
    assert!(assert_error(&syntax).0 > 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn nested_fields_and_cursor_paging() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();

    let url = format!(
        "{base}/v25.0/me?fields=id,name,businesses{{name,owned_ad_accounts.limit(1){{name,currency,timezone_name}}}}&access_token={t}"
    );
    let r = get(&c, &url).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let biz = &r.json["businesses"]["data"][0];
    assert_eq!(biz["name"], json!("Ventas Sandbox SA"));
    let owned = &biz["owned_ad_accounts"];
    assert_eq!(owned["data"].as_array().unwrap().len(), 1);
    assert!(owned["data"][0]["currency"].is_string());
    let next = owned["paging"]["next"]
        .as_str()
        .expect("nested edge has paging.next");
    assert!(
        next.starts_with(&format!("{base}/v25.0/")),
        "next is a full URL back to the sandbox: {next}"
    );
    let page2 = get(&c, next).await;
    assert_eq!(page2.status, 200, "{}", page2.json);
    assert_eq!(page2.json["data"].as_array().unwrap().len(), 1);
    assert_ne!(page2.json["data"][0]["id"], owned["data"][0]["id"]);

    // Walk /me/adaccounts with limit=2 until paging.next disappears.
    let mut url =
        format!("{base}/v25.0/me/adaccounts?fields=id,name,currency&limit=2&access_token={t}");
    let mut ids = vec![];
    let mut pages = 0;
    loop {
        let r = get(&c, &url).await;
        assert_eq!(r.status, 200, "{}", r.json);
        pages += 1;
        for a in r.json["data"].as_array().unwrap() {
            ids.push(a["id"].as_str().unwrap().to_string());
        }
        assert!(r.json["paging"]["cursors"]["after"].is_string());
        if pages > 1 {
            assert!(r.json["paging"]["previous"].is_string());
        }
        match r.json["paging"]["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), sb.world().ad_accounts.len());
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len());
    assert!(ids.iter().all(|i| i.starts_with("act_")));
    sb.shutdown().await;
}

#[tokio::test]
async fn batch_requests() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let batch = json!([
        {"method": "GET", "name": "accts", "relative_url": "me/adaccounts?limit=1"},
        {"method": "GET", "relative_url": "v25.0/{result=accts:$.data.0.id}?fields=name,currency"},
        {"method": "GET", "relative_url": "999999?fields=id"},
    ]);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/"),
        &[("access_token", &t), ("batch", &batch.to_string())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let items = r.json.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["code"], json!(200));
    assert!(items[0]["headers"].is_array());
    let first: Value = serde_json::from_str(items[0]["body"].as_str().unwrap()).unwrap();
    let second: Value = serde_json::from_str(items[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        second["id"], first["data"][0]["id"],
        "JSONPath reference resolved"
    );
    assert!(second["currency"].is_string());
    assert_eq!(items[2]["code"], json!(400));
    let err: Value = serde_json::from_str(items[2]["body"].as_str().unwrap()).unwrap();
    assert_eq!(err["error"]["code"], json!(100));

    // Injected null entries mean "not processed, retry".
    let f = post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "null_batch", "count": 1}),
    )
    .await;
    assert_eq!(f.status, 200);
    let b2 =
        json!([{"method": "GET", "relative_url": "me"}, {"method": "GET", "relative_url": "me"}]);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/"),
        &[("access_token", &t), ("batch", &b2.to_string())],
    )
    .await;
    let items = r.json.as_array().unwrap();
    assert!(items[0].is_null());
    assert_eq!(items[1]["code"], json!(200));

    let too_many: Vec<Value> = (0..51)
        .map(|_| json!({"method": "GET", "relative_url": "me"}))
        .collect();
    let r = post_form(
        &c,
        &format!("{base}/v25.0/"),
        &[
            ("access_token", &t),
            ("batch", &Value::Array(too_many).to_string()),
        ],
    )
    .await;
    assert_eq!(assert_error(&r).0, 100);
    sb.shutdown().await;
}

#[tokio::test]
async fn usage_headers_throttling_and_faults() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = sb.world().ad_accounts[0].act_id();

    let r1 = get(&c, &format!("{base}/v25.0/{act}/insights?access_token={t}")).await;
    assert_eq!(r1.status, 200);
    let app_usage: Value =
        serde_json::from_str(r1.headers["x-app-usage"].to_str().unwrap()).unwrap();
    assert!(app_usage["call_count"].is_number());
    let acct: Value =
        serde_json::from_str(r1.headers["x-ad-account-usage"].to_str().unwrap()).unwrap();
    assert!(acct["acc_id_util_pct"].is_number());
    let buc: Value =
        serde_json::from_str(r1.headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    let entry = &buc[&sb.world().ad_accounts[0].account_id][0];
    assert_eq!(entry["type"], json!("ads_insights"));

    // Lower the per-account budget: usage rises, then throttles with 80000 at 100%.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"account_calls_per_window": 4}),
    )
    .await;
    let mut last_pct = 0;
    let mut throttled = None;
    for _ in 0..6 {
        let r = get(&c, &format!("{base}/v25.0/{act}/insights?access_token={t}")).await;
        let acct: Value =
            serde_json::from_str(r.headers["x-ad-account-usage"].to_str().unwrap()).unwrap();
        let pct = acct["acc_id_util_pct"].as_i64().unwrap();
        assert!(pct >= last_pct, "usage rises with load");
        last_pct = pct;
        if r.status != 200 {
            throttled = Some(r);
            break;
        }
    }
    let throttled = throttled.expect("throttled at 100%");
    assert_eq!(assert_error(&throttled).0, 80000);
    assert_eq!(last_pct, 100);
    // Management calls on the same account have their own budget type (80004).
    for _ in 0..5 {
        let _ = get(
            &c,
            &format!("{base}/v25.0/{act}/campaigns?access_token={t}"),
        )
        .await;
    }
    let r = get(
        &c,
        &format!("{base}/v25.0/{act}/campaigns?access_token={t}"),
    )
    .await;
    assert_eq!(assert_error(&r).0, 80004);
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"account_calls_per_window": 100000}),
    )
    .await;

    // Forced faults: throttle 17, error with subcode, latency.
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "throttle", "code": 17}),
    )
    .await;
    let r = get(&c, &format!("{base}/v25.0/me?access_token={t}")).await;
    assert_eq!(assert_error(&r), (17, Some(2446079)));
    post_json(&c, &format!("{base}/_sandbox/faults"), &json!({"path": "/me", "kind": "error", "code": 2, "message": "Service temporarily unavailable", "count": 2})).await;
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t}")).await).0,
        2
    );
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t}")).await).0,
        2
    );
    assert_eq!(
        get(&c, &format!("{base}/v25.0/me?access_token={t}"))
            .await
            .status,
        200,
        "fault count exhausted"
    );
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "latency", "ms": 300}),
    )
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        get(&c, &format!("{base}/v25.0/me?access_token={t}"))
            .await
            .status,
        200
    );
    assert!(started.elapsed().as_millis() >= 300);
    post_json(
        &c,
        &format!("{base}/_sandbox/faults"),
        &json!({"path": "/me", "kind": "error", "code": 1, "count": 5}),
    )
    .await;
    let del = c
        .delete(format!("{base}/_sandbox/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_eq!(
        get(&c, &format!("{base}/v25.0/me?access_token={t}"))
            .await
            .status,
        200
    );

    // Requests are logged with tokens redacted.
    let log = get(&c, &format!("{base}/_sandbox/received/requests")).await;
    let text = log.json.to_string();
    assert!(!text.contains(&t), "tokens never appear in the request log");
    assert!(text.contains("access_token=REDACTED"));
    sb.shutdown().await;
}

#[tokio::test]
async fn control_api_is_off_by_default() {
    let sb = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let c = client();
    let r = c
        .get(format!("{}/_sandbox/world", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    sb.shutdown().await;

    let sb = start().await;
    let w = get(&c, &format!("{}/_sandbox/world", sb.base_url())).await;
    assert_eq!(w.status, 200);
    assert_eq!(w.json["app_id"], json!("1234567890"));
    assert_eq!(w.json["users"].as_array().unwrap().len(), 2);
    let currencies: Vec<&str> = w.json["ad_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["currency"].as_str().unwrap())
        .collect();
    assert!(currencies.contains(&"USD") && currencies.contains(&"ARS"));
    assert!(
        !w.json["wabas"][0]["phone_number_ids"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    sb.shutdown().await;
}
