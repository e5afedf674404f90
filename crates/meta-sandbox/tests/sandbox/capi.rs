use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn conversions_api_validates_and_records() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let dataset = sb.summary().datasets[0].id.clone();
    let now = chrono::Utc::now().timestamp();
    let url = format!("{base}/v25.0/{dataset}/events?access_token={t}");

    let good = json!({"data": [
        {"event_name": "qualified_lead", "event_time": now - 60, "action_source": "system_generated",
         "user_data": {"lead_id": "1234567890123456", "em": ["a".repeat(64)]},
         "custom_data": {"event_source": "crm", "lead_event_source": "CRM Ventas"}},
        {"event_name": "Purchase", "event_time": now, "action_source": "business_messaging", "messaging_channel": "whatsapp",
         "user_data": {"ctwa_clid": "ARAkSbx123"}, "custom_data": {"currency": "USD", "value": 120.5}}
    ], "test_event_code": "TEST123"});
    let r = post_json(&c, &url, &good).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["events_received"], json!(2));
    assert!(r.json["messages"].is_array());
    assert!(r.json["fbtrace_id"].is_string());

    // Form-encoded `data` works too.
    let one = json!([{"event_name": "converted", "event_time": now, "action_source": "system_generated", "user_data": {"lead_id": 123456789012345u64}}]);
    let r = post_form(
        &c,
        &format!("{base}/v25.0/{dataset}/events"),
        &[("access_token", &t), ("data", &one.to_string())],
    )
    .await;
    assert_eq!(r.json["events_received"], json!(1), "{}", r.json);

    let cases = [
        json!({"event_name": "x", "event_time": now - 8 * 86400, "action_source": "system_generated", "user_data": {"lead_id": "1234567890123456"}}),
        json!({"event_name": "x", "event_time": now, "action_source": "system_generated", "user_data": {}}),
        json!({"event_name": "x", "event_time": now, "user_data": {"lead_id": "1234567890123456"}}),
        json!({"event_name": "x", "event_time": now, "action_source": "business_messaging", "user_data": {"ctwa_clid": "c"}}),
        json!({"event_name": "x", "event_time": now, "action_source": "system_generated", "user_data": {"lead_id": "1234567890123456", "em": "ana@example.com"}}),
        json!({"event_name": "x", "event_time": now, "action_source": "system_generated", "user_data": {"lead_id": "12345"}}),
    ];
    for (i, e) in cases.iter().enumerate() {
        let r = post_json(&c, &url, &json!({"data": [e]})).await;
        assert_eq!(assert_error(&r).0, 100, "case {i}: {}", r.json);
        assert!(r.json["error"]["error_user_msg"].is_string());
    }

    let rec = get(&c, &format!("{base}/_sandbox/received/capi")).await;
    let batches = rec.json["data"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "rejected requests are not recorded");
    assert_eq!(batches[0]["dataset_id"], json!(dataset));
    assert_eq!(batches[0]["test_event_code"], json!("TEST123"));
    assert_eq!(
        batches[0]["events"][0]["user_data"]["lead_id"],
        json!("1234567890123456")
    );
    sb.shutdown().await;
}
