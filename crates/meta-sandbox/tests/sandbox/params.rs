//! Parameter spellings (JSON-encoded or comma lists, in queries, form and JSON bodies and batch
//! items), refusal of unmodelled insights options, and attribution windows.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::*;

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn account(sb: &meta_sandbox::Sandbox) -> String {
    sb.summary().ad_accounts[0].id.clone()
}

#[tokio::test]
async fn list_and_object_parameters_in_every_spelling() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = account(&sb);

    // Campaigns: comma lists in the query, JSON lists in the query, a form body and a JSON body.
    let comma = get(
        &c,
        &format!("{base}/v25.0/{act}/campaigns?fields=id,name,effective_status&effective_status=ACTIVE,PAUSED&access_token={t}"),
    )
    .await;
    assert_eq!(comma.status, 200, "{}", comma.json);
    assert!(!comma.json["data"].as_array().unwrap().is_empty());
    let json_query = get(
        &c,
        &format!(
            "{base}/v25.0/{act}/campaigns?fields={}&effective_status={}&access_token={t}",
            enc(r#"["id","name","effective_status"]"#),
            enc(r#"["ACTIVE","PAUSED"]"#)
        ),
    )
    .await;
    assert_eq!(json_query.json, comma.json);
    let form = post_form(
        &c,
        &format!("{base}/v25.0/{act}/campaigns"),
        &[
            ("method", "GET"),
            ("access_token", &t),
            ("fields", r#"["id","name","effective_status"]"#),
            ("effective_status", r#"["ACTIVE","PAUSED"]"#),
        ],
    )
    .await;
    assert_eq!(form.json, comma.json);
    let body = post_json(
        &c,
        &format!("{base}/v25.0/{act}/campaigns?access_token={t}"),
        &json!({"method": "GET", "fields": ["id", "name", "effective_status"], "effective_status": ["ACTIVE", "PAUSED"]}),
    )
    .await;
    assert_eq!(body.json, comma.json);

    // Insights: `fields` as a JSON array, `time_range` as JSON, `summary`-style booleans.
    let plain = get(
        &c,
        &format!("{base}/v25.0/{act}/insights?fields=spend,impressions&level=campaign&time_range={}&access_token={t}",
            enc(r#"{"since":"2026-03-01","until":"2026-03-10"}"#)),
    )
    .await;
    assert_eq!(plain.status, 200, "{}", plain.json);
    let jsonish = get(
        &c,
        &format!("{base}/v25.0/{act}/insights?fields={}&level=campaign&time_range={}&breakdowns=%5B%5D&use_unified_attribution_setting=true&access_token={t}",
            enc(r#"["spend","impressions"]"#),
            enc(r#"{"until":"2026-03-10","since":"2026-03-01"}"#)),
    )
    .await;
    assert_eq!(jsonish.json, plain.json);

    // Batch items: JSON-encoded lists in relative_url and in a POST body (an async report run).
    let batch = json!([
        {"method": "GET", "relative_url": format!("{act}/insights?fields={}&level=campaign&time_range={}",
            enc(r#"["spend","impressions"]"#), enc(r#"{"since":"2026-03-01","until":"2026-03-10"}"#))},
        {"method": "POST", "relative_url": format!("{act}/insights"),
         "body": format!("fields={}&date_preset=last_7d&action_attribution_windows={}",
            enc(r#"["spend","actions"]"#), enc(r#"["7d_click","1d_view"]"#))},
        {"method": "GET", "relative_url": format!("{act}/campaigns?fields={}&effective_status={}&limit=1",
            enc(r#"["name"]"#), enc(r#"["ACTIVE"]"#))},
    ]);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/"),
        &[("access_token", &t), ("batch", &batch.to_string())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let items = r.json.as_array().unwrap();
    for item in items {
        assert_eq!(item["code"], 200, "{item}");
    }
    let first: Value = serde_json::from_str(items[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(first, plain.json);
    let second: Value = serde_json::from_str(items[1]["body"].as_str().unwrap()).unwrap();
    assert!(second["report_run_id"].is_string(), "{second}");

    // Malformed JSON is an invalid parameter, not a syntax error in the field language.
    let bad = get(
        &c,
        &format!(
            "{base}/v25.0/{act}/campaigns?effective_status={}&access_token={t}",
            enc(r#"["ACTIVE""#)
        ),
    )
    .await;
    assert_eq!(assert_error(&bad), (100, None));
    sb.shutdown().await;
}

#[tokio::test]
async fn unmodelled_insights_options_are_refused() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = account(&sb);
    let refused = [
        ("sort", r#"["spend_descending"]"#),
        ("summary", r#"["spend"]"#),
        ("default_summary", "true"),
        ("export_format", "csv"),
        ("product_id_limit", "5"),
        ("breakdowns", r#"["age"]"#),
        ("action_breakdowns", r#"["action_device"]"#),
        ("action_attribution_windows", r#"["7d_view"]"#),
        ("action_attribution_windows", "dda"),
        ("action_report_time", "conversion"),
        ("use_unified_attribution_setting", "sometimes"),
    ];
    for (k, v) in refused {
        let url = format!(
            "{base}/v25.0/{act}/insights?fields=spend&{k}={}&access_token={t}",
            enc(v)
        );
        let r = get(&c, &url).await;
        assert_eq!(assert_error(&r), (100, None), "GET {k}={v}: {}", r.json);
        assert_eq!(r.json["error"]["type"], "OAuthException");
        let msg = r.json["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with("(#100)"), "{msg}");
        assert!(msg.contains(k) || msg.contains(v), "{k}: {msg}");
        // The async call validates the same way at submission.
        let r = post_form(
            &c,
            &format!("{base}/v25.0/{act}/insights"),
            &[("access_token", &t), ("fields", "spend"), (k, v)],
        )
        .await;
        assert_eq!(assert_error(&r), (100, None), "POST {k}={v}: {}", r.json);
    }

    // Modelled options are accepted.
    for (k, v) in [
        ("action_breakdowns", r#"["action_type"]"#),
        (
            "action_attribution_windows",
            "1d_view,1d_click,7d_click,28d_click",
        ),
        ("action_report_time", "impression"),
        ("use_account_attribution_setting", "false"),
        ("graph_cache", "false"),
        ("default_summary", "false"),
    ] {
        let r = get(
            &c,
            &format!(
                "{base}/v25.0/{act}/insights?fields=spend&{k}={}&access_token={t}",
                enc(v)
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{k}={v}: {}", r.json);
    }

    // A report run's query is fixed when it is created: its results take only paging and fields.
    let run = post_form(
        &c,
        &format!("{base}/v25.0/{act}/insights"),
        &[("access_token", &t), ("fields", r#"["spend"]"#)],
    )
    .await;
    let id = run.json["report_run_id"].as_str().unwrap().to_string();
    for _ in 0..4 {
        get(&c, &format!("{base}/v25.0/{id}?access_token={t}")).await;
    }
    let ok = get(
        &c,
        &format!("{base}/v25.0/{id}/insights?limit=5&access_token={t}"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let r = get(
        &c,
        &format!("{base}/v25.0/{id}/insights?level=ad&access_token={t}"),
    )
    .await;
    assert_eq!(assert_error(&r), (100, None), "{}", r.json);

    // Inside a batch the refusal is the item's answer.
    let batch = json!([{"method": "GET", "relative_url": format!("{act}/insights?fields=spend&sort=spend_descending")}]);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/"),
        &[("access_token", &t), ("batch", &batch.to_string())],
    )
    .await;
    let item = &r.json[0];
    assert_eq!(item["code"], 400, "{item}");
    let body: Value = serde_json::from_str(item["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], 100, "{body}");
    sb.shutdown().await;
}

/// (action type, window) -> count, summed over rows.
fn window_totals(rows: &[Value]) -> BTreeMap<(String, String), i64> {
    let mut out = BTreeMap::new();
    for row in rows {
        for a in row["actions"].as_array().into_iter().flatten() {
            let t = a["action_type"].as_str().unwrap().to_string();
            for w in ["value", "1d_view", "1d_click", "7d_click", "28d_click"] {
                if let Some(v) = a[w].as_str() {
                    *out.entry((t.clone(), w.to_string())).or_default() +=
                        v.parse::<i64>().unwrap();
                }
            }
        }
    }
    out
}

async fn rows(c: &reqwest::Client, first: String) -> Vec<Value> {
    let mut out = vec![];
    let mut url = first;
    loop {
        let r = get(c, &url).await;
        assert_eq!(r.status, 200, "{}", r.json);
        out.extend(r.json["data"].as_array().unwrap().iter().cloned());
        match r.json["paging"]["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => return out,
        }
    }
}

#[tokio::test]
async fn attribution_windows_are_modelled_and_reconcile() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = account(&sb);
    let windows = enc(r#"["1d_view","1d_click","7d_click","28d_click"]"#);
    let q = |level: &str, inc: &str, extra: &str| {
        format!(
            "{base}/v25.0/{act}/insights?fields=actions,cost_per_action_type,spend&level={level}&time_increment={inc}&date_preset=last_30d&limit=50&access_token={t}{extra}"
        )
    };
    let account_rows = rows(
        &c,
        q(
            "account",
            "all_days",
            &format!("&action_attribution_windows={windows}"),
        ),
    )
    .await;
    let campaign_days = rows(
        &c,
        q(
            "campaign",
            "1",
            &format!("&action_attribution_windows={windows}"),
        ),
    )
    .await;
    let ad_days = rows(
        &c,
        q("ad", "1", &format!("&action_attribution_windows={windows}")),
    )
    .await;
    let acct = window_totals(&account_rows);
    assert!(
        acct.contains_key(&("lead".to_string(), "28d_click".to_string())),
        "{acct:?}"
    );
    assert_eq!(
        acct,
        window_totals(&campaign_days),
        "account = sum of campaign-days"
    );
    assert_eq!(acct, window_totals(&ad_days), "account = sum of ad-days");
    for row in &ad_days {
        for a in row["actions"].as_array().into_iter().flatten() {
            let n = |k: &str| a[k].as_str().unwrap().parse::<i64>().unwrap();
            assert_eq!(
                a["value"], a["7d_click"],
                "value is the 7-day click figure: {a}"
            );
            assert!(
                n("1d_click") <= n("7d_click") && n("7d_click") <= n("28d_click"),
                "{a}"
            );
            if matches!(
                a["action_type"].as_str(),
                Some("link_click" | "page_engagement")
            ) {
                assert_eq!(n("1d_view"), 0, "clicks have no view-through: {a}");
            }
        }
        for cost in row["cost_per_action_type"].as_array().into_iter().flatten() {
            assert!(
                cost["value"].is_string() && cost["28d_click"].is_string(),
                "{cost}"
            );
        }
    }
    // Without windows the entries carry only `value`, with the same figures.
    let plain = rows(&c, q("account", "all_days", "")).await;
    for a in plain[0]["actions"].as_array().unwrap() {
        assert_eq!(a.as_object().unwrap().len(), 2, "{a}");
    }
    let plain_totals = window_totals(&plain);
    for ((t, w), v) in &plain_totals {
        assert_eq!(acct.get(&(t.clone(), w.clone())), Some(v));
    }
    // The sandbox's ad sets use 7-day click attribution: the unified setting changes nothing.
    let unified = rows(
        &c,
        q(
            "account",
            "all_days",
            "&use_unified_attribution_setting=true",
        ),
    )
    .await;
    assert_eq!(unified, plain);
    sb.shutdown().await;
}
