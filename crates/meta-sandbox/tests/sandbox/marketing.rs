use serde_json::{Value, json};

use crate::common::*;

fn num(v: &Value) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("metric must be a JSON string, got {v}"));
    s.parse().unwrap()
}

/// Spend string in minor units ("12.34" -> 1234).
fn cents(v: &Value) -> i64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("spend must be a JSON string, got {v}"));
    let (a, b) = s.split_once('.').unwrap_or((s, "00"));
    a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
}

fn action(row: &Value, t: &str) -> i64 {
    row["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["action_type"] == json!(t)))
        .map(|x| num(&x["value"]))
        .unwrap_or(0)
}

#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Tot {
    spend: i64,
    impressions: i64,
    clicks: i64,
    leads: i64,
    rows: usize,
}

async fn all_rows(c: &reqwest::Client, first: String) -> Vec<Value> {
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

async fn totals(c: &reqwest::Client, base: &str, obj: &str, t: &str, extra: &str) -> Tot {
    let rows = all_rows(c, format!("{base}/v25.0/{obj}/insights?fields=spend,impressions,clicks,actions,ctr,cpc,cpm,date_start,date_stop&limit=7&access_token={t}&{extra}")).await;
    let mut tot = Tot::default();
    for r in &rows {
        tot.spend += cents(&r["spend"]);
        tot.impressions += num(&r["impressions"]);
        tot.clicks += num(&r["clicks"]);
        let lead = action(r, "lead");
        assert_eq!(
            lead,
            action(r, "onsite_conversion.lead_grouped")
                + action(r, "offsite_conversion.fb_pixel_lead"),
            "lead is the aggregate of its components"
        );
        tot.leads += lead;
        assert!(num(&r["impressions"]) > 0, "no rows without delivery");
        let ctr: f64 = r["ctr"].as_str().unwrap().parse().unwrap();
        let expect = num(&r["clicks"]) as f64 * 100.0 / num(&r["impressions"]) as f64;
        assert!((ctr - expect).abs() < 1e-4, "ctr derived from counts");
        tot.rows += 1;
    }
    tot
}

#[tokio::test]
async fn businesses_accounts_campaigns_ads() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let biz = get(
        &c,
        &format!("{base}/v25.0/me/businesses?fields=id,name&access_token={t}"),
    )
    .await;
    let b0 = biz.json["data"][0]["id"].as_str().unwrap().to_string();
    let owned = get(&c, &format!("{base}/v25.0/{b0}/owned_ad_accounts?fields=id,account_id,name,currency,timezone_name,account_status,amount_spent,business&summary=total_count&access_token={t}")).await;
    assert_eq!(owned.status, 200, "{}", owned.json);
    assert_eq!(owned.json["summary"]["total_count"], json!(3));
    let data = owned.json["data"].as_array().unwrap();
    let tzs: std::collections::HashSet<&str> = data
        .iter()
        .map(|a| a["timezone_name"].as_str().unwrap())
        .collect();
    assert!(tzs.len() >= 2, "accounts in different time zones");
    assert!(data.iter().any(|a| a["currency"] == json!("ARS")));
    assert!(
        data.iter()
            .all(|a| a["account_status"] == json!(1) && a["amount_spent"].is_string())
    );
    assert_eq!(data[0]["business"]["id"], json!(b0));
    let client_accts = get(
        &c,
        &format!("{base}/v25.0/{b0}/client_ad_accounts?fields=id,permitted_tasks&access_token={t}"),
    )
    .await;
    assert_eq!(client_accts.json["data"].as_array().unwrap().len(), 1);

    let act = sb.world().ad_accounts[0].act_id();
    let camps = get(&c, &format!("{base}/v25.0/{act}/campaigns?fields=id,name,status,effective_status,objective,daily_budget,start_time,created_time&limit=100&access_token={t}")).await;
    assert_eq!(camps.status, 200, "{}", camps.json);
    let list = camps.json["data"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(
        list.iter()
            .all(|c| c["effective_status"] != json!("DELETED")),
        "deleted campaigns are hidden by default"
    );
    let t0 = list[0]["start_time"].as_str().unwrap();
    assert!(
        t0.len() == 24 && (t0.ends_with("-0700") || t0.ends_with("-0800")),
        "times carry the account offset: {t0}"
    );
    let all = get(&c, &format!("{base}/v25.0/{act}/campaigns?fields=id,status&limit=100&effective_status=%5B%22ACTIVE%22,%22PAUSED%22,%22DELETED%22,%22ARCHIVED%22%5D&access_token={t}")).await;
    assert_eq!(
        all.json["data"].as_array().unwrap().len(),
        sb.world().ad_accounts[0].campaigns.len()
    );
    let active_only = get(&c, &format!("{base}/v25.0/{act}/campaigns?fields=status&effective_status=%5B%22ACTIVE%22%5D&access_token={t}")).await;
    assert!(
        active_only.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == json!("ACTIVE"))
    );

    let ads = get(&c, &format!("{base}/v25.0/{act}/ads?fields=id,name,adset_id,campaign_id,effective_status,creative{{id,title,body}}&access_token={t}")).await;
    assert_eq!(ads.status, 200, "{}", ads.json);
    let ad = &ads.json["data"][0];
    assert!(
        ad["creative"]["title"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        ad["creative"]["body"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let adsets = get(
        &c,
        &format!(
            "{base}/v25.0/{}/adsets?fields=id,campaign_id&access_token={t}",
            list[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(
        adsets.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["campaign_id"] == list[0]["id"])
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn insights_reconcile_across_levels_and_days() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    for acct in [0usize, 1] {
        let act = sb.world().ad_accounts[acct].act_id();
        for range in [
            "date_preset=last_7d",
            "date_preset=last_30d",
            "date_preset=this_month",
            "date_preset=maximum",
            "time_range=%7B%22since%22%3A%222026-02-01%22%2C%22until%22%3A%222026-02-20%22%7D",
        ] {
            let account = totals(&c, &base, &act, &t, range).await;
            assert_eq!(account.rows, 1, "{act} {range}");
            assert!(account.spend > 0);
            let by_campaign = totals(&c, &base, &act, &t, &format!("{range}&level=campaign")).await;
            let by_ad = totals(&c, &base, &act, &t, &format!("{range}&level=ad")).await;
            let daily = totals(&c, &base, &act, &t, &format!("{range}&time_increment=1")).await;
            let strip = |x: Tot| (x.spend, x.impressions, x.clicks, x.leads);
            assert_eq!(
                strip(account),
                strip(by_campaign),
                "account = sum of campaigns ({act} {range})"
            );
            assert_eq!(
                strip(account),
                strip(by_ad),
                "account = sum of ads ({act} {range})"
            );
            assert_eq!(
                strip(account),
                strip(daily),
                "account = sum of daily rows ({act} {range})"
            );
            assert!(by_ad.rows >= by_campaign.rows);
        }
    }
    // Campaign edge with daily rows = the campaign's rows at account level.
    let act = sb.world().ad_accounts[0].act_id();
    let camp = &sb.world().campaigns[sb.world().ad_accounts[0].campaigns.start];
    let direct = totals(
        &c,
        &base,
        &camp.id,
        &t,
        "date_preset=last_30d&time_increment=1",
    )
    .await;
    let filtered = totals(&c, &base, &act, &t, &format!("date_preset=last_30d&level=campaign&filtering=%5B%7B%22field%22%3A%22campaign.id%22%2C%22operator%22%3A%22IN%22%2C%22value%22%3A%5B%22{}%22%5D%7D%5D", camp.id)).await;
    assert_eq!(
        (direct.spend, direct.impressions),
        (filtered.spend, filtered.impressions)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn insights_shapes_presets_and_no_delivery() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let acct = &sb.world().ad_accounts[1];
    let act = acct.act_id();
    let r = get(&c, &format!("{base}/v25.0/{act}/insights?fields=account_id,account_currency,spend,impressions,reach,frequency,cpm,cpc,actions,cost_per_action_type&date_preset=yesterday&access_token={t}")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let row = &r.json["data"][0];
    let yesterday = (today() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(row["date_start"], json!(yesterday));
    assert_eq!(row["date_stop"], json!(yesterday));
    assert_eq!(row["account_currency"], json!("ARS"));
    for k in ["spend", "impressions", "reach", "frequency", "cpm", "cpc"] {
        assert!(row[k].is_string(), "{k} is a string: {row}");
    }
    for a in row["actions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(row["cost_per_action_type"].as_array().unwrap())
    {
        assert!(a["value"].is_string() && a["action_type"].is_string());
    }
    // last_7d excludes today and spans 7 days.
    let r = get(
        &c,
        &format!("{base}/v25.0/{act}/insights?date_preset=last_7d&access_token={t}"),
    )
    .await;
    assert_eq!(r.json["data"][0]["date_stop"], json!(yesterday));
    assert_eq!(
        r.json["data"][0]["date_start"],
        json!(
            (today() - chrono::Duration::days(7))
                .format("%Y-%m-%d")
                .to_string()
        )
    );

    // A campaign that never delivered has no rows.
    let w = sb.world();
    let silent = w
        .campaigns
        .iter()
        .find(|c| !c.delivers)
        .map(|c| c.id.clone());
    if let Some(id) = silent {
        let r = get(
            &c,
            &format!("{base}/v25.0/{id}/insights?date_preset=maximum&access_token={t}"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert!(r.json["data"].as_array().unwrap().is_empty());
    }
    // Future dates: no rows.
    let r = get(&c, &format!("{base}/v25.0/{act}/insights?time_range=%7B%22since%22%3A%222027-01-01%22%2C%22until%22%3A%222027-01-31%22%7D&access_token={t}")).await;
    assert!(r.json["data"].as_array().unwrap().is_empty());

    // Bad parameters.
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/{act}/insights?date_preset=last_week&access_token={t}")
            )
            .await
        )
        .0,
        100
    );
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/{act}/insights?level=galaxy&access_token={t}")
            )
            .await
        )
        .0,
        100
    );
    assert_eq!(
        assert_error(
            &get(
                &c,
                &format!("{base}/v25.0/{act}/insights?fields=spend,happiness&access_token={t}")
            )
            .await
        )
        .0,
        100
    );

    // Nested insights through fields with a modifier.
    let r = get(&c, &format!("{base}/v25.0/{act}/campaigns?fields=name,insights.date_preset(last_30d){{spend,impressions}}&limit=50&access_token={t}")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(
        r.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["insights"]["data"][0]["spend"].is_string())
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn async_report_runs_and_restatement() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = sb.world().ad_accounts[0].act_id();
    let start = post_form(
        &c,
        &format!("{base}/v25.0/{act}/insights"),
        &[
            ("access_token", &t),
            ("level", "campaign"),
            ("date_preset", "last_30d"),
            ("fields", "campaign_id,spend,impressions"),
        ],
    )
    .await;
    assert_eq!(start.status, 200, "{}", start.json);
    let run = start.json["report_run_id"].as_str().unwrap().to_string();
    let early = get(&c, &format!("{base}/v25.0/{run}/insights?access_token={t}")).await;
    assert_eq!(assert_error(&early).0, 100, "{}", early.json);
    let mut statuses = vec![];
    let mut last_pct = -1;
    for _ in 0..10 {
        let r = get(&c, &format!("{base}/v25.0/{run}?access_token={t}")).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let pct = r.json["async_percent_completion"].as_i64().unwrap();
        assert!(pct >= last_pct, "percentage rises");
        last_pct = pct;
        let s = r.json["async_status"].as_str().unwrap().to_string();
        statuses.push(s.clone());
        if s == "Job Completed" {
            break;
        }
    }
    assert_eq!(
        statuses.first().map(|s| s.as_str()),
        Some("Job Not Started")
    );
    assert!(statuses.contains(&"Job Running".to_string()));
    assert_eq!(statuses.last().map(|s| s.as_str()), Some("Job Completed"));
    assert_eq!(last_pct, 100);
    let async_rows = all_rows(
        &c,
        format!("{base}/v25.0/{run}/insights?limit=3&access_token={t}"),
    )
    .await;
    let sync_rows = all_rows(&c, format!("{base}/v25.0/{act}/insights?level=campaign&date_preset=last_30d&fields=campaign_id,spend,impressions&limit=3&access_token={t}")).await;
    assert_eq!(async_rows, sync_rows);

    // Restatement: the last 7 days change, older days do not.
    let recent = totals(&c, &base, &act, &t, "date_preset=last_7d").await;
    let older = totals(
        &c,
        &base,
        &act,
        &t,
        "time_range=%7B%22since%22%3A%222026-02-01%22%2C%22until%22%3A%222026-02-20%22%7D",
    )
    .await;
    let r = post_json(
        &c,
        &format!("{base}/_sandbox/restate"),
        &json!({"days_back": 8, "factor": 0.5}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let recent2 = totals(&c, &base, &act, &t, "date_preset=last_7d").await;
    let older2 = totals(
        &c,
        &base,
        &act,
        &t,
        "time_range=%7B%22since%22%3A%222026-02-01%22%2C%22until%22%3A%222026-02-20%22%7D",
    )
    .await;
    assert!(
        recent2.spend < recent.spend * 6 / 10,
        "restated spend dropped"
    );
    assert_eq!(older, older2);
    // Still reconciles after restatement.
    let by_ad = totals(&c, &base, &act, &t, "date_preset=last_7d&level=ad").await;
    assert_eq!(
        (by_ad.spend, by_ad.impressions),
        (recent2.spend, recent2.impressions)
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn automatic_restatement_touches_only_the_last_28_days() {
    let sb = start().await;
    let c = client();
    let t = token(&sb);
    let base = sb.base_url();
    let act = sb.world().ad_accounts[0].act_id();
    let old_range =
        "time_range=%7B%22since%22%3A%222026-01-20%22%2C%22until%22%3A%222026-02-10%22%7D";
    let recent0 = totals(&c, &base, &act, &t, "date_preset=last_28d").await;
    let old0 = totals(&c, &base, &act, &t, old_range).await;
    let r = post_json(
        &c,
        &format!("{base}/_sandbox/config"),
        &json!({"auto_restate_every": 1}),
    )
    .await;
    assert_eq!(r.json["auto_restate_every"], json!(1));
    let mut changed = false;
    for _ in 0..5 {
        let recent = totals(&c, &base, &act, &t, "date_preset=last_28d").await;
        changed |= recent != recent0;
        assert_eq!(
            totals(&c, &base, &act, &t, old_range).await,
            old0,
            "days older than 28 are final"
        );
    }
    assert!(changed, "recent figures were revised between calls");
    sb.shutdown().await;
}
