//! Phone numbers: parsed with the tenant's country as the default region and
//! stored in E.164 (`+5491123456789`).

use crate::CoreError;

/// Normalizes a phone number to E.164. `default_country` is an ISO 3166
/// alpha-2 code used when the number has no `+` prefix.
pub fn normalize(raw: &str, default_country: &str) -> Result<String, CoreError> {
    let trimmed = raw.trim();
    let invalid = || {
        CoreError::validation(
            "invalid_phone",
            format!("'{trimmed}' is not a valid phone number for country {default_country}"),
        )
    };
    if trimmed.is_empty() || trimmed.len() > 40 {
        return Err(invalid());
    }
    // WhatsApp ids are digits with the country code and no plus sign.
    let region: Option<phonenumber::country::Id> = default_country.parse().ok();
    let parsed = phonenumber::parse(region, trimmed)
        .ok()
        .filter(phonenumber::is_valid)
        .or_else(|| {
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            if trimmed.starts_with('+') || digits.len() < 8 {
                return None;
            }
            phonenumber::parse(None, format!("+{digits}"))
                .ok()
                .filter(phonenumber::is_valid)
        })
        .ok_or_else(invalid)?;
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// The digits of a phone number (for search).
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_use_the_default_country() {
        assert_eq!(
            normalize("011 15-2345-6789", "AR").ok().as_deref(),
            Some("+5491123456789")
        );
        assert_eq!(
            normalize("+1 (415) 555-2671", "AR").ok().as_deref(),
            Some("+14155552671")
        );
        assert_eq!(
            normalize("55 1234 5678", "MX").ok().as_deref(),
            Some("+525512345678")
        );
    }

    #[test]
    fn wa_ids_without_plus_are_accepted() {
        assert_eq!(
            normalize("5491123456789", "US").ok().as_deref(),
            Some("+5491123456789")
        );
    }

    #[test]
    fn garbage_is_rejected_with_a_code() {
        for bad in ["", "abc", "123", "+99 999"] {
            match normalize(bad, "AR") {
                Err(CoreError::Validation { code, .. }) => assert_eq!(code, "invalid_phone"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
