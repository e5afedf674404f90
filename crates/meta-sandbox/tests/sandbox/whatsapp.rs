use serde_json::{Value, json};

use crate::common::*;

struct Wa {
    waba: String,
    phone: String,
}

fn ids(sb: &meta_sandbox::Sandbox) -> Wa {
    let s = sb.summary();
    Wa {
        waba: s.wabas[0].id.clone(),
        phone: s.wabas[0].phone_number_ids[0].clone(),
    }
}

async fn send(c: &reqwest::Client, base: &str, phone: &str, t: &str, body: Value) -> Resp {
    let r = c
        .post(format!("{base}/v25.0/{phone}/messages"))
        .bearer_auth(t)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Resp {
        status,
        headers,
        json: r.json().await.unwrap(),
    }
}

fn wa_code(r: &Resp) -> i64 {
    let (code, _) = assert_error(r);
    assert_eq!(
        r.json["error"]["error_data"]["messaging_product"],
        json!("whatsapp"),
        "{}",
        r.json
    );
    assert!(r.json["error"]["error_data"]["details"].is_string());
    code
}

#[tokio::test]
async fn templates_lifecycle_with_webhooks() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let w = ids(&sb);
    let rx = receiver("v", 0).await;
    hook(&c, &sb, &rx, true).await;
    let r = post_form(
        &c,
        &format!("{base}/v25.0/{}/subscribed_apps", w.waba),
        &[("access_token", &t)],
    )
    .await;
    assert_eq!(r.json["success"], json!(true));

    let list = get(&c, &format!("{base}/v25.0/{}/message_templates?fields=id,name,language,status,category,components&limit=2&access_token={t}", w.waba)).await;
    assert_eq!(list.status, 200, "{}", list.json);
    assert_eq!(list.json["data"].as_array().unwrap().len(), 2);
    assert!(list.json["paging"]["next"].is_string());
    let approved = get(
        &c,
        &format!(
            "{base}/v25.0/{}/message_templates?status=APPROVED&access_token={t}",
            w.waba
        ),
    )
    .await;
    assert!(
        approved.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["status"] == json!("APPROVED"))
    );

    let url = format!("{base}/v25.0/{}/message_templates", w.waba);
    let create = |body: Value| {
        let c = c.clone();
        let url = url.clone();
        let t = t.clone();
        async move {
            let r = c
                .post(&url)
                .bearer_auth(&t)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let h = r.headers().clone();
            Resp {
                status: s,
                headers: h,
                json: r.json().await.unwrap(),
            }
        }
    };
    let body = |name: &str, text: &str, example: Value| json!({"name": name, "language": "es_AR", "category": "MARKETING", "components": [{"type": "BODY", "text": text, "example": example}]});
    // Name format, missing examples, variables at the edges, bad category.
    assert_eq!(
        assert_error(
            &create(body(
                "Promo Verano",
                "Hola {{1}}, promo.",
                json!({"body_text": [["Ana"]]})
            ))
            .await
        )
        .0,
        100
    );
    assert_eq!(assert_error(&create(json!({"name": "x1", "language": "es", "category": "MARKETING", "components": [{"type": "BODY", "text": "Hola {{1}}, promo."}]})).await).0, 100);
    let edge = create(body(
        "promo_borde",
        "{{1}} tenés promo",
        json!({"body_text": [["Ana"]]}),
    ))
    .await;
    assert_eq!(assert_error(&edge), (100, Some(2388299)));
    assert_eq!(assert_error(&create(json!({"name": "x2", "language": "es", "category": "PROMO", "components": [{"type": "BODY", "text": "Hola"}]})).await).0, 100);
    assert_eq!(
        assert_error(
            &create(body(
                "x3",
                "Hola {{1}} y {{3}}, promo.",
                json!({"body_text": [["a", "b"]]})
            ))
            .await
        )
        .0,
        100
    );

    let ok = create(body(
        "promo_verano",
        "Hola {{1}}, tu descuento es {{2}}. ¡Aprovechalo!",
        json!({"body_text": [["Ana", "20%"]]}),
    ))
    .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["status"], json!("PENDING"));
    assert_eq!(ok.json["category"], json!("MARKETING"));
    let tid = ok.json["id"].as_str().unwrap().to_string();
    let dup = create(body(
        "promo_verano",
        "Otra {{1}} cosa.",
        json!({"body_text": [["x"]]}),
    ))
    .await;
    assert_eq!(assert_error(&dup), (100, Some(2388024)));

    // Sending a PENDING template fails with 132001.
    let send_body = json!({"messaging_product": "whatsapp", "to": "5491155550101", "type": "template", "template": {"name": "promo_verano", "language": {"code": "es_AR"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "20%"}]}]}});
    assert_eq!(
        wa_code(&send(&c, &base, &w.phone, &t, send_body.clone()).await),
        132001
    );

    // Review on command: APPROVED, with the status webhook.
    let r = post_json(
        &c,
        &format!("{base}/_sandbox/templates/{tid}/review"),
        &json!({"status": "APPROVED"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let bodies = rx
        .wait_for("template approved", |b| {
            b.iter().any(|x| {
                x["entry"][0]["changes"][0]["field"] == json!("message_template_status_update")
            })
        })
        .await;
    let v = bodies
        .iter()
        .find(|x| x["entry"][0]["changes"][0]["field"] == json!("message_template_status_update"))
        .unwrap();
    let val = &v["entry"][0]["changes"][0]["value"];
    assert_eq!(val["event"], json!("APPROVED"));
    assert_eq!(val["message_template_name"], json!("promo_verano"));
    assert_eq!(val["message_template_id"].to_string(), tid);
    assert_eq!(v["entry"][0]["id"], json!(w.waba));
    assert_eq!(
        send(&c, &base, &w.phone, &t, send_body.clone())
            .await
            .status,
        200
    );

    // Quality and category changes emit their webhooks.
    post_json(
        &c,
        &format!("{base}/_sandbox/templates/{tid}/quality"),
        &json!({"score": "RED"}),
    )
    .await;
    post_json(
        &c,
        &format!("{base}/_sandbox/templates/{tid}/category"),
        &json!({"category": "UTILITY"}),
    )
    .await;
    rx.wait_for("quality+category", |b| {
        b.iter().any(|x| {
            x["entry"][0]["changes"][0]["field"] == json!("message_template_quality_update")
                && x["entry"][0]["changes"][0]["value"]["new_quality_score"] == json!("RED")
        }) && b.iter().any(|x| {
            x["entry"][0]["changes"][0]["field"] == json!("template_category_update")
                && x["entry"][0]["changes"][0]["value"]["new_category"] == json!("UTILITY")
        })
    })
    .await;

    // Paused and disabled templates are refused with their codes.
    post_json(
        &c,
        &format!("{base}/_sandbox/templates/{tid}/review"),
        &json!({"status": "PAUSED"}),
    )
    .await;
    assert_eq!(
        wa_code(&send(&c, &base, &w.phone, &t, send_body.clone()).await),
        132015
    );
    post_json(
        &c,
        &format!("{base}/_sandbox/templates/{tid}/review"),
        &json!({"status": "REJECTED", "reason": "PROMOTIONAL"}),
    )
    .await;
    let node = get(
        &c,
        &format!("{base}/v25.0/{tid}?fields=status,rejected_reason&access_token={t}"),
    )
    .await;
    assert_eq!(node.json["status"], json!("REJECTED"));
    assert_eq!(node.json["rejected_reason"], json!("PROMOTIONAL"));

    // Edit goes back to review; delete by name.
    let edit = c.post(format!("{base}/v25.0/{tid}")).bearer_auth(&t).json(&json!({"components": [{"type": "BODY", "text": "Hola {{1}}, nueva promo {{2}} para vos.", "example": {"body_text": [["Ana", "10%"]]}}]})).send().await.unwrap();
    assert_eq!(edit.status(), 200);
    let node = get(
        &c,
        &format!("{base}/v25.0/{tid}?fields=status&access_token={t}"),
    )
    .await;
    assert_eq!(node.json["status"], json!("PENDING"));
    let del = c
        .delete(format!(
            "{base}/v25.0/{}/message_templates?name=promo_verano",
            w.waba
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/{tid}?access_token={t}")).await),
        (100, Some(33))
    );
    let del = c
        .delete(format!(
            "{base}/v25.0/{}/message_templates?name=promo_verano",
            w.waba
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn automatic_review_after_delay() {
    let sb = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        enable_control: true,
        template_review_delay: Some(std::time::Duration::from_millis(50)),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let w = ids(&sb);
    let mk = |name: &str| json!({"name": name, "language": "en_US", "category": "UTILITY", "components": [{"type": "BODY", "text": "Your order {{1}} shipped today.", "example": {"body_text": [["#123"]]}}]});
    let a = c
        .post(format!("{base}/v25.0/{}/message_templates", w.waba))
        .bearer_auth(&t)
        .json(&mk("order_shipped"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let b = c
        .post(format!("{base}/v25.0/{}/message_templates", w.waba))
        .bearer_auth(&t)
        .json(&mk("reject_me"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let a_url = format!(
        "{base}/v25.0/{}?fields=status&access_token={t}",
        a["id"].as_str().unwrap()
    );
    let b_url = format!(
        "{base}/v25.0/{}?fields=status,rejected_reason&access_token={t}",
        b["id"].as_str().unwrap()
    );
    // Reviewed within a few polls (the delay is 50 ms); give a loaded machine some slack.
    let mut done = (json!(null), json!(null));
    for _ in 0..100 {
        done = (
            get(&c, &a_url).await.json["status"].clone(),
            get(&c, &b_url).await.json["status"].clone(),
        );
        if done.0 != json!("PENDING") && done.1 != json!("PENDING") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done.0, json!("APPROVED"));
    assert_eq!(done.1, json!("REJECTED"));
    sb.shutdown().await;
}

#[tokio::test]
async fn sending_rules_statuses_and_inbound() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let w = ids(&sb);
    let rx = receiver("v", 0).await;
    hook(&c, &sb, &rx, false).await;
    let to = "5491177770001";

    let tpl = |name: &str, params: Vec<&str>| {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": format!("+{to}"), "type": "template",
               "biz_opaque_callback_data": "crm-msg-42",
               "template": {"name": name, "language": {"code": "es"}, "components": [{"type": "body", "parameters": params.iter().map(|p| json!({"type": "text", "text": p})).collect::<Vec<_>>()}]}})
    };
    assert_eq!(
        wa_code(&send(&c, &base, &w.phone, &t, tpl("no_existe", vec![])).await),
        132001
    );
    assert_eq!(
        wa_code(&send(&c, &base, &w.phone, &t, tpl("bienvenida", vec![])).await),
        132000
    );
    assert_eq!(
        wa_code(
            &send(
                &c,
                &base,
                &w.phone,
                &t,
                tpl("bienvenida", vec!["Ana", "extra"])
            )
            .await
        ),
        132000
    );
    let bad_product = send(
        &c,
        &base,
        &w.phone,
        &t,
        json!({"to": to, "type": "text", "text": {"body": "hola"}}),
    )
    .await;
    assert_eq!(assert_error(&bad_product).0, 100);

    let ok = send(&c, &base, &w.phone, &t, tpl("bienvenida", vec!["Ana"])).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(ok.json["messaging_product"], json!("whatsapp"));
    assert_eq!(ok.json["contacts"][0]["wa_id"], json!(to));
    assert_eq!(ok.json["contacts"][0]["input"], json!(format!("+{to}")));
    let wamid = ok.json["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."));

    // Statuses sent -> delivered -> read, echoing biz_opaque_callback_data.
    let bodies = rx
        .wait_for("statuses", |b| {
            b.iter().filter(|x| x.to_string().contains(&wamid)).count() >= 3
        })
        .await;
    let statuses: Vec<Value> = bodies
        .iter()
        .filter(|x| x.to_string().contains(&wamid))
        .map(|x| x["entry"][0]["changes"][0]["value"]["statuses"][0].clone())
        .collect();
    let names: Vec<&str> = statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["sent", "delivered", "read"]);
    assert!(
        statuses
            .iter()
            .all(|s| s["biz_opaque_callback_data"] == json!("crm-msg-42")
                && s["recipient_id"] == json!(to)
                && s["timestamp"].is_string())
    );
    assert_eq!(statuses[0]["pricing"]["pricing_model"], json!("PMP"));
    assert_eq!(statuses[0]["pricing"]["category"], json!("utility"));
    let meta = &bodies
        .iter()
        .find(|x| x.to_string().contains(&wamid))
        .unwrap()["entry"][0]["changes"][0]["value"]["metadata"];
    assert_eq!(meta["phone_number_id"], json!(w.phone));
    assert!(rx.hits().iter().all(|h| signature_ok(sb.app_secret(), h)));

    // Free-form text outside the 24 h window: 131047. After the person writes in, it works.
    let text = json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "¿Seguís interesado?"}});
    assert_eq!(
        wa_code(&send(&c, &base, &w.phone, &t, text.clone()).await),
        131047
    );
    let ad_id = sb.summary().ad_accounts[0].sample_ad_ids[0].clone();
    let inbound = post_json(&c, &format!("{base}/_sandbox/inbound"), &json!({"from": to, "name": "Ana Pérez", "text": "Hola, vi el anuncio", "phone_number_id": w.phone, "referral": {"ad_id": ad_id}, "user_id": "AR.1234567890"})).await;
    assert_eq!(inbound.status, 200, "{}", inbound.json);
    let bodies = rx
        .wait_for("inbound", |b| {
            b.iter()
                .any(|x| x["entry"][0]["changes"][0]["value"]["messages"].is_array())
        })
        .await;
    let msg = bodies
        .iter()
        .find(|x| x["entry"][0]["changes"][0]["value"]["messages"].is_array())
        .unwrap();
    let value = &msg["entry"][0]["changes"][0]["value"];
    assert_eq!(value["contacts"][0]["profile"]["name"], json!("Ana Pérez"));
    assert_eq!(value["contacts"][0]["user_id"], json!("AR.1234567890"));
    let m = &value["messages"][0];
    assert_eq!(m["from"], json!(to));
    assert_eq!(m["text"]["body"], json!("Hola, vi el anuncio"));
    let ad = sb.world().ads.iter().find(|a| a.id == ad_id).unwrap();
    assert_eq!(m["referral"]["source_id"], json!(ad_id));
    assert_eq!(m["referral"]["source_type"], json!("ad"));
    assert_eq!(m["referral"]["headline"], json!(ad.creative.title));
    assert_eq!(m["referral"]["body"], json!(ad.creative.body));
    assert!(
        m["referral"]["ctwa_clid"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(
        send(&c, &base, &w.phone, &t, text.clone()).await.status,
        200
    );

    // Opt-out: marketing refused with 131050, utility still allowed; resume lifts it.
    let pref = post_json(
        &c,
        &format!("{base}/_sandbox/user-preferences"),
        &json!({"from": to, "value": "stop"}),
    )
    .await;
    assert_eq!(pref.status, 200);
    rx.wait_for("user_preferences", |b| {
        b.iter()
            .any(|x| x["entry"][0]["changes"][0]["field"] == json!("user_preferences"))
    })
    .await;
    assert_eq!(
        wa_code(
            &send(
                &c,
                &base,
                &w.phone,
                &t,
                tpl("promo_mes", vec!["Ana", "30%"])
            )
            .await
        ),
        131050
    );
    assert_eq!(
        send(&c, &base, &w.phone, &t, tpl("bienvenida", vec!["Ana"]))
            .await
            .status,
        200
    );
    post_json(
        &c,
        &format!("{base}/_sandbox/user-preferences"),
        &json!({"from": to, "value": "resume"}),
    )
    .await;
    assert_eq!(
        send(
            &c,
            &base,
            &w.phone,
            &t,
            tpl("promo_mes", vec!["Ana", "30%"])
        )
        .await
        .status,
        200
    );

    // Pair rate: too many to one person.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"pair_messages_per_minute": 5}),
    )
    .await;
    let mut pair_code = 0;
    for _ in 0..6 {
        let r = send(&c, &base, &w.phone, &t, tpl("bienvenida", vec!["Ana"])).await;
        if r.status != 200 {
            pair_code = wa_code(&r);
            break;
        }
    }
    assert_eq!(pair_code, 131056);

    // Throughput per number: 130429 past the per-second limit.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"messages_per_second": 3, "pair_messages_per_minute": 1000}),
    )
    .await;
    let mut codes = vec![];
    for i in 0..30 {
        if codes.contains(&130429) {
            break;
        }
        let mut b = tpl("bienvenida", vec!["Ana"]);
        b["to"] = json!(format!("54911888800{i:02}"));
        let r = send(&c, &base, &w.phone, &t, b).await;
        codes.push(if r.status == 200 { 200 } else { wa_code(&r) });
    }
    assert!(codes.contains(&130429), "{codes:?}");

    // Recorded messages.
    let rec = get(&c, &format!("{base}/_sandbox/received/messages")).await;
    assert!(
        rec.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == json!(wamid) && m["template_name"] == json!("bienvenida"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn failed_and_out_of_order_statuses() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let w = ids(&sb);
    let rx = receiver("v", 0).await;
    hook(&c, &sb, &rx, false).await;
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"status_mode": "duplicate"}),
    )
    .await;
    let body = |to: &str| json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}});
    let ok = send(&c, &base, &w.phone, &t, body("5491166660001")).await;
    let id = ok.json["messages"][0]["id"].as_str().unwrap().to_string();
    let bodies = rx
        .wait_for("duplicates", |b| {
            b.iter().filter(|x| x.to_string().contains(&id)).count() >= 6
        })
        .await;
    assert_eq!(
        bodies
            .iter()
            .filter(|x| x.to_string().contains(&id))
            .count(),
        6,
        "each status delivered twice"
    );

    // Numbers ending in 0000 fail with an error object.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"status_mode": "ordered"}),
    )
    .await;
    let bad = send(&c, &base, &w.phone, &t, body("5491166660000")).await;
    assert_eq!(bad.status, 200);
    let id = bad.json["messages"][0]["id"].as_str().unwrap().to_string();
    let bodies = rx
        .wait_for("failed", |b| b.iter().any(|x| x.to_string().contains(&id)))
        .await;
    let st = &bodies.iter().find(|x| x.to_string().contains(&id)).unwrap()["entry"][0]["changes"]
        [0]["value"]["statuses"][0];
    assert_eq!(st["status"], json!("failed"));
    assert_eq!(st["errors"][0]["code"], json!(131026));
    assert!(st["errors"][0]["error_data"]["details"].is_string());

    // Async policy errors: 131047 arrives as a failed status instead of a synchronous error.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"async_policy_errors": true}),
    )
    .await;
    let r = send(&c, &base, &w.phone, &t, json!({"messaging_product": "whatsapp", "to": "5491166660002", "type": "text", "text": {"body": "hola"}})).await;
    assert_eq!(r.status, 200);
    let id = r.json["messages"][0]["id"].as_str().unwrap().to_string();
    let bodies = rx
        .wait_for("131047 status", |b| {
            b.iter().any(|x| x.to_string().contains(&id))
        })
        .await;
    let st = &bodies.iter().find(|x| x.to_string().contains(&id)).unwrap()["entry"][0]["changes"]
        [0]["value"]["statuses"][0];
    assert_eq!(st["errors"][0]["code"], json!(131047));

    // Shuffled mode: read arrives before delivered.
    post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"status_mode": "shuffled"}),
    )
    .await;
    let r = send(&c, &base, &w.phone, &t, body("5491166660003")).await;
    let id = r.json["messages"][0]["id"].as_str().unwrap().to_string();
    let bodies = rx
        .wait_for("shuffled", |b| {
            b.iter().filter(|x| x.to_string().contains(&id)).count() >= 3
        })
        .await;
    let order: Vec<String> = bodies
        .iter()
        .filter(|x| x.to_string().contains(&id))
        .map(|x| {
            x["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(order, vec!["sent", "read", "delivered"]);
    sb.shutdown().await;
}

#[tokio::test]
async fn named_parameter_templates() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let w = ids(&sb);
    let create = c
        .post(format!("{base}/v25.0/{}/message_templates", w.waba))
        .bearer_auth(&t)
        .json(&json!({"name": "pedido_listo", "language": "es", "category": "UTILITY", "parameter_format": "NAMED",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Pedido {{numero}}", "example": {"header_text_named_params": [{"param_name": "numero", "example": "A-1"}]}},
                {"type": "BODY", "text": "Hola {{nombre}}, tu pedido está listo para retirar.", "example": {"body_text_named_params": [{"param_name": "nombre", "example": "Ana"}]}},
                {"type": "FOOTER", "text": "Ventas Sandbox"},
                {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Gracias"}, {"type": "URL", "text": "Ver pedido", "url": "https://example.com/p/{{1}}", "example": ["https://example.com/p/A-1"]}]}
            ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 200);
    let id = create.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    post_json(
        &c,
        &format!("{base}/_sandbox/templates/{id}/review"),
        &json!({"status": "APPROVED"}),
    )
    .await;
    // An inbound message opens the window so only template checks matter.
    let to = "5491133330001";
    let msg = |body_params: Value| {
        json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "pedido_listo", "language": {"code": "es"}, "components": [
            {"type": "header", "parameters": [{"type": "text", "parameter_name": "numero", "text": "A-9"}]},
            {"type": "body", "parameters": body_params}]}})
    };
    let ok = send(
        &c,
        &base,
        &w.phone,
        &t,
        msg(json!([{"type": "text", "parameter_name": "nombre", "text": "Ana"}])),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let positional = send(
        &c,
        &base,
        &w.phone,
        &t,
        msg(json!([{"type": "text", "text": "Ana"}])),
    )
    .await;
    assert_eq!(wa_code(&positional), 132012);
    let missing = send(&c, &base, &w.phone, &t, msg(json!([]))).await;
    assert_eq!(wa_code(&missing), 132000);
    // Named variables need named examples.
    let bad = c
        .post(format!("{base}/v25.0/{}/message_templates", w.waba))
        .bearer_auth(&t)
        .json(&json!({"name": "sin_ejemplo", "language": "es", "category": "UTILITY", "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hola {{nombre}}, listo."}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sb.shutdown().await;
}
