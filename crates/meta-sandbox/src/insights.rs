//! Insights over the seeded daily facts: levels, presets, ranges, increments, filtering, async runs.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Map, Value, json};

use crate::error::{GResult, GraphError};
use crate::fields::FieldSel;
use crate::graph::{self, Node, PageCtx, param};
use crate::params;
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

/// Every option of the insights edge (`GET` and the async `POST`) that the sandbox models.
/// Any other parameter is refused with error 100 instead of being ignored, because Meta would
/// answer differently (`sort`, `summary`, `export_*`, `product_id_limit`, …).
const OPTIONS: &[&str] = &[
    "fields",
    "level",
    "date_preset",
    "time_range",
    "time_ranges",
    "time_increment",
    "filtering",
    "breakdowns",
    "action_breakdowns",
    "action_attribution_windows",
    "action_report_time",
    "use_unified_attribution_setting",
    "use_account_attribution_setting",
    "default_summary",
    "graph_cache",
    "limit",
    "after",
    "before",
];

/// What `GET /{report_run_id}/insights` takes: the query itself was fixed when the run was created.
const RUN_RESULT_OPTIONS: &[&str] = &["fields", "limit", "after", "before"];

/// Attribution windows the sandbox models. Every ad set's attribution setting is 7-day click,
/// so an action's `value` is its `7d_click` figure.
pub const WINDOWS: &[&str] = &["1d_view", "1d_click", "7d_click", "28d_click"];

/// Counts that actions are made of; `actions` entries sum some of them.
const N_COUNTS: usize = 6;
const C_LINK: usize = 0;
const C_CLICKS: usize = 1;
const C_FORM: usize = 2;
const C_PIXEL: usize = 3;
const C_MSG_STARTED: usize = 4;
const C_MSG_CONN: usize = 5;

/// Per-window counts of one (group, bucket), next to its [`Facts`] (whose counts are `7d_click`).
/// Derived per ad and day, so they add up across levels and days like every other figure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Windows {
    one_day_view: [i64; N_COUNTS],
    one_day_click: [i64; N_COUNTS],
    twenty_eight_day_click: [i64; N_COUNTS],
}

fn base_counts(f: &Facts) -> [i64; N_COUNTS] {
    [
        f.link_clicks,
        f.clicks,
        f.form_leads,
        f.pixel_leads,
        f.msg_started,
        f.msg_connections,
    ]
}

impl Windows {
    /// The windows of one ad-day, from its (7-day click) counts. Deterministic: a hash of
    /// (seed, ad, day) decides the roundings. 1-day click is about 75% of 7-day click, 28-day
    /// click about 120%, and 1-day view about 12% on conversions (none on clicks).
    fn of_day(seed: u64, ad: usize, day: i64, f: &Facts) -> Windows {
        let h = crate::util::mix(
            seed ^ 0xA77_B1D0 ^ (ad as u64).wrapping_mul(0x1000_0193) ^ (day as u64) << 40,
        );
        let mut w = Windows::default();
        for (i, v) in base_counts(f).into_iter().enumerate() {
            if v == 0 {
                continue;
            }
            let r = |x: f64, k: u64| {
                crate::util::stochastic_round(x, crate::util::mix(h ^ (k << 8 | i as u64)))
            };
            w.one_day_click[i] = v - r(v as f64 * 0.25, 1).min(v);
            w.twenty_eight_day_click[i] = v + r(v as f64 * 0.2, 2);
            if i >= C_FORM {
                w.one_day_view[i] = r(v as f64 * 0.12, 3);
            }
        }
        w
    }

    fn add(&mut self, o: &Windows) {
        for i in 0..N_COUNTS {
            self.one_day_view[i] += o.one_day_view[i];
            self.one_day_click[i] += o.one_day_click[i];
            self.twenty_eight_day_click[i] += o.twenty_eight_day_click[i];
        }
    }

    /// The count of `components` summed, in window `name` (`7d_click` comes from `base`).
    fn get(&self, name: &str, base: &[i64; N_COUNTS], components: &[usize]) -> i64 {
        let src = match name {
            "1d_view" => &self.one_day_view,
            "1d_click" => &self.one_day_click,
            "28d_click" => &self.twenty_eight_day_click,
            _ => base,
        };
        components.iter().map(|c| src[*c]).sum()
    }
}

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
    if let Some(arr) = params::objects(params, "time_ranges")? {
        return arr.iter().map(parse_range).collect();
    }
    if let Some(tr) = params::object(params, "time_range")? {
        return Ok(vec![parse_range(&Value::Object(tr))?]);
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
    /// Requested `action_attribution_windows`, in [`WINDOWS`] order; empty = only `value`.
    windows: Vec<&'static str>,
}

/// Checks the attribution and report-time options and returns the requested windows.
/// What is modelled is accepted; everything else is refused with error 100.
fn attribution_options(params: &[(String, String)]) -> GResult<Vec<&'static str>> {
    if let Some(b) = params::list(params, "action_breakdowns")?
        && b.iter().any(|x| x != "action_type")
    {
        return Err(GraphError::param(format!(
            "action_breakdowns ({}) are not modelled by the Meta sandbox; only action_type (the default) is",
            b.join(", ")
        )));
    }
    for key in [
        "use_unified_attribution_setting",
        "use_account_attribution_setting",
        "graph_cache",
    ] {
        // Every ad set and account of the sandbox uses 7-day click attribution, the same
        // setting the default `value` uses, so both settings give the same figures.
        params::boolean(params, key)?;
    }
    if params::boolean(params, "default_summary")? == Some(true) {
        return Err(GraphError::param(
            "default_summary=true is not modelled by the Meta sandbox",
        ));
    }
    if let Some(t) = param(params, "action_report_time")
        && t != "impression"
    {
        return Err(GraphError::param(format!(
            "action_report_time={t} is not modelled by the Meta sandbox; only impression is (actions are reported on the day of the ad's delivery)"
        )));
    }
    let mut windows = vec![];
    if let Some(asked) = params::list(params, "action_attribution_windows")? {
        for a in &asked {
            if !WINDOWS.contains(&a.as_str()) {
                return Err(GraphError::param(format!(
                    "action_attribution_windows value {a} is not modelled by the Meta sandbox; modelled: {}",
                    WINDOWS.join(", ")
                )));
            }
        }
        windows = WINDOWS
            .iter()
            .copied()
            .filter(|w| asked.iter().any(|a| a == w))
            .collect();
    }
    Ok(windows)
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
    if let Some(b) = params::list(params, "breakdowns")?
        && !b.is_empty()
    {
        return Err(GraphError::param(format!(
            "breakdowns ({}) are not modelled by the Meta sandbox",
            b.join(", ")
        )));
    }
    let windows = attribution_options(params)?;
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
    let filtering = params::objects(params, "filtering")?.unwrap_or_default();
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
        windows,
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
#[derive(Debug, Default)]
pub struct Aggregate {
    pub facts: BTreeMap<(usize, usize), Facts>,
    /// Per-window counts, filled only when attribution windows were asked for.
    pub windows: BTreeMap<(usize, usize), Windows>,
}

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
    q.windows.is_empty().hash(&mut h);
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
    if agg.facts.len() <= 2_000 {
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
    let with_windows = !q.windows.is_empty();
    let mut out = Aggregate::default();
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
            let mut win = Windows::default();
            for d in lo..=hi {
                let day = w.ad_day_restated(ad, d, restatements);
                if with_windows {
                    win.add(&Windows::of_day(w.seed, ad, d, &day));
                }
                acc.add(&day);
            }
            if acc.impressions > 0 || acc.spend > 0 {
                out.facts.entry((g, bi)).or_default().add(&acc);
                if with_windows {
                    out.windows.entry((g, bi)).or_default().add(&win);
                }
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
    windows: Option<&Windows>,
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
    let base = base_counts(f);
    // (action type, the counts it sums); `lead` is always its two components.
    let actions: Vec<(&str, &[usize], i64)> = [
        ("link_click", &[C_LINK][..]),
        ("lead", &[C_FORM, C_PIXEL][..]),
        ("offsite_conversion.fb_pixel_lead", &[C_PIXEL][..]),
        ("onsite_conversion.lead_grouped", &[C_FORM][..]),
        (
            "onsite_conversion.messaging_conversation_started_7d",
            &[C_MSG_STARTED][..],
        ),
        (
            "onsite_conversion.total_messaging_connection",
            &[C_MSG_CONN][..],
        ),
        ("page_engagement", &[C_CLICKS][..]),
        ("post_engagement", &[C_CLICKS][..]),
    ]
    .into_iter()
    .map(|(t, c)| (t, c, c.iter().map(|i| base[*i]).sum::<i64>()))
    .filter(|(_, _, v)| *v > 0)
    .collect();
    let no_windows = Windows::default();
    let win = windows.unwrap_or(&no_windows);
    // One `actions` / `cost_per_action_type` entry: `value` plus the requested window keys.
    let entry = |t: &str, c: &[usize], v: i64, cost: bool| -> Value {
        let shown = |n: i64| {
            if cost {
                (n > 0).then(|| json!(fmt_decimal(major / n as f64)))
            } else {
                Some(json!(n.to_string()))
            }
        };
        let mut e = Map::new();
        e.insert("action_type".into(), json!(t));
        if let Some(x) = shown(v) {
            e.insert("value".into(), x);
        }
        for wname in &q.windows {
            if let Some(x) = shown(win.get(wname, &base, c)) {
                e.insert((*wname).to_string(), x);
            }
        }
        Value::Object(e)
    };
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
                        .map(|(t, c, v)| entry(t, c, *v, false))
                        .collect(),
                )
            }
            "cost_per_action_type" => {
                if actions.is_empty() {
                    continue;
                }
                Value::Array(
                    actions
                        .iter()
                        .map(|(t, c, v)| entry(t, c, *v, true))
                        .collect(),
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
    agg: std::sync::Arc<Aggregate>,
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
        .facts
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
    Ok(Computed {
        q,
        sel,
        entries,
        agg,
    })
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
        .map(|((g, b), f)| row(app, &c.q, *g, *b, f, c.agg.windows.get(&(*g, *b)), &c.sel))
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
        Node::W(o) => {
            params::refuse_unknown(params, OPTIONS, "the insights edge")?;
            (*o, params.to_vec())
        }
        Node::Run(id) => {
            params::refuse_unknown(params, RUN_RESULT_OPTIONS, "a report run's insights")?;
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
            run_fields = params::field_selection(&merged)?;
            run_fields.as_deref()
        }
        _ => sel,
    };
    let Computed {
        q,
        sel,
        entries,
        agg,
    } = compute(app, target, &merged, sel)?;
    let (slice, paging) = graph::paginate(entries, &merged, ctx, 25)?;
    let data = slice
        .iter()
        .map(|((g, b), f)| row(app, &q, *g, *b, f, agg.windows.get(&(*g, *b)), &sel))
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
    params::refuse_unknown(params, OPTIONS, "the insights edge")?;
    let fields = params::field_selection(params)?;
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
