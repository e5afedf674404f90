//! The Marketing Hub metrics contract as pure functions.
//!
//! Every number the API, the UI and the docs show is defined here once
//! (`docs/marketing-metrics.md` explains each). Money is integer minor units;
//! ratios and percentages are `f64` rounded to two decimals and `None` when the
//! denominator is zero.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CoreError;

/// An inclusive range of calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct DateRange {
    pub since: NaiveDate,
    pub until: NaiveDate,
}

impl DateRange {
    pub fn new(since: NaiveDate, until: NaiveDate) -> Result<Self, CoreError> {
        if since > until {
            return Err(CoreError::validation(
                "invalid_range",
                format!("since ({since}) is after until ({until})"),
            ));
        }
        Ok(Self { since, until })
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> i64 {
        (self.until - self.since).num_days() + 1
    }

    /// The period of equal length just before this one.
    pub fn previous(&self) -> DateRange {
        let len = self.days();
        let until = self.since - Duration::days(1);
        DateRange {
            since: until - Duration::days(len - 1),
            until,
        }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        d >= self.since && d <= self.until
    }

    /// Every day of the range, in order.
    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let since = self.since;
        (0..self.days()).map(move |i| since + Duration::days(i))
    }
}

/// Attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Leads created in the period; their later outcomes count, up to now.
    #[default]
    Cohort,
    /// Each event counts in the period it happens in.
    Activity,
}

impl Model {
    pub fn parse(s: Option<&str>) -> Result<Model, CoreError> {
        match s.map(str::trim) {
            None | Some("") | Some("cohort") => Ok(Model::Cohort),
            Some("activity") => Ok(Model::Activity),
            Some(other) => Err(CoreError::validation(
                "invalid_model",
                format!("model must be cohort or activity, not '{other}'"),
            )),
        }
    }
}

/// Resolves the period of a request. `today` is the tenant's today;
/// `first_data` is the first day with any data (for `all`).
pub fn resolve_period(
    time_range: Option<&str>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
    today: NaiveDate,
    first_data: Option<NaiveDate>,
) -> Result<DateRange, CoreError> {
    match (since, until) {
        (Some(s), Some(u)) => {
            if time_range.is_some_and(|t| !t.trim().is_empty()) {
                return Err(CoreError::validation(
                    "invalid_range",
                    "give either time_range or since/until, not both",
                ));
            }
            if (u - s).num_days() > 3700 {
                return Err(CoreError::validation(
                    "invalid_range",
                    "the range may span at most about ten years",
                ));
            }
            return DateRange::new(s, u);
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(CoreError::validation(
                "invalid_range",
                "since and until must be given together",
            ));
        }
        (None, None) => {}
    }
    let key = time_range.map(str::trim).unwrap_or("30d");
    let last_n = |n: i64| DateRange {
        since: today - Duration::days(n - 1),
        until: today,
    };
    let month_start = |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d);
    Ok(match key {
        "7d" | "last_7d" => last_n(7),
        "" | "30d" | "last_30d" => last_n(30),
        "90d" | "last_90d" => last_n(90),
        "this_month" => DateRange {
            since: month_start(today),
            until: today,
        },
        "last_month" => {
            let until = month_start(today) - Duration::days(1);
            DateRange {
                since: month_start(until),
                until,
            }
        }
        "this_year" => DateRange {
            since: NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            until: today,
        },
        "all" | "lifetime" => DateRange {
            since: first_data.filter(|d| *d <= today).unwrap_or(today),
            until: today,
        },
        other => {
            return Err(CoreError::validation(
                "invalid_time_range",
                format!(
                    "time_range '{other}' is not one of 7d, 30d, 90d, this_month, last_month, \
                     this_year, all (or last_7d, last_30d, last_90d, lifetime)"
                ),
            ));
        }
    })
}

/// Rounds to two decimals.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// (current − previous) / previous × 100; `None` when previous is 0.
pub fn change(current: i64, previous: i64) -> Option<f64> {
    if previous == 0 {
        return None;
    }
    Some(round2(
        (current - previous) as f64 / previous.unsigned_abs() as f64 * 100.0,
    ))
}

/// (revenue − spend) / spend × 100; `None` when spend is 0.
pub fn roi_pct(revenue: i64, spend: i64) -> Option<f64> {
    if spend == 0 {
        return None;
    }
    Some(round2((revenue - spend) as f64 / spend as f64 * 100.0))
}

/// Percentage-point difference between two ROIs; `None` when either is.
pub fn roi_change(current: Option<f64>, previous: Option<f64>) -> Option<f64> {
    Some(round2(current? - previous?))
}

/// revenue / spend; `None` when spend is 0.
pub fn roas(revenue: i64, spend: i64) -> Option<f64> {
    if spend == 0 {
        return None;
    }
    Some(round2(revenue as f64 / spend as f64))
}

/// Integer division of money by a count, rounded half away from zero, in
/// minor units; `None` when the count is 0 (CPL, CPA, CPC).
pub fn per(amount_minor: i64, count: i64) -> Option<i64> {
    if count == 0 {
        return None;
    }
    Some(div_round(i128::from(amount_minor), i128::from(count)) as i64)
}

/// Cost per thousand impressions, in minor units.
pub fn cpm(spend_minor: i64, impressions: i64) -> Option<i64> {
    if impressions == 0 {
        return None;
    }
    Some(div_round(i128::from(spend_minor) * 1000, i128::from(impressions)) as i64)
}

/// part / whole × 100; `None` when whole is 0.
pub fn rate_pct(part: i64, whole: i64) -> Option<f64> {
    if whole == 0 {
        return None;
    }
    Some(round2(part as f64 / whole as f64 * 100.0))
}

fn div_round(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d.abs() {
        if (n < 0) != (d < 0) { q - 1 } else { q + 1 }
    } else {
        q
    }
}

/// Minor units as a JSON number in major units, exact to the exponent.
pub fn major(amount_minor: i64, exponent: u32) -> f64 {
    let scale = 10i64.pow(exponent);
    // Format then parse, so 1234 cents is exactly the decimal 12.34.
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let s = if exponent == 0 {
        format!("{sign}{abs}")
    } else {
        format!(
            "{sign}{}.{:0width$}",
            abs / scale as u64,
            abs % scale as u64,
            width = exponent as usize
        )
    };
    s.parse().unwrap_or(0.0)
}

/// Parses an FX rate written as a decimal ("1234.5", "0.00093") into
/// billionths. At most 9 decimals; must be positive.
pub fn parse_rate(s: &str) -> Result<i64, CoreError> {
    let bad = || {
        CoreError::validation(
            "invalid_rate",
            format!("'{s}' is not a positive decimal rate with at most 9 decimals"),
        )
    };
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 9
        || int.len() > 9
    {
        return Err(bad());
    }
    let int_v: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    let v = int_v * 1_000_000_000 + frac_v;
    if v <= 0 {
        return Err(bad());
    }
    Ok(v)
}

/// Formats billionths back as a decimal string without trailing zeros.
pub fn format_rate(rate_e9: i64) -> String {
    let int = rate_e9 / 1_000_000_000;
    let frac = rate_e9 % 1_000_000_000;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:09}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// Converts minor units of one currency into minor units of another with a
/// rate in billionths, rounding half away from zero.
pub fn convert(amount_minor: i64, from_exp: u32, to_exp: u32, rate_e9: i64) -> i64 {
    // Saturates instead of wrapping; the rollups use [`checked_convert`].
    checked_convert(amount_minor, from_exp, to_exp, rate_e9).unwrap_or(
        if (amount_minor < 0) != (rate_e9 < 0) {
            i64::MIN
        } else {
            i64::MAX
        },
    )
}

/// [`convert`], or `None` when the result does not fit in an `i64`.
pub fn checked_convert(amount_minor: i64, from_exp: u32, to_exp: u32, rate_e9: i64) -> Option<i64> {
    let n = i128::from(amount_minor)
        .checked_mul(i128::from(rate_e9))?
        .checked_mul(10i128.checked_pow(to_exp)?)?;
    let d = 1_000_000_000i128.checked_mul(10i128.checked_pow(from_exp)?)?;
    i64::try_from(div_round(n, d)).ok()
}

/// Whether a UTM source names Meta.
pub fn utm_source_is_meta(source: &str) -> bool {
    matches!(
        source.trim().to_ascii_lowercase().as_str(),
        "facebook" | "fb" | "instagram" | "ig" | "meta"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn presets_resolve_against_today() {
        let today = d("2026-11-21");
        let r =
            |t: &str| resolve_period(Some(t), None, None, today, Some(d("2024-03-02"))).unwrap();
        assert_eq!(
            r("7d"),
            DateRange {
                since: d("2026-11-15"),
                until: today
            }
        );
        assert_eq!(r("last_7d"), r("7d"));
        assert_eq!(r("30d").since, d("2026-10-23"));
        assert_eq!(r("last_30d"), r("30d"));
        assert_eq!(r("90d").since, d("2026-08-24"));
        assert_eq!(r("90d").days(), 90);
        assert_eq!(
            r("this_month"),
            DateRange {
                since: d("2026-11-01"),
                until: today
            }
        );
        assert_eq!(
            r("last_month"),
            DateRange {
                since: d("2026-10-01"),
                until: d("2026-10-31")
            }
        );
        assert_eq!(r("this_year").since, d("2026-01-01"));
        assert_eq!(r("all").since, d("2024-03-02"));
        assert_eq!(r("lifetime"), r("all"));
        let def = resolve_period(None, None, None, today, None).unwrap();
        assert_eq!(def, r("30d"));
        let all_empty = resolve_period(Some("all"), None, None, today, None).unwrap();
        assert_eq!(all_empty.days(), 1);
    }

    #[test]
    fn last_month_in_january_is_december() {
        let r = resolve_period(Some("last_month"), None, None, d("2026-01-15"), None).unwrap();
        assert_eq!(
            r,
            DateRange {
                since: d("2025-12-01"),
                until: d("2025-12-31")
            }
        );
    }

    #[test]
    fn explicit_ranges_and_errors() {
        let today = d("2026-11-21");
        let r = resolve_period(
            None,
            Some(d("2026-11-01")),
            Some(d("2026-11-10")),
            today,
            None,
        )
        .unwrap();
        assert_eq!(r.days(), 10);
        let code = |e: CoreError| match e {
            CoreError::Validation { code, .. } => code,
            _ => "other",
        };
        assert_eq!(
            code(
                resolve_period(
                    None,
                    Some(d("2026-11-10")),
                    Some(d("2026-11-01")),
                    today,
                    None
                )
                .unwrap_err()
            ),
            "invalid_range"
        );
        assert_eq!(
            code(resolve_period(None, Some(d("2026-11-10")), None, today, None).unwrap_err()),
            "invalid_range"
        );
        assert_eq!(
            code(resolve_period(Some("yesterday"), None, None, today, None).unwrap_err()),
            "invalid_time_range"
        );
        assert_eq!(
            code(resolve_period(Some("7d"), Some(today), Some(today), today, None).unwrap_err()),
            "invalid_range"
        );
    }

    #[test]
    fn previous_period_has_equal_length_just_before() {
        let r = DateRange::new(d("2026-11-15"), d("2026-11-21")).unwrap();
        assert_eq!(
            r.previous(),
            DateRange {
                since: d("2026-11-08"),
                until: d("2026-11-14")
            }
        );
        let m = DateRange::new(d("2026-03-01"), d("2026-03-31")).unwrap();
        assert_eq!(m.previous().days(), 31);
        assert_eq!(m.previous().until, d("2026-02-28"));
        assert_eq!(r.iter_days().count(), 7);
    }

    #[test]
    fn changes_and_ratios_follow_the_contract() {
        assert_eq!(change(150, 100), Some(50.0));
        assert_eq!(change(50, 100), Some(-50.0));
        assert_eq!(change(5, 0), None);
        assert_eq!(change(0, 3), Some(-100.0));
        assert_eq!(change(1, 3), Some(-66.67));
        assert_eq!(roi_pct(25_000, 10_000), Some(150.0));
        assert_eq!(roi_pct(0, 10_000), Some(-100.0));
        assert_eq!(roi_pct(10, 0), None);
        assert_eq!(roi_change(Some(150.0), Some(-20.5)), Some(170.5));
        assert_eq!(roi_change(Some(1.0), None), None);
        assert_eq!(roas(25_000, 10_000), Some(2.5));
        assert_eq!(roas(1, 0), None);
        assert_eq!(per(10_000, 3), Some(3333));
        assert_eq!(per(10_001, 2), Some(5001)); // 5000.5 rounds up
        assert_eq!(per(-5, 2), Some(-3));
        assert_eq!(per(100, 0), None);
        assert_eq!(cpm(1234, 1000), Some(1234));
        assert_eq!(cpm(1, 0), None);
        assert_eq!(rate_pct(1, 3), Some(33.33));
        assert_eq!(rate_pct(1, 0), None);
    }

    #[test]
    fn money_in_major_units_is_exact() {
        assert_eq!(major(1234, 2), 12.34);
        assert_eq!(major(-5, 2), -0.05);
        assert_eq!(major(1500, 0), 1500.0);
        assert_eq!(major(1, 3), 0.001);
        assert_eq!(serde_json::to_string(&major(1999, 2)).unwrap(), "19.99");
    }

    #[test]
    fn conversions_that_do_not_fit_are_refused_not_wrapped() {
        // 10^15 minor units at a rate of 100,000 do not fit in an i64.
        let rate = parse_rate("100000").unwrap();
        assert_eq!(checked_convert(1_000_000_000_000_000, 2, 2, rate), None);
        assert_eq!(convert(1_000_000_000_000_000, 2, 2, rate), i64::MAX);
        assert_eq!(convert(-1_000_000_000_000_000, 2, 2, rate), i64::MIN);
        assert_eq!(
            checked_convert(1234, 2, 2, parse_rate("1000").unwrap()),
            Some(1_234_000)
        );
    }

    #[test]
    fn rates_parse_format_and_convert() {
        assert_eq!(parse_rate("1").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("0.001").unwrap(), 1_000_000);
        assert_eq!(parse_rate("1050.5").unwrap(), 1_050_500_000_000);
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("1e3").is_err());
        assert!(parse_rate("0.0000000001").is_err());
        assert!(parse_rate("").is_err());
        assert_eq!(format_rate(1_050_500_000_000), "1050.5");
        assert_eq!(format_rate(1_000_000_000), "1");
        // 1000.00 ARS at 0.001 USD/ARS = 1.00 USD
        assert_eq!(convert(100_000, 2, 2, parse_rate("0.001").unwrap()), 100);
        // 12.34 USD at 1000 ARS/USD = 12340.00 ARS
        assert_eq!(convert(1234, 2, 2, parse_rate("1000").unwrap()), 1_234_000);
        // JPY (exp 0) to USD (exp 2): 1000 JPY at 0.0067 = 6.70 USD
        assert_eq!(convert(1000, 0, 2, parse_rate("0.0067").unwrap()), 670);
        // rounding half away from zero: 0.5 cent
        assert_eq!(convert(1, 2, 2, parse_rate("0.5").unwrap()), 1);
        assert_eq!(convert(-1, 2, 2, parse_rate("0.5").unwrap()), -1);
    }

    #[test]
    fn utm_sources_naming_meta() {
        for s in ["facebook", "FB", "instagram", "ig", " Meta "] {
            assert!(utm_source_is_meta(s), "{s}");
        }
        for s in ["google", "", "facebook.com", "tiktok"] {
            assert!(!utm_source_is_meta(s), "{s}");
        }
    }

    #[test]
    fn model_parsing() {
        assert_eq!(Model::parse(None).unwrap(), Model::Cohort);
        assert_eq!(Model::parse(Some("activity")).unwrap(), Model::Activity);
        assert!(Model::parse(Some("linear")).is_err());
    }
}
