//! Rate-limit usage headers Meta attaches to Graph responses.
//!
//! Every header value is a JSON string. Throttling starts when any
//! percentage reaches 100, so callers can slow down by watching
//! [`Usage::max_pct`].

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// `X-App-Usage`: percentages of the app-level limit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AppUsage {
    #[serde(default)]
    pub call_count: f64,
    #[serde(default)]
    pub total_cputime: f64,
    #[serde(default)]
    pub total_time: f64,
}

/// One entry of `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BusinessUseCaseUsage {
    /// The business or object id the entry is keyed by.
    #[serde(default)]
    pub object_id: String,
    /// `ads_insights`, `ads_management`, `leadgen`, `pages`, …
    #[serde(rename = "type", default)]
    pub use_case: String,
    #[serde(default)]
    pub call_count: f64,
    #[serde(default)]
    pub total_cputime: f64,
    #[serde(default)]
    pub total_time: f64,
    /// Minutes until calls are allowed again (0 when not throttled).
    #[serde(default)]
    pub estimated_time_to_regain_access: Option<f64>,
    #[serde(default)]
    pub ads_api_access_tier: Option<String>,
}

/// `X-Ad-Account-Usage`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AdAccountUsage {
    #[serde(default)]
    pub acc_id_util_pct: f64,
    /// Seconds until the account's usage resets.
    #[serde(default)]
    pub reset_time_duration: Option<f64>,
    #[serde(default)]
    pub ads_api_access_tier: Option<String>,
}

/// `x-fb-ads-insights-throttle`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InsightsThrottle {
    #[serde(default)]
    pub app_id_util_pct: f64,
    #[serde(default)]
    pub acc_id_util_pct: f64,
}

/// All usage headers of one response. Missing or malformed headers are `None`/empty.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub app: Option<AppUsage>,
    pub business_use_case: Vec<BusinessUseCaseUsage>,
    pub ad_account: Option<AdAccountUsage>,
    pub insights_throttle: Option<InsightsThrottle>,
}

impl Usage {
    /// Parses the usage headers from a response's header map.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        Self::from_header_values(
            get("x-app-usage"),
            get("x-business-use-case-usage"),
            get("x-ad-account-usage"),
            get("x-fb-ads-insights-throttle"),
        )
    }

    /// Parses the raw JSON strings of the four usage headers.
    pub fn from_header_values(
        app: Option<&str>,
        business_use_case: Option<&str>,
        ad_account: Option<&str>,
        insights_throttle: Option<&str>,
    ) -> Self {
        let app = app.and_then(|s| serde_json::from_str::<AppUsage>(s).ok());
        let ad_account = ad_account.and_then(|s| serde_json::from_str::<AdAccountUsage>(s).ok());
        let insights_throttle =
            insights_throttle.and_then(|s| serde_json::from_str::<InsightsThrottle>(s).ok());
        let mut buc = Vec::new();
        if let Some(raw) = business_use_case
            && let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw)
        {
            for (object_id, entries) in map {
                let list = match entries {
                    serde_json::Value::Array(list) => list,
                    other => vec![other],
                };
                for entry in list {
                    if let Ok(mut parsed) = serde_json::from_value::<BusinessUseCaseUsage>(entry) {
                        parsed.object_id = object_id.clone();
                        buc.push(parsed);
                    }
                }
            }
        }
        Self {
            app,
            business_use_case: buc,
            ad_account,
            insights_throttle,
        }
    }

    /// `true` when no usage header was present.
    pub fn is_empty(&self) -> bool {
        self.app.is_none()
            && self.business_use_case.is_empty()
            && self.ad_account.is_none()
            && self.insights_throttle.is_none()
    }

    /// The highest utilisation percentage across every header (0 when none).
    /// Meta throttles at 100; slow down well before.
    pub fn max_pct(&self) -> f64 {
        let mut values = Vec::new();
        if let Some(a) = &self.app {
            values.extend([a.call_count, a.total_cputime, a.total_time]);
        }
        for b in &self.business_use_case {
            values.extend([b.call_count, b.total_cputime, b.total_time]);
        }
        if let Some(a) = &self.ad_account {
            values.push(a.acc_id_util_pct);
        }
        if let Some(i) = &self.insights_throttle {
            values.extend([i.app_id_util_pct, i.acc_id_util_pct]);
        }
        values.into_iter().fold(0.0, f64::max)
    }

    /// The wait Meta advertises before access is regained: the largest of the
    /// business-use-case `estimated_time_to_regain_access` (minutes) and the
    /// ad-account `reset_time_duration` (seconds). `None` when no header says.
    pub fn regain_access_after(&self) -> Option<Duration> {
        let buc = self
            .business_use_case
            .iter()
            .filter_map(|b| b.estimated_time_to_regain_access)
            .filter(|m| m.is_finite() && *m >= 0.0)
            .map(|m| m * 60.0)
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            });
        let acct = self
            .ad_account
            .as_ref()
            .and_then(|a| a.reset_time_duration)
            .filter(|s| s.is_finite() && *s >= 0.0);
        let secs = match (buc, acct) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }?;
        Some(Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_all_four_headers() {
        let u = Usage::from_header_values(
            Some(r#"{"call_count":28,"total_cputime":25,"total_time":12}"#),
            Some(
                r#"{"112233":[{"type":"ads_management","call_count":95,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":2,"ads_api_access_tier":"development_access"},{"type":"ads_insights","call_count":10,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#,
            ),
            Some(
                r#"{"acc_id_util_pct":9.67,"reset_time_duration":45,"ads_api_access_tier":"standard_access"}"#,
            ),
            Some(r#"{"app_id_util_pct":3,"acc_id_util_pct":101}"#),
        );
        assert_eq!(u.app.as_ref().unwrap().call_count, 28.0);
        assert_eq!(u.business_use_case.len(), 2);
        let mgmt = u
            .business_use_case
            .iter()
            .find(|b| b.use_case == "ads_management")
            .unwrap();
        assert_eq!(mgmt.object_id, "112233");
        assert_eq!(mgmt.estimated_time_to_regain_access, Some(2.0));
        assert_eq!(u.ad_account.as_ref().unwrap().acc_id_util_pct, 9.67);
        assert_eq!(u.max_pct(), 101.0);
        // 2 minutes beats 45 seconds
        assert_eq!(u.regain_access_after(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn ad_account_reset_alone_gives_seconds() {
        let u = Usage::from_header_values(
            None,
            None,
            Some(r#"{"acc_id_util_pct":100,"reset_time_duration":3}"#),
            None,
        );
        assert_eq!(u.regain_access_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn missing_or_garbage_headers_are_empty() {
        let u = Usage::from_header_values(Some("not json"), Some("[]"), None, None);
        assert!(u.is_empty());
        assert_eq!(u.regain_access_after(), None);
        assert_eq!(u.max_pct(), 0.0);
    }

    #[test]
    fn reads_from_a_header_map() {
        let mut h = HeaderMap::new();
        h.insert(
            "X-App-Usage",
            r#"{"call_count":50,"total_cputime":0,"total_time":0}"#
                .parse()
                .unwrap(),
        );
        let u = Usage::from_headers(&h);
        assert_eq!(u.max_pct(), 50.0);
    }
}
