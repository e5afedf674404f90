//! Money strings from Meta turned into `i64` minor units.
//!
//! Insights send `spend` as a decimal string in major units ("12.34").
//! Budgets and `amount_spent` are integers in Meta's own "offset" units,
//! which differ from ISO 4217 for a few currencies (COP, HUF, TWD, … use
//! offset 1 at Meta although ISO gives them two decimals).
//!
//! Minor units here always follow the ISO 4217 exponent, the CRM's convention.

use thiserror::Error;

/// Why a money string could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("unknown currency code {0:?}")]
    UnknownCurrency(String),
    #[error("invalid amount {amount:?}: {reason}")]
    InvalidAmount {
        amount: String,
        reason: &'static str,
    },
    #[error("amount {0:?} does not fit in 64 bits of minor units")]
    Overflow(String),
}

/// ISO 4217 currencies with no minor unit.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// ISO 4217 currencies with three decimals.
const THREE_DECIMAL: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
/// ISO 4217 currencies with four decimals (funds codes).
const FOUR_DECIMAL: &[&str] = &["CLF", "UYW"];
/// Currencies Meta's Marketing API treats with offset 1 (no cents in budgets).
const META_OFFSET_ONE: &[&str] = &[
    "CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND",
];
/// Two-decimal ISO 4217 codes (the rest of the active list, plus Meta's FBZ credits).
const TWO_DECIMAL: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FBZ", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HRK",
    "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT",
    "LAK", "LBP", "LKR", "LRD", "LSL", "LTL", "LVL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD",
    "SCR", "SDG", "SEK", "SGD", "SHP", "SKK", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS",
    "VEF", "VES", "WST", "XCD", "YER", "ZAR", "ZMW", "ZWL",
];

fn normalise(currency: &str) -> String {
    currency.trim().to_ascii_uppercase()
}

/// The ISO 4217 exponent (number of decimals) of a currency, or `None` when unknown.
pub fn currency_exponent(currency: &str) -> Option<u32> {
    let c = normalise(currency);
    let c = c.as_str();
    if ZERO_DECIMAL.contains(&c) {
        Some(0)
    } else if THREE_DECIMAL.contains(&c) {
        Some(3)
    } else if FOUR_DECIMAL.contains(&c) {
        Some(4)
    } else if TWO_DECIMAL.contains(&c) {
        Some(2)
    } else {
        None
    }
}

/// Meta's Marketing API offset for budget-like integer fields (1 or 100).
pub fn meta_currency_offset(currency: &str) -> Option<i64> {
    let c = normalise(currency);
    currency_exponent(&c)?;
    Some(if META_OFFSET_ONE.contains(&c.as_str()) {
        1
    } else {
        100
    })
}

/// Parses a decimal major-unit string ("12.34", "1234", "-0.5") into minor
/// units of `currency`. Digits beyond the currency's exponent are rounded
/// half away from zero.
pub fn parse_money(amount: &str, currency: &str) -> Result<i64, MoneyError> {
    let exp = currency_exponent(currency)
        .ok_or_else(|| MoneyError::UnknownCurrency(currency.to_string()))?;
    parse_decimal_scaled(amount, exp)
}

/// Converts an integer amount in Meta's offset units (budgets, `amount_spent`,
/// `spend_cap`) into ISO minor units.
pub fn meta_offset_amount_to_minor(amount: &str, currency: &str) -> Result<i64, MoneyError> {
    let exp = currency_exponent(currency)
        .ok_or_else(|| MoneyError::UnknownCurrency(currency.to_string()))?;
    let offset = meta_currency_offset(currency)
        .ok_or_else(|| MoneyError::UnknownCurrency(currency.to_string()))?;
    let raw: i64 = amount
        .trim()
        .parse()
        .map_err(|_| MoneyError::InvalidAmount {
            amount: amount.to_string(),
            reason: "expected an integer in Meta offset units",
        })?;
    // value in major units = raw / offset; minor = raw * 10^exp / offset
    let scale = 10_i128.pow(exp);
    let num = i128::from(raw) * scale;
    let off = i128::from(offset);
    if num % off != 0 {
        // e.g. BHD (offset 100, exponent 3) is exact; guard against surprises
        return Err(MoneyError::InvalidAmount {
            amount: amount.to_string(),
            reason: "not representable in the currency's minor units",
        });
    }
    i64::try_from(num / off).map_err(|_| MoneyError::Overflow(amount.to_string()))
}

/// Formats minor units back to a major-unit decimal string ("12.34").
pub fn format_minor(minor: i64, currency: &str) -> Result<String, MoneyError> {
    let exp = currency_exponent(currency)
        .ok_or_else(|| MoneyError::UnknownCurrency(currency.to_string()))?;
    if exp == 0 {
        return Ok(minor.to_string());
    }
    let scale = 10_u64.pow(exp);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    Ok(format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exp as usize
    ))
}

fn parse_decimal_scaled(amount: &str, exp: u32) -> Result<i64, MoneyError> {
    let invalid = |reason| MoneyError::InvalidAmount {
        amount: amount.to_string(),
        reason,
    };
    let s = amount.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid("empty amount"));
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid("only digits and one decimal point are allowed"));
    }
    let overflow = || MoneyError::Overflow(amount.to_string());
    let mut value: i128 = 0;
    for b in int_part.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(overflow)?;
        if value > i128::from(i64::MAX) {
            return Err(overflow());
        }
    }
    let exp_usize = exp as usize;
    let frac = frac_part.as_bytes();
    for i in 0..exp_usize {
        let d = frac.get(i).map_or(0, |b| i128::from(b - b'0'));
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or_else(overflow)?;
    }
    if let Some(next) = frac.get(exp_usize)
        && *next >= b'5'
    {
        value += 1;
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| overflow())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn exponents() {
        assert_eq!(currency_exponent("USD"), Some(2));
        assert_eq!(currency_exponent("ars"), Some(2));
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("CLP"), Some(0));
        assert_eq!(currency_exponent("KWD"), Some(3));
        assert_eq!(currency_exponent("XYZ"), None);
    }

    #[test]
    fn parses_spend_strings() {
        assert_eq!(parse_money("12.34", "USD").unwrap(), 1234);
        assert_eq!(parse_money("12.3", "ARS").unwrap(), 1230);
        assert_eq!(parse_money("12", "USD").unwrap(), 1200);
        assert_eq!(parse_money("0.00", "USD").unwrap(), 0);
        assert_eq!(parse_money("1234", "JPY").unwrap(), 1234);
        assert_eq!(parse_money("1234.00", "CLP").unwrap(), 1234);
        assert_eq!(parse_money("1.2345", "KWD").unwrap(), 1235);
        assert_eq!(parse_money("0.125", "USD").unwrap(), 13);
        assert_eq!(parse_money("-3.50", "EUR").unwrap(), -350);
        assert_eq!(parse_money(".5", "USD").unwrap(), 50);
    }

    #[test]
    fn rejects_bad_amounts() {
        assert!(matches!(
            parse_money("", "USD"),
            Err(MoneyError::InvalidAmount { .. })
        ));
        assert!(matches!(
            parse_money("1,00", "USD"),
            Err(MoneyError::InvalidAmount { .. })
        ));
        assert!(matches!(
            parse_money("1e3", "USD"),
            Err(MoneyError::InvalidAmount { .. })
        ));
        assert!(matches!(
            parse_money("1.0", "???"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            parse_money("99999999999999999999", "USD"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn meta_offset_budgets() {
        assert_eq!(meta_offset_amount_to_minor("5000", "USD").unwrap(), 5000);
        assert_eq!(meta_offset_amount_to_minor("5000", "JPY").unwrap(), 5000);
        // COP: Meta offset 1, ISO exponent 2: 5000 pesos = 500000 centavos
        assert_eq!(meta_offset_amount_to_minor("5000", "COP").unwrap(), 500_000);
        // BHD: Meta offset 100, ISO exponent 3
        assert_eq!(meta_offset_amount_to_minor("1234", "BHD").unwrap(), 12_340);
        assert!(meta_offset_amount_to_minor("12.5", "USD").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format_minor(1234, "USD").unwrap(), "12.34");
        assert_eq!(format_minor(-5, "USD").unwrap(), "-0.05");
        assert_eq!(format_minor(1234, "JPY").unwrap(), "1234");
        assert_eq!(format_minor(1235, "KWD").unwrap(), "1.235");
    }
}
