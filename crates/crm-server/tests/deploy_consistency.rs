#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The alert rules and the Grafana dashboard under `deploy/` name only
//! metrics the server exports, and `docs/operations.md` lists every one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crm_server::telemetry::{CATALOGUE, Kind};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `crm_…` or `http_…` identifier in a text.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cur = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            cur.push(c);
        } else {
            if (cur.starts_with("crm_") || cur.starts_with("http_")) && cur.len() > 4 {
                out.insert(cur.clone());
            }
            cur.clear();
        }
    }
    out
}

/// Whether a series name is exported: a catalogue metric, or the `_sum` /
/// `_count` series of a histogram (exported as a summary).
fn exported(series: &str) -> bool {
    CATALOGUE.iter().any(|m| {
        m.name == series
            || (m.kind == Kind::Histogram
                && (series == format!("{}_sum", m.name) || series == format!("{}_count", m.name)))
    })
}

#[test]
fn the_dashboard_names_only_exported_metrics() {
    let dash: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/crm-ventas.json")).unwrap();
    let mut exprs = vec![];
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        exprs.len() >= 20,
        "the dashboard has {} queries",
        exprs.len()
    );
    let mut used = BTreeSet::new();
    for e in &exprs {
        let names = metric_names(e);
        assert!(!names.is_empty(), "a panel query names no metric: {e}");
        for n in names {
            assert!(
                exported(&n),
                "the dashboard names {n}, which /metrics does not export"
            );
            used.insert(n);
        }
    }
    // Every business gauge has a panel.
    for m in CATALOGUE.iter().filter(|m| m.kind == Kind::Gauge) {
        assert!(used.contains(m.name), "no dashboard panel shows {}", m.name);
    }
}

#[test]
fn the_alert_rules_name_only_exported_metrics_and_link_a_runbook() {
    let text = read("deploy/prometheus/alerts.yml");
    let names = metric_names(&text);
    assert!(names.len() >= 6);
    for n in names {
        assert!(
            exported(&n),
            "alerts.yml names {n}, which /metrics does not export"
        );
    }
    let troubleshooting = read("docs/troubleshooting.md");
    for line in text.lines().filter(|l| l.contains("runbook_url:")) {
        let anchor = line.rsplit_once('#').unwrap().1.trim_end_matches('"');
        assert!(
            troubleshooting.contains(&format!("<a id=\"{anchor}\"></a>")),
            "docs/troubleshooting.md has no anchor {anchor}"
        );
    }
}

#[test]
fn operations_lists_every_metric() {
    let ops = read("docs/operations.md");
    for m in CATALOGUE {
        assert!(
            ops.contains(&format!("`{}`", m.name)),
            "docs/operations.md does not list {}",
            m.name
        );
    }
}
