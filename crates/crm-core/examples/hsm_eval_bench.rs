//! Benchmark: evaluate N leads against R automation rules with the pure rule
//! engine (trigger filter, conditions, variable bindings with fallbacks,
//! rendering, parameter-count check, quiet hours in each lead's time zone,
//! frequency cap). Prints figures; run with
//! `cargo run --release -p crm-core --example hsm_eval_bench -- [leads] [rules]`.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use crm_core::automation::rule::{
    Action, Binding, Condition, Facts, FrequencyCap, Op, QuietHours, RuleSpec, Trigger,
    resolve_bindings,
};
use crm_core::automation::template::{self as tpl, Component, SendValues};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let leads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rules: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let zones: Vec<Tz> = [
        "America/Argentina/Buenos_Aires",
        "America/New_York",
        "Europe/Madrid",
        "America/Mexico_City",
        "America/Bogota",
    ]
    .iter()
    .filter_map(|z| z.parse().ok())
    .collect();
    let sources = ["META_ADS", "WEBSITE", "ORGANIC", "REFERRAL"];
    let statuses = ["new", "contacted", "qualified", "customer"];
    let components = vec![Component {
        kind: "BODY".into(),
        text: Some("Hola {{1}}, soy {{2}} de {{3}}. ¿Seguimos con {{10}}?".into()),
        ..Default::default()
    }];
    let slots = tpl::slots(&components).unwrap_or_default();
    let specs: Vec<RuleSpec> = (0..rules)
        .map(|i| {
            let mut bindings = BTreeMap::new();
            for (k, src) in [
                ("1", "lead.first_name"),
                ("2", "seller.first_name"),
                ("3", "tenant.name"),
                ("10", "opportunity.title"),
            ] {
                bindings.insert(
                    k.to_owned(),
                    Binding {
                        source: src.into(),
                        value: None,
                        fallback: Some("—".into()),
                    },
                );
            }
            RuleSpec {
                name: format!("rule {i}"),
                trigger: Trigger::LeadCreated {
                    source: (i % 2 == 0).then(|| sources[i % sources.len()].to_owned()),
                    channel: None,
                    campaign_id: None,
                },
                conditions: vec![
                    Condition {
                        field: "lead.status".into(),
                        op: Op::In,
                        value: json!([statuses[i % 4], statuses[(i + 1) % 4]]),
                    },
                    Condition {
                        field: "lead.tags".into(),
                        op: Op::NotContains,
                        value: json!("no_contactar"),
                    },
                    Condition {
                        field: "lead.has_phone".into(),
                        op: Op::Exists,
                        value: json!(null),
                    },
                ],
                action: Action {
                    template_name: "seguimiento".into(),
                    language: "es".into(),
                    bindings,
                    add_tag: None,
                    set_status: None,
                },
                delay_minutes: 0,
                quiet_hours: Some(QuietHours {
                    start: "21:00".into(),
                    end: "09:00".into(),
                    timezone: "lead".into(),
                }),
                frequency_cap: Some(FrequencyCap { max: 3, hours: 24 }),
                enabled: true,
            }
        })
        .collect();
    let facts: Vec<(Facts, Tz, u64)> = (0..leads)
        .map(|i| {
            let mut f = Facts::new();
            f.insert("lead.first_name".into(), json!(format!("Lead{i}")));
            f.insert("lead.source".into(), json!(sources[i % 4]));
            f.insert("lead.status".into(), json!(statuses[(i / 4) % 4]));
            f.insert(
                "lead.tags".into(),
                json!(if i % 50 == 0 {
                    vec!["no_contactar"]
                } else {
                    vec!["vip"]
                }),
            );
            f.insert("lead.has_phone".into(), json!(i % 10 != 0));
            f.insert("seller.first_name".into(), json!("Marta"));
            f.insert("tenant.name".into(), json!("Acme"));
            if i % 3 == 0 {
                f.insert("opportunity.title".into(), json!("Plan anual"));
            }
            (f, zones[i % zones.len()], (i % 5) as u64)
        })
        .collect();
    let now = Utc
        .with_ymd_and_hms(2026, 3, 8, 2, 30, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let started = Instant::now();
    let (mut send, mut skip, mut later) = (0u64, 0u64, 0u64);
    for (f, tz, sent_recently) in &facts {
        for spec in &specs {
            if !spec.matches_event("lead_created", &json!({}), f)
                || spec.conditions_hold(f).is_err()
            {
                skip += 1;
                continue;
            }
            if spec
                .frequency_cap
                .as_ref()
                .is_some_and(|c| !c.allows(*sent_recently))
            {
                skip += 1;
                continue;
            }
            let Ok(values) = resolve_bindings(&spec.action.bindings, f) else {
                skip += 1;
                continue;
            };
            let sv = SendValues {
                body: values,
                ..Default::default()
            };
            if tpl::check_values(&slots, &sv).is_err()
                || tpl::render_message(&components, &sv).is_err()
            {
                skip += 1;
                continue;
            }
            if spec
                .quiet_hours
                .as_ref()
                .and_then(|q| q.next_allowed(now, *tz))
                .is_some()
            {
                later += 1;
            } else {
                send += 1;
            }
        }
    }
    let took = started.elapsed();
    let evals = (leads * rules) as f64;
    println!(
        "hsm rule evaluation: {leads} leads x {rules} rules = {} evaluations",
        leads * rules
    );
    println!("  would send: {send}, rescheduled (quiet hours): {later}, skipped: {skip}");
    println!(
        "  time: {:.3} s ({:.0} evaluations/s, {:.2} µs each)",
        took.as_secs_f64(),
        evals / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / evals
    );
}
