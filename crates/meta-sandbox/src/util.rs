//! Small helpers: hashing, formatting of Meta-style numbers and times.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// SplitMix64: a tiny, stable hash used for per-day facts (stable across crate versions).
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform float in [0, 1) derived from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Rounds `x` down or up with probability equal to its fractional part, using `h` as randomness.
pub fn stochastic_round(x: f64, h: u64) -> i64 {
    if x <= 0.0 {
        return 0;
    }
    let floor = x.floor();
    let frac = x - floor;
    if unit(h) < frac {
        floor as i64 + 1
    } else {
        floor as i64
    }
}

/// Lowercase hex HMAC-SHA256.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Lowercase hex HMAC-SHA1 (Meta's legacy `X-Hub-Signature`).
pub fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time string equality.
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Formats a float the way Meta's insights do: plain decimal, no exponent, trailing zeros trimmed.
pub fn fmt_decimal(x: f64) -> String {
    if !x.is_finite() {
        return "0".to_string();
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Number of decimals of a currency's minor unit.
pub fn currency_exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "CLP" | "PYG" | "VND" | "ISK" | "COP" => 0,
        _ => 2,
    }
}

/// Minor units to a major-unit decimal string ("12.34").
pub fn fmt_money(minor: i64, currency: &str) -> String {
    let exp = currency_exponent(currency);
    if exp == 0 {
        return minor.to_string();
    }
    let div = 10i64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.abs();
    format!(
        "{sign}{}.{:0width$}",
        m / div,
        m % div,
        width = exp as usize
    )
}

/// Meta's ISO-8601 time with a numeric offset and no colon: `2026-01-05T10:00:00+0000`.
pub fn fmt_time<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

pub fn fmt_time_utc(unix: i64) -> String {
    match Utc.timestamp_opt(unix, 0).single() {
        Some(t) => fmt_time(&t),
        None => String::new(),
    }
}

pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A 22-character trace id like Meta's `fbtrace_id`.
pub fn trace_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut out = String::with_capacity(22);
    let mut h = mix(n ^ 0xFB7A_CE00);
    for i in 0..22 {
        if i % 10 == 0 {
            h = mix(h ^ i as u64);
        }
        out.push(ALPHABET[(h & 63) as usize] as char);
        h >>= 6;
    }
    out
}

/// Redacts `access_token`, `client_secret`, `appsecret_proof` and `input_token` values in a query string.
pub fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            if matches!(
                key,
                "access_token"
                    | "client_secret"
                    | "appsecret_proof"
                    | "input_token"
                    | "fb_exchange_token"
                    | "code"
            ) {
                format!("{key}=REDACTED")
            } else {
                kv.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_decimals() {
        assert_eq!(fmt_money(1234, "USD"), "12.34");
        assert_eq!(fmt_money(5, "ARS"), "0.05");
        assert_eq!(fmt_money(500, "JPY"), "500");
        assert_eq!(fmt_decimal(2.0), "2");
        assert_eq!(fmt_decimal(1.234_567_89), "1.234568");
        assert_eq!(fmt_decimal(0.0), "0");
    }

    #[test]
    fn hmac_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_sha1_known_vector() {
        // RFC 2202 test case 2.
        assert_eq!(
            hmac_sha1_hex(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_query("a=1&access_token=xyz&b=2"),
            "a=1&access_token=REDACTED&b=2"
        );
    }
}
