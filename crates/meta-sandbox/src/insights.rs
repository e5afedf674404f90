//! Insights over the seeded daily facts: levels, presets, ranges, increments, filtering, async runs.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Map, Value, json};

use crate::error::{GResult, GraphError};
use crate::fields::FieldSel;
use crate::graph::{self, Node, PageCtx, param};
use crate::server::{App, Caller};
use crate::state::ReportRun;
use crate::util::{fmt_date, fmt_decimal, fmt_money};
use crate::world::{Facts, Obj};

const FIELDS: &[&str] = &[
    "account_id",
    "account_name",
    "account_currency",
    "campaign_id",
    "campaign_name",
    "adset_id",
    "adset_name",
    "ad_id",
    "ad_name",
    "objective",
    "optimization_goal",
    "buying_type",
    "spend",
    "impressions",
    "clicks",
    "reach",
    "frequency",
    "ctr",
    "cpc",
    "cpm",
    "cpp",
    "inline_link_clicks",
    "inline_link_click_ctr",
    "cost_per_inline_link_click",
    "actions",
    "cost_per_action_type",
    "date_start",
    "date_stop",
];

const PRESETS: &[&str] = &[
    "today",
    "yesterday",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_3d",
    "last_7d",
    "last_14d",
    "last_28d",
    "last_30d",
    "last_90d",
    "this_week_mon_today",
    "this_week_sun_today",
    "last_week_mon_sun",
    "last_week_sun_sat",
    "maximum",
    "data_maximum",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Account,
    Campaign,
    AdSet,
    Ad,
}

impl Level {
    fn parse(s: &str) -> GResult<Level> {
        match s {
            "account" => Ok(Level::Account),
            "campaign" => Ok(Level::Campaign),
            "adset" => Ok(Level::AdSet),
            "ad" => Ok(Level::Ad),
            other => Err(GraphError::param(format!(
                "Param level must be one of {{ad, adset, campaign, account}}, got '{other}'"
            ))),
        }
    }
}

/// Lifetime spend of an account in minor units (before restatements), cached.
pub fn amount_spent(app: &App, account: usize) -> i64 {
    if let Some(v) = app
        .spent_cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&account)
    {
        return *v;
    }
    let w = &app.world;
    let mut total = 0;
    for (i, ad) in w.ads.iter().enumerate() {
        if ad.account != account {
            continue;
        }
        for d in 0..i64::from(w.size.days) {
            total += w.ad_day(i, d).spend;
        }
    }
    app.spent_cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(account, total);
    total
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    let m = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap_or(d)
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), (total.rem_euclid(12) + 1) as u32, 1).unwrap_or(d)
}

/// The inclusive date range of a preset, relative to `today` in the account's time zone.
pub fn preset_range(
    preset: &str,
    today: NaiveDate,
    data_start: NaiveDate,
) -> GResult<(NaiveDate, NaiveDate)> {
    let d = |n: i64| today - Duration::days(n);
    let wd = today.weekday();
    Ok(match preset {
        "today" => (today, today),
        "yesterday" => (d(1), d(1)),
        "last_3d" => (d(3), d(1)),
        "last_7d" => (d(7), d(1)),
        "last_14d" => (d(14), d(1)),
        "last_28d" => (d(28), d(1)),
        "last_30d" => (d(30), d(1)),
        "last_90d" => (d(90), d(1)),
        "this_month" => (month_start(today), today),
        "last_month" => {
            let s = add_months(month_start(today), -1);
            (s, month_start(today) - Duration::days(1))
        }
        "this_quarter" => (quarter_start(today), today),
        "last_quarter" => {
            let s = add_months(quarter_start(today), -3);
            (s, quarter_start(today) - Duration::days(1))
        }
        "this_year" => (
            NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            today,
        ),
        "last_year" => (
            NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap_or(today),
            NaiveDate::from_ymd_opt(today.year() - 1, 12, 31).unwrap_or(today),
        ),
        "this_week_mon_today" => (d(i64::from(wd.num_days_from_monday())), today),
        "this_week_sun_today" => (d(i64::from(wd.num_days_from_sunday())), today),
        "last_week_mon_sun" => {
            let mon = d(i64::from(wd.num_days_from_monday()) + 7);
            (mon, mon + Duration::days(6))
        }
        "last_week_sun_sat" => {
            let sun = d(i64::from(wd.num_days_from_sunday()) + 7);
            (sun, sun + Duration::days(6))
        }
        "maximum" | "data_maximum" => (data_start.min(today), today),
        other => {
            return Err(GraphError::param(format!(
                "Param date_preset must be one of {{{}}}, got '{other}'",
                PRESETS.join(", ")
            )));
        }
    })
}

fn parse_range(v: &Value) -> GResult<(NaiveDate, NaiveDate)> {
    let get = |k: &str| -> GResult<NaiveDate> {
        let s = v.get(k).and_then(|x| x.as_str()).ok_or_else(|| {
            GraphError::param(format!("time_range must contain '{k}' as YYYY-MM-DD"))
        })?;
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            GraphError::param(format!(
                "time_range.{k} must be a date YYYY-MM-DD, got '{s}'"
            ))
        })
    };
    let (since, until) = (get("since")?, get("until")?);
    if since > until {
        return Err(GraphError::param(
            "time_range: since must be on or before until",
        ));
    }
    Ok((since, until))
}

fn ranges(
    params: &[(String, String)],
    today: NaiveDate,
    data_start: NaiveDate,
) -> GResult<Vec<(NaiveDate, NaiveDate)>> {
    if let Some(tr) = param(params, "time_ranges") {
        let v: Value = serde_json::from_str(tr)
            .map_err(|_| GraphError::param("time_ranges must be a JSON array of {since, until}"))?;
        let arr = v.as_array().ok_or_else(|| {
            GraphError::param("time_ranges must be a JSON array of {since, until}")
        })?;
        return arr.iter().map(parse_range).collect();
    }
    if let Some(tr) = param(params, "time_range") {
        let v: Value = serde_json::from_str(tr).map_err(|_| {
            GraphError::param(
                "time_range must be JSON like {\"since\":\"YYYY-MM-DD\",\"until\":\"YYYY-MM-DD\"}",
            )
        })?;
        return Ok(vec![parse_range(&v)?]);
    }
    let preset = param(params, "date_preset").unwrap_or("last_30d");
    Ok(vec![preset_range(preset, today, data_start)?])
}

/// Splits a range into buckets per `time_increment`.
fn buckets(range: (NaiveDate, NaiveDate), inc: &str) -> GResult<Vec<(NaiveDate, NaiveDate)>> {
    let (since, until) = range;
    match inc {
        "all_days" => Ok(vec![range]),
        "monthly" => {
            let mut out = vec![];
            let mut s = since;
            while s <= until {
                let next = add_months(month_start(s), 1);
                let e = (next - Duration::days(1)).min(until);
                out.push((s, e));
                s = next;
            }
            Ok(out)
        }
        n => {
            let n: i64 = n.parse().map_err(|_| {
                GraphError::param("time_increment must be all_days, monthly or an integer 1-90")
            })?;
            if !(1..=90).contains(&n) {
                return Err(GraphError::param(
                    "time_increment must be all_days, monthly or an integer 1-90",
                ));
            }
            let mut out = vec![];
            let mut s = since;
            while s <= until {
                let e = (s + Duration::days(n - 1)).min(until);
                out.push((s, e));
                s = e + Duration::days(1);
            }
            Ok(out)
        }
    }
}

struct Query {
    account: usize,
    ads: Vec<usize>,
    level: Level,
    buckets: Vec<(NaiveDate, NaiveDate)>,
    metric_filters: Vec<(String, String, f64)>,
}

fn node_level(o: Obj) -> Level {
    match o {
        Obj::Campaign(_) => Level::Campaign,
        Obj::AdSet(_) => Level::AdSet,
        Obj::Ad(_) => Level::Ad,
        _ => Level::Account,
    }
}

fn build_query(app: &App, target: Obj, params: &[(String, String)]) -> GResult<Query> {
    let w = &app.world;
    let account = graph::account_of(app, target).ok_or_else(|| {
        GraphError::param("Insights are only available on ad accounts, campaigns, ad sets and ads")
    })?;
    let level = match param(params, "level") {
        Some(l) => Level::parse(l)?,
        None => node_level(target),
    };
    if level < node_level(target) {
        return Err(GraphError::param(
            "level cannot be above the level of the object being queried",
        ));
    }
    if let Some(b) = param(params, "breakdowns")
        && !b.trim().is_empty()
        && b.trim() != "[]"
    {
        return Err(GraphError::param(format!(
            "breakdowns ({b}) are not modelled by the Meta sandbox"
        )));
    }
    let acct = &w.ad_accounts[account];
    let today = app.today_in(acct.tz);
    let mut all_buckets = vec![];
    let inc = param(params, "time_increment").unwrap_or("all_days");
    for r in ranges(params, today, w.start_date)? {
        all_buckets.extend(buckets(r, inc)?);
    }
    let mut ads: Vec<usize> = match target {
        Obj::AdAccount(_) => acct
            .campaigns
            .clone()
            .flat_map(|c| w.campaigns[c].adsets.clone())
            .flat_map(|s| w.adsets[s].ads.clone())
            .collect(),
        Obj::Campaign(c) => w.campaigns[c]
            .adsets
            .clone()
            .flat_map(|s| w.adsets[s].ads.clone())
            .collect(),
        Obj::AdSet(s) => w.adsets[s].ads.clone().collect(),
        Obj::Ad(a) => vec![a],
        _ => vec![],
    };
    let filtering: Vec<Value> = match param(params, "filtering") {
        Some(f) => serde_json::from_str(f).map_err(|_| {
            GraphError::param("filtering must be a JSON array of {field, operator, value}")
        })?,
        None => vec![],
    };
    let mut metric_filters = vec![];
    for f in &filtering {
        let field = f
            .get("field")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string();
        let op = f
            .get("operator")
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string();
        let value = f.get("value");
        if matches!(field.as_str(), "spend" | "impressions" | "clicks" | "reach") {
            let v = value
                .and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .ok_or_else(|| {
                    GraphError::param(format!("filtering on {field} needs a numeric value"))
                })?;
            if !matches!(
                op.as_str(),
                "GREATER_THAN"
                    | "LESS_THAN"
                    | "GREATER_THAN_OR_EQUAL"
                    | "LESS_THAN_OR_EQUAL"
                    | "EQUAL"
            ) {
                return Err(GraphError::param(format!(
                    "Filtering operator '{op}' is not supported for {field}"
                )));
            }
            metric_filters.push((field, op, v));
            continue;
        }
        let mut kept = vec![];
        for a in ads {
            let ad = &w.ads[a];
            let actual: String = match field.as_str() {
                "campaign.id" => w.campaigns[ad.campaign].id.clone(),
                "adset.id" => w.adsets[ad.adset].id.clone(),
                "ad.id" => ad.id.clone(),
                "campaign.name" => w.campaigns[ad.campaign].name.clone(),
                "adset.name" => w.adsets[ad.adset].name.clone(),
                "ad.name" => ad.name.clone(),
                "campaign.effective_status" => w.effective_status_campaign(ad.campaign).to_string(),
                "adset.effective_status" => w.effective_status_adset(ad.adset).to_string(),
                "ad.effective_status" => w.effective_status_ad(a).to_string(),
                "campaign.objective" | "objective" => {
                    w.campaigns[ad.campaign].objective.to_string()
                }
                other => {
                    return Err(GraphError::param(format!(
                        "Filtering field {other} is invalid or not modelled by the sandbox"
                    )));
                }
            };
            if graph::filter_match(&op, &actual, value)? {
                kept.push(a);
            }
        }
        ads = kept;
    }
    Ok(Query {
        account,
        ads,
        level,
        buckets: all_buckets,
        metric_filters,
    })
}

fn group_key(app: &App, level: Level, ad: usize) -> usize {
    let w = &app.world;
    match level {
        Level::Account => 0,
        Level::Campaign => w.ads[ad].campaign,
        Level::AdSet => w.ads[ad].adset,
        Level::Ad => ad,
    }
}

/// Aggregated facts per (group, bucket), only groups with delivery.
pub type Aggregate = BTreeMap<(usize, usize), Facts>;

/// Memoised aggregates, keyed by a hash of the query and the restatements.
pub type Cache = std::sync::Mutex<std::collections::HashMap<u64, std::sync::Arc<Aggregate>>>;

/// Aggregates, memoised: the facts are a pure function of (ads, level, buckets, restatements).
fn aggregate_cached(app: &App, q: &Query) -> std::sync::Arc<Aggregate> {
    use std::hash::{Hash, Hasher};
    let restatements = app.lock().restatements.clone();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    q.ads.hash(&mut h);
    q.level.hash(&mut h);
    q.buckets.hash(&mut h);
    for (d, f) in &restatements {
        d.hash(&mut h);
        f.to_bits().hash(&mut h);
    }
    let key = h.finish();
    if let Some(hit) = app
        .insights_cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return hit.clone();
    }
    let agg = std::sync::Arc::new(aggregate(app, q, &restatements));
    // Only small aggregates are kept, so the cache stays within a few tens of MB.
    if agg.len() <= 2_000 {
        let mut cache = app.insights_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(key, agg.clone());
    }
    agg
}

fn aggregate(app: &App, q: &Query, restatements: &[(i64, f64)]) -> Aggregate {
    let w = &app.world;
    let max_day = i64::from(w.size.days) - 1;
    let mut out: BTreeMap<(usize, usize), Facts> = BTreeMap::new();
    for &ad in &q.ads {
        let c = &w.campaigns[w.ads[ad].campaign];
        if !c.delivers {
            continue;
        }
        let g = group_key(app, q.level, ad);
        for (bi, (s, e)) in q.buckets.iter().enumerate() {
            let lo = w.day_of(*s).max(c.start_day).max(0);
            let hi = w.day_of(*e).min(c.end_day - 1).min(max_day);
            if lo > hi {
                continue;
            }
            let mut acc = Facts::default();
            for d in lo..=hi {
                acc.add(&w.ad_day_restated(ad, d, restatements));
            }
            if acc.impressions > 0 || acc.spend > 0 {
                out.entry((g, bi)).or_default().add(&acc);
            }
        }
    }
    out
}

fn ratio(n: f64, d: f64) -> Option<f64> {
    if d > 0.0 { Some(n / d) } else { None }
}

fn row(
    app: &App,
    q: &Query,
    group: usize,
    bucket: usize,
    f: &Facts,
    sel: &[FieldSel],
) -> GResult<Value> {
    let w = &app.world;
    let acct = &w.ad_accounts[q.account];
    let cur = acct.currency;
    let major = f.spend as f64 / 10f64.powi(crate::util::currency_exponent(cur) as i32);
    let (campaign, adset, ad) = match q.level {
        Level::Account => (None, None, None),
        Level::Campaign => (Some(group), None, None),
        Level::AdSet => (Some(w.adsets[group].campaign), Some(group), None),
        Level::Ad => (
            Some(w.ads[group].campaign),
            Some(w.ads[group].adset),
            Some(group),
        ),
    };
    let actions: Vec<(&str, i64)> = vec![
        ("link_click", f.link_clicks),
        ("lead", f.leads()),
        ("offsite_conversion.fb_pixel_lead", f.pixel_leads),
        ("onsite_conversion.lead_grouped", f.form_leads),
        (
            "onsite_conversion.messaging_conversation_started_7d",
            f.msg_started,
        ),
        (
            "onsite_conversion.total_messaging_connection",
            f.msg_connections,
        ),
        ("page_engagement", f.clicks),
        ("post_engagement", f.clicks),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0)
    .collect();
    let mut m = Map::new();
    for s in sel {
        let v: Value = match s.name.as_str() {
            "account_id" => json!(acct.account_id),
            "account_name" => json!(acct.name),
            "account_currency" => json!(cur),
            "campaign_id" => match campaign {
                Some(c) => json!(w.campaigns[c].id),
                None => continue,
            },
            "campaign_name" => match campaign {
                Some(c) => json!(w.campaigns[c].name),
                None => continue,
            },
            "objective" => match campaign {
                Some(c) => json!(w.campaigns[c].objective),
                None => continue,
            },
            "buying_type" => json!("AUCTION"),
            "adset_id" => match adset {
                Some(s) => json!(w.adsets[s].id),
                None => continue,
            },
            "adset_name" => match adset {
                Some(s) => json!(w.adsets[s].name),
                None => continue,
            },
            "optimization_goal" => match adset {
                Some(s) => json!(w.adsets[s].optimization_goal),
                None => continue,
            },
            "ad_id" => match ad {
                Some(a) => json!(w.ads[a].id),
                None => continue,
            },
            "ad_name" => match ad {
                Some(a) => json!(w.ads[a].name),
                None => continue,
            },
            "spend" => json!(fmt_money(f.spend, cur)),
            "impressions" => json!(f.impressions.to_string()),
            "clicks" => json!(f.clicks.to_string()),
            "reach" => json!(f.reach.to_string()),
            "inline_link_clicks" => json!(f.link_clicks.to_string()),
            "frequency" => match ratio(f.impressions as f64, f.reach as f64) {
                Some(x) => json!(fmt_decimal(x)),
                None => continue,
            },
            "ctr" => json!(fmt_decimal(
                ratio(f.clicks as f64 * 100.0, f.impressions as f64).unwrap_or(0.0)
            )),
            "inline_link_click_ctr" => json!(fmt_decimal(
                ratio(f.link_clicks as f64 * 100.0, f.impressions as f64).unwrap_or(0.0)
            )),
            "cpc" => match ratio(major, f.clicks as f64) {
                Some(x) => json!(fmt_decimal(x)),
                None => continue,
            },
            "cost_per_inline_link_click" => match ratio(major, f.link_clicks as f64) {
                Some(x) => json!(fmt_decimal(x)),
                None => continue,
            },
            "cpm" => match ratio(major * 1000.0, f.impressions as f64) {
                Some(x) => json!(fmt_decimal(x)),
                None => continue,
            },
            "cpp" => match ratio(major * 1000.0, f.reach as f64) {
                Some(x) => json!(fmt_decimal(x)),
                None => continue,
            },
            "actions" => {
                if actions.is_empty() {
                    continue;
                }
                Value::Array(
                    actions
                        .iter()
                        .map(|(t, v)| json!({"action_type": t, "value": v.to_string()}))
                        .collect(),
                )
            }
            "cost_per_action_type" => {
                if actions.is_empty() {
                    continue;
                }
                Value::Array(
                    actions.iter().map(|(t, v)| json!({"action_type": t, "value": fmt_decimal(major / *v as f64)})).collect(),
                )
            }
            "date_start" => json!(fmt_date(q.buckets[bucket].0)),
            "date_stop" => json!(fmt_date(q.buckets[bucket].1)),
            other => {
                return Err(GraphError::param(format!(
                    "{other} is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values"
                )));
            }
        };
        m.insert(s.name.clone(), v);
    }
    // Meta always includes the range of the row.
    m.entry("date_start")
        .or_insert_with(|| json!(fmt_date(q.buckets[bucket].0)));
    m.entry("date_stop")
        .or_insert_with(|| json!(fmt_date(q.buckets[bucket].1)));
    Ok(Value::Object(m))
}

fn selection(sel: Option<&[FieldSel]>) -> GResult<Vec<FieldSel>> {
    let sel: Vec<FieldSel> = match sel {
        Some(s) if !s.is_empty() => s.to_vec(),
        _ => ["impressions", "spend", "date_start", "date_stop"]
            .iter()
            .map(|s| FieldSel::simple(s))
            .collect(),
    };
    for f in &sel {
        if !FIELDS.contains(&f.name.as_str()) {
            return Err(GraphError::param(format!(
                "{} is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values",
                f.name
            )));
        }
    }
    Ok(sel)
}

/// Most rows a single insights request may produce, like Meta's "reduce the amount of data".
pub const MAX_ROWS: usize = 100_000;

/// Aggregated, filtered and ordered rows, not yet rendered.
struct Computed {
    q: Query,
    sel: Vec<FieldSel>,
    entries: Vec<((usize, usize), Facts)>,
}

fn compute(
    app: &App,
    target: Obj,
    params: &[(String, String)],
    sel: Option<&[FieldSel]>,
) -> GResult<Computed> {
    let sel = selection(sel)?;
    let q = build_query(app, target, params)?;
    let mut groups: Vec<usize> = q.ads.iter().map(|a| group_key(app, q.level, *a)).collect();
    groups.sort_unstable();
    groups.dedup();
    if groups.len().saturating_mul(q.buckets.len()) > MAX_ROWS {
        return Err(GraphError::new(
            1,
            "OAuthException",
            "Please reduce the amount of data you're asking for, then retry your request",
        )
        .with_subcode(99)
        .transient());
    }
    auto_restate(app);
    let agg = aggregate_cached(app, &q);
    let cur_exp = 10f64
        .powi(crate::util::currency_exponent(app.world.ad_accounts[q.account].currency) as i32);
    let mut entries: Vec<((usize, usize), Facts)> = agg
        .iter()
        .map(|(k, f)| (*k, *f))
        .filter(|(_, f)| {
            q.metric_filters.iter().all(|(field, op, v)| {
                let actual = match field.as_str() {
                    "spend" => f.spend as f64 / cur_exp,
                    "impressions" => f.impressions as f64,
                    "clicks" => f.clicks as f64,
                    _ => f.reach as f64,
                };
                match op.as_str() {
                    "GREATER_THAN" => actual > *v,
                    "LESS_THAN" => actual < *v,
                    "GREATER_THAN_OR_EQUAL" => actual >= *v,
                    "LESS_THAN_OR_EQUAL" => actual <= *v,
                    _ => (actual - v).abs() < 1e-9,
                }
            })
        })
        .collect();
    // With several buckets, rows are listed by date, then object.
    if q.buckets.len() > 1 {
        entries.sort_by_key(|((_, b), _)| q.buckets[*b].0);
    }
    Ok(Computed { q, sel, entries })
}

/// Computes all insight rows for a target.
pub fn rows(
    app: &App,
    target: Obj,
    params: &[(String, String)],
    sel: Option<&[FieldSel]>,
) -> GResult<Vec<Value>> {
    let c = compute(app, target, params, sel)?;
    c.entries
        .iter()
        .map(|((g, b), f)| row(app, &c.q, *g, *b, f, &c.sel))
        .collect()
}

/// `GET /{object}/insights` (also used for nested `insights{...}` fields and report runs).
pub fn edge(
    app: &App,
    _caller: &Caller,
    node: &Node,
    params: &[(String, String)],
    sel: Option<&[FieldSel]>,
    ctx: &PageCtx,
) -> GResult<Value> {
    let (target, merged): (Obj, Vec<(String, String)>) = match node {
        Node::W(o) => (*o, params.to_vec()),
        Node::Run(id) => {
            let st = app.lock();
            let run = st
                .report_runs
                .get(id)
                .ok_or_else(|| GraphError::no_object(id, "get"))?
                .clone();
            let total = st.runtime.report_run_polls.max(1);
            drop(st);
            if run.polls < total + 1 {
                return Err(GraphError::param(
                    "The report is not ready yet; poll the report run until async_status is \"Job Completed\"",
                ));
            }
            let target = match graph::resolve(app, &run.target) {
                Some(Node::W(o)) => o,
                _ => return Err(GraphError::no_object(&run.target, "get")),
            };
            let mut p = run.params.clone();
            for (k, v) in params {
                if matches!(k.as_str(), "limit" | "after" | "before") {
                    p.push((k.clone(), v.clone()));
                }
            }
            (target, p)
        }
        _ => {
            return Err(GraphError::param(
                "Insights are only available on ad objects",
            ));
        }
    };
    let run_fields;
    let sel = match (sel, node) {
        (None, Node::Run(_)) => {
            run_fields = param(&merged, "fields")
                .map(crate::fields::parse)
                .transpose()?;
            run_fields.as_deref()
        }
        _ => sel,
    };
    let Computed { q, sel, entries } = compute(app, target, &merged, sel)?;
    let (slice, paging) = graph::paginate(entries, &merged, ctx, 25)?;
    let data = slice
        .iter()
        .map(|((g, b), f)| row(app, &q, *g, *b, f, &sel))
        .collect::<GResult<Vec<Value>>>()?;
    let mut m = Map::new();
    m.insert("data".into(), Value::Array(data));
    m.insert(
        "paging".into(),
        if paging.as_object().is_some_and(|o| o.is_empty()) {
            json!({"cursors": {}})
        } else {
            paging
        },
    );
    Ok(Value::Object(m))
}

/// `POST /{object}/insights`: starts an async report run.
pub fn start_async(app: &App, target: Obj, params: &[(String, String)]) -> GResult<Value> {
    // Validate now, as Meta does, so bad parameters fail at submission.
    let fields = param(params, "fields")
        .map(crate::fields::parse)
        .transpose()?;
    selection(fields.as_deref())?;
    let q = build_query(app, target, params)?;
    let kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "access_token" | "appsecret_proof" | "method"))
        .cloned()
        .collect();
    let (ds, de) = match (q.buckets.first(), q.buckets.last()) {
        (Some(a), Some(b)) => (fmt_date(a.0), fmt_date(b.1)),
        _ => (String::new(), String::new()),
    };
    let target_id = match target {
        Obj::AdAccount(a) => app.world.ad_accounts[a].act_id(),
        Obj::Campaign(c) => app.world.campaigns[c].id.clone(),
        Obj::AdSet(s) => app.world.adsets[s].id.clone(),
        Obj::Ad(a) => app.world.ads[a].id.clone(),
        _ => {
            return Err(GraphError::param(
                "Insights are only available on ad objects",
            ));
        }
    };
    let mut st = app.lock();
    let id = st.new_numeric_id(app.world.seed ^ 0xA5, "", 16);
    st.report_runs.insert(
        id.clone(),
        ReportRun {
            id: id.clone(),
            account: q.account,
            target: target_id,
            params: kept,
            polls: 0,
            created_at: app.now(),
            date_start: ds,
            date_stop: de,
        },
    );
    Ok(json!({"report_run_id": id}))
}

/// Meta revises recent figures between calls; when enabled, so does the sandbox.
fn auto_restate(app: &App) {
    let mut st = app.lock();
    let Some(every) = st.runtime.auto_restate_every else {
        return;
    };
    st.insights_calls += 1;
    if !st.insights_calls.is_multiple_of(u64::from(every)) {
        return;
    }
    let h = crate::util::mix(app.world.seed ^ st.insights_calls.rotate_left(13));
    let days_back = 1 + (h % 28) as i64;
    let factor = 0.97 + 0.06 * crate::util::unit(crate::util::mix(h));
    let from = app.world.day_of(app.world.end_date) - days_back + 1;
    st.restatements.push((from, factor));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn presets_are_calendar_exact() {
        let today = d(2026, 3, 18); // a Wednesday
        let start = d(2025, 1, 1);
        assert_eq!(preset_range("today", today, start).unwrap(), (today, today));
        assert_eq!(
            preset_range("last_7d", today, start).unwrap(),
            (d(2026, 3, 11), d(2026, 3, 17))
        );
        assert_eq!(
            preset_range("last_month", today, start).unwrap(),
            (d(2026, 2, 1), d(2026, 2, 28))
        );
        assert_eq!(
            preset_range("this_quarter", today, start).unwrap(),
            (d(2026, 1, 1), today)
        );
        assert_eq!(
            preset_range("last_quarter", today, start).unwrap(),
            (d(2025, 10, 1), d(2025, 12, 31))
        );
        assert_eq!(
            preset_range("last_year", today, start).unwrap(),
            (d(2025, 1, 1), d(2025, 12, 31))
        );
        assert_eq!(
            preset_range("this_week_mon_today", today, start).unwrap(),
            (d(2026, 3, 16), today)
        );
        assert_eq!(
            preset_range("this_week_sun_today", today, start).unwrap(),
            (d(2026, 3, 15), today)
        );
        assert_eq!(
            preset_range("last_week_mon_sun", today, start).unwrap(),
            (d(2026, 3, 9), d(2026, 3, 15))
        );
        assert_eq!(
            preset_range("last_week_sun_sat", today, start).unwrap(),
            (d(2026, 3, 8), d(2026, 3, 14))
        );
        assert_eq!(
            preset_range("maximum", today, start).unwrap(),
            (start, today)
        );
        assert!(preset_range("lifetime", today, start).is_err());
    }

    #[test]
    fn increments_split_ranges() {
        let r = (d(2026, 1, 30), d(2026, 3, 2));
        assert_eq!(buckets(r, "all_days").unwrap().len(), 1);
        assert_eq!(buckets(r, "1").unwrap().len(), 32);
        let weeks = buckets(r, "7").unwrap();
        assert_eq!(weeks[0], (d(2026, 1, 30), d(2026, 2, 5)));
        assert_eq!(weeks.last().unwrap().1, d(2026, 3, 2));
        let months = buckets(r, "monthly").unwrap();
        assert_eq!(
            months,
            vec![
                (d(2026, 1, 30), d(2026, 1, 31)),
                (d(2026, 2, 1), d(2026, 2, 28)),
                (d(2026, 3, 1), d(2026, 3, 2))
            ]
        );
        assert!(buckets(r, "0").is_err());
        assert!(buckets(r, "weekly").is_err());
    }
}
