use serde_json::json;

use crate::common::*;

/// Pulls `name="..." value="..."` pairs of hidden inputs out of the consent page.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let name = part
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        let value = part
            .split("value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        out.push((
            name.to_string(),
            value
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&#39;", "'"),
        ));
    }
    out
}

fn form_action(html: &str) -> String {
    html.split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    u.query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn consent(
    c: &reqwest::Client,
    base: &str,
    redirect: &str,
    action: &str,
    user_id: &str,
) -> String {
    let dialog = format!(
        "{base}/v25.0/dialog/oauth?client_id=1234567890&redirect_uri={}&state=st-123&response_type=code&scope=ads_read,business_management,leads_retrieval,pages_show_list,whatsapp_business_management",
        urlencode(redirect)
    );
    let page = c.get(&dialog).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("META SANDBOX"),
        "the dialog says it is the sandbox"
    );
    assert!(html.contains(">Continue<") && html.contains(">Cancel<"));
    assert_eq!(
        html.matches("name=\"user_id\"").count(),
        2,
        "account picker lists both sandbox users"
    );
    let mut form = hidden_inputs(&html);
    form.push(("user_id".into(), user_id.into()));
    form.push(("action".into(), action.into()));
    let r = c
        .post(format!("{base}{}", form_action(&html)))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "consent redirects back");
    r.headers()["location"].to_str().unwrap().to_string()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn full_oauth_dance_without_cookies() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let redirect = "http://127.0.0.1:9/api/crm/auth/meta/callback";
    let second_user = sb.world().users[1].id.clone();

    let location = consent(&c, &base, redirect, "continue", &second_user).await;
    assert!(location.starts_with(redirect));
    let q = query_of(&location);
    assert_eq!(q["state"], "st-123");
    let code = q["code"].clone();

    // Exchange the code (redirect_uri must match byte for byte).
    let ex = |code: String, redirect: String| {
        let c = c.clone();
        let base = base.clone();
        async move {
            get(&c, &format!(
                "{base}/v25.0/oauth/access_token?client_id=1234567890&client_secret=sandbox-app-secret&redirect_uri={}&code={code}",
                urlencode(&redirect)
            ))
            .await
        }
    };
    let tok = ex(code.clone(), redirect.to_string()).await;
    assert_eq!(tok.status, 200, "{}", tok.json);
    assert_eq!(tok.json["token_type"], json!("bearer"));
    let short = tok.json["access_token"].as_str().unwrap().to_string();
    let short_exp = tok.json["expires_in"].as_i64().unwrap();
    assert!(
        (3600..=7200).contains(&short_exp),
        "short-lived token lasts 1-2 h"
    );

    // The same code cannot be used twice.
    let again = ex(code, redirect.to_string()).await;
    assert_eq!(assert_error(&again), (100, Some(36009)));

    // A fresh code with a different redirect_uri (one trailing slash) is refused.
    let loc2 = consent(&c, &base, redirect, "continue", &second_user).await;
    let code2 = query_of(&loc2)["code"].clone();
    let mismatch = ex(code2, format!("{redirect}/")).await;
    assert_eq!(assert_error(&mismatch), (100, Some(36008)));

    // Wrong client secret.
    let bad = get(&c, &format!("{base}/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id=1234567890&client_secret=nope&fb_exchange_token={short}")).await;
    assert_eq!(assert_error(&bad).0, 1);

    // Long-lived exchange: about 60 days.
    let long = get(&c, &format!("{base}/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id=1234567890&client_secret=sandbox-app-secret&fb_exchange_token={short}")).await;
    assert_eq!(long.status, 200, "{}", long.json);
    let lt = long.json["access_token"].as_str().unwrap().to_string();
    let exp = long.json["expires_in"].as_i64().unwrap();
    assert!((59 * 86400..=61 * 86400).contains(&exp));

    // debug_token with the app token.
    let app_token = sb.app_token();
    let dbg = get(
        &c,
        &format!(
            "{base}/v25.0/debug_token?input_token={lt}&access_token={}",
            urlencode(&app_token)
        ),
    )
    .await;
    assert_eq!(dbg.status, 200, "{}", dbg.json);
    let d = &dbg.json["data"];
    assert_eq!(d["is_valid"], json!(true));
    assert_eq!(d["app_id"], json!("1234567890"));
    assert_eq!(d["type"], json!("USER"));
    assert_eq!(d["user_id"], json!(second_user));
    let now = chrono::Utc::now().timestamp();
    let expires_at = d["expires_at"].as_i64().unwrap();
    assert!((expires_at - now - exp).abs() < 10);
    let scopes: Vec<&str> = d["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"ads_read") && scopes.contains(&"leads_retrieval"));
    let ads = d["granular_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["scope"] == json!("ads_read"))
        .unwrap();
    let targets: Vec<&str> = ads["target_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // Bruno belongs to the agency business: its owned account plus the client account.
    assert!(!targets.is_empty());
    let me = get(&c, &format!("{base}/v25.0/me?access_token={lt}")).await;
    assert_eq!(me.json["name"], json!("Bruno Sandbox"));
    let accts = get(
        &c,
        &format!("{base}/v25.0/me/adaccounts?fields=account_id&access_token={lt}"),
    )
    .await;
    let mut seen: Vec<String> = accts.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_id"].as_str().unwrap().to_string())
        .collect();
    let mut t2: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
    seen.sort();
    t2.sort();
    assert_eq!(
        seen, t2,
        "granular target_ids are the accounts the token can reach"
    );

    // Cancel redirects with access_denied and the state.
    let cancel = consent(&c, &base, redirect, "cancel", &second_user).await;
    let q = query_of(&cancel);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_reason"], "user_denied");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));

    // Unknown scopes are refused on the dialog page, as Meta shows "Invalid Scopes".
    let bad_scope = c
        .get(format!(
            "{base}/v25.0/dialog/oauth?client_id=1234567890&redirect_uri={}&scope=ads_read,fly_to_moon",
            urlencode(redirect)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_scope.status(), 400);
    assert!(bad_scope.text().await.unwrap().contains("fly_to_moon"));

    // A wrong client_id shows an error page instead of the consent form.
    let wrong = c
        .get(format!(
            "{base}/v25.0/dialog/oauth?client_id=42&redirect_uri={}",
            urlencode(redirect)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("Invalid App ID"));
    sb.shutdown().await;
}

#[tokio::test]
async fn expiry_invalidation_permissions_and_revocation() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let t1 = token(&sb);
    let t2 = token(&sb);
    let t3 = token(&sb);

    let perms = get(
        &c,
        &format!("{base}/v25.0/me/permissions?access_token={t1}"),
    )
    .await;
    let list = perms.json["data"].as_array().unwrap();
    assert!(
        list.iter()
            .any(|p| p["permission"] == json!("ads_read") && p["status"] == json!("granted"))
    );

    let r = post_json(
        &c,
        &format!("{base}/_sandbox/tokens/expire"),
        &json!({"token": t1}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t1}")).await),
        (190, Some(463))
    );
    let dbg = get(
        &c,
        &format!(
            "{base}/v25.0/debug_token?input_token={t1}&access_token={}",
            urlencode(&sb.app_token())
        ),
    )
    .await;
    assert_eq!(dbg.json["data"]["is_valid"], json!(false));
    assert_eq!(dbg.json["data"]["error"]["subcode"], json!(463));
    // An expired token cannot be exchanged for a long-lived one.
    let ex = get(&c, &format!("{base}/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id=1234567890&client_secret=sandbox-app-secret&fb_exchange_token={t1}")).await;
    assert_eq!(assert_error(&ex), (190, Some(463)));

    post_json(
        &c,
        &format!("{base}/_sandbox/tokens/invalidate"),
        &json!({"token": t2}),
    )
    .await;
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t2}")).await),
        (190, Some(467))
    );

    // Removing one permission: the edge that needs it now fails with 200.
    let del = c
        .delete(format!(
            "{base}/v25.0/me/permissions/business_management?access_token={t3}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let r = get(&c, &format!("{base}/v25.0/me/businesses?access_token={t3}")).await;
    assert_eq!(assert_error(&r).0, 200);
    // Revoking everything de-authorises the app.
    let del = c
        .delete(format!("{base}/v25.0/me/permissions?access_token={t3}"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    assert_eq!(
        del.json::<serde_json::Value>().await.unwrap()["success"],
        json!(true)
    );
    assert_eq!(
        assert_error(&get(&c, &format!("{base}/v25.0/me?access_token={t3}")).await).0,
        190
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn login_for_business_gives_a_system_user_token_for_one_business() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let s = sb.summary();
    let redirect = "http://127.0.0.1:9/flfb";
    let dialog = format!(
        "{base}/v25.0/dialog/oauth?client_id=1234567890&redirect_uri={}&state=b1&response_type=code&config_id=987654321&override_default_response_type=true",
        urlencode(redirect)
    );
    let html = c.get(&dialog).send().await.unwrap().text().await.unwrap();
    assert_eq!(
        html.matches("name=\"business_id\"").count(),
        2,
        "business picker"
    );
    let agency = s.businesses[1].id.clone();
    let mut form = hidden_inputs(&html);
    form.push(("user_id".into(), s.users[0].id.clone()));
    form.push(("business_id".into(), agency.clone()));
    form.push(("action".into(), "continue".into()));
    let r = c
        .post(format!("{base}{}", form_action(&html)))
        .form(&form)
        .send()
        .await
        .unwrap();
    let code = query_of(r.headers()["location"].to_str().unwrap())["code"].clone();
    let tok = get(&c, &format!("{base}/v25.0/oauth/access_token?client_id=1234567890&client_secret=sandbox-app-secret&redirect_uri={}&code={code}", urlencode(redirect))).await;
    assert_eq!(tok.status, 200, "{}", tok.json);
    assert!(
        tok.json.get("expires_in").is_none(),
        "system user tokens do not expire"
    );
    let bisu = tok.json["access_token"].as_str().unwrap().to_string();
    let me = get(
        &c,
        &format!("{base}/v25.0/me?fields=id,client_business_id&access_token={bisu}"),
    )
    .await;
    assert_eq!(me.json["client_business_id"], json!(agency));
    let dbg = get(
        &c,
        &format!(
            "{base}/v25.0/debug_token?input_token={bisu}&access_token={}",
            urlencode(&sb.app_token())
        ),
    )
    .await;
    assert_eq!(dbg.json["data"]["type"], json!("SYSTEM_USER"));
    assert_eq!(dbg.json["data"]["expires_at"], json!(0));
    // Only the agency's assets: its owned accounts plus the account it manages for a client.
    let accts = get(
        &c,
        &format!("{base}/v25.0/me/adaccounts?fields=id&access_token={bisu}"),
    )
    .await;
    let mut ids: Vec<String> = accts.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = s.businesses[1]
        .owned_ad_account_ids
        .iter()
        .chain(&s.businesses[1].client_ad_account_ids)
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    let other_waba = &s.wabas[0].id;
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/{other_waba}?access_token={bisu}")
            )
            .await
        ),
        (100, Some(33))
    );
    // A user token from the same person still sees both businesses.
    let user_token = token(&sb);
    assert_eq!(
        get(
            &c,
            &format!("{base}/v25.0/{other_waba}?access_token={user_token}")
        )
        .await
        .status,
        200
    );
    sb.shutdown().await;
}
