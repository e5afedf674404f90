//! Parsing of user input into domain values, with clear errors.

use crate::CoreError;

pub fn email(raw: &str) -> Result<String, CoreError> {
    let e = raw.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.contains(char::is_whitespace)
                && e.matches('@').count() == 1
        });
    if valid {
        Ok(e)
    } else {
        Err(CoreError::validation(
            "invalid_email",
            format!("'{}' is not a valid email address", raw.trim()),
        ))
    }
}

/// The largest amount accepted anywhere, in minor units (10^15: ten trillion
/// in a two-decimal currency). Sums of many such amounts stay far from
/// i64's limit in any one report.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// An amount in minor units, refused above [`MAX_AMOUNT_MINOR`].
pub fn amount_within_bounds(value: i64) -> Result<i64, CoreError> {
    if value > MAX_AMOUNT_MINOR {
        return Err(CoreError::Validation {
            code: "amount_too_large",
            message: format!("amounts are at most {MAX_AMOUNT_MINOR} minor units"),
            details: Some(serde_json::json!({"max": MAX_AMOUNT_MINOR})),
        });
    }
    Ok(value)
}

pub fn password(raw: &str) -> Result<&str, CoreError> {
    let n = raw.chars().count();
    if n < 10 {
        return Err(CoreError::validation(
            "weak_password",
            "the password must have at least 10 characters",
        ));
    }
    if n > 256 {
        return Err(CoreError::validation(
            "invalid_password",
            "the password must have at most 256 characters",
        ));
    }
    Ok(raw)
}

/// Words Spanish-speaking users in Latin America build weak passwords from,
/// which zxcvbn's mostly English lists miss (ranked as a dictionary).
const SPANISH_COMMON: &[&str] = &[
    "contraseña",
    "contrasena",
    "clave",
    "micontraseña",
    "hola",
    "holamundo",
    "amor",
    "miamor",
    "teamo",
    "tequiero",
    "amigos",
    "familia",
    "corazon",
    "princesa",
    "mariposa",
    "estrella",
    "angelito",
    "bonita",
    "hermosa",
    "chiquita",
    "dios",
    "jesus",
    "bendecido",
    "gracias",
    "futbol",
    "boca",
    "bocajuniors",
    "river",
    "riverplate",
    "america",
    "chivas",
    "pumas",
    "cruzazul",
    "barcelona",
    "realmadrid",
    "messi",
    "argentina",
    "mexico",
    "colombia",
    "chile",
    "peru",
    "uruguay",
    "venezuela",
    "brasil",
    "buenosaires",
    "cordoba",
    "rosario",
    "mendoza",
    "guadalajara",
    "monterrey",
    "bogota",
    "medellin",
    "lima",
    "santiago",
    "maria",
    "jose",
    "juan",
    "luis",
    "carlos",
    "jorge",
    "daniel",
    "alejandro",
    "sebastian",
    "valentina",
    "camila",
    "sofia",
    "martina",
    "lucas",
    "mateo",
    "santino",
    "ventas",
    "vendedor",
    "empresa",
    "usuario",
    "admin",
    "administrador",
    "secreto",
    "bienvenido",
    "abc",
    "qwerty",
];

/// A password someone is choosing now: [`password`]'s length rules, and not
/// one that is common, breached or easy to guess. zxcvbn's bundled lists
/// (the most common and most breached passwords, names, English words,
/// keyboard patterns, dates, repeats) and the person's own `personal` words
/// (name, e-mail) estimate the guesses an attacker needs; under a million
/// is refused.
pub fn new_password<'a>(raw: &'a str, personal: &[&str]) -> Result<&'a str, CoreError> {
    let raw = password(raw)?;
    // The e-mail's local part and the name's words count as personal words.
    // Personal words first: zxcvbn ranks this list by position.
    let mut words: Vec<&str> = Vec::new();
    for p in personal {
        words.push(p);
        words.extend(
            p.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 2),
        );
    }
    words.extend_from_slice(SPANISH_COMMON);
    if zxcvbn::zxcvbn(raw, &words).guesses_log10() < 6.0 {
        return Err(CoreError::validation(
            "common_password",
            "this password is too common or too easy to guess (a well-known or breached password, a keyboard pattern, repeated characters, or your own name or e-mail); choose a longer, less predictable one",
        ));
    }
    Ok(raw)
}

pub fn name(field: &'static str, raw: &str, max: usize) -> Result<String, CoreError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(CoreError::validation(
            "required",
            format!("{field} is required"),
        ));
    }
    if v.chars().count() > max {
        return Err(CoreError::validation(
            "too_long",
            format!("{field} must have at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

pub fn timezone(raw: &str) -> Result<String, CoreError> {
    raw.trim()
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            CoreError::validation(
                "invalid_timezone",
                format!("'{raw}' is not an IANA time zone (e.g. America/Argentina/Buenos_Aires)"),
            )
        })
}

pub fn locale(raw: &str) -> Result<String, CoreError> {
    match raw.trim() {
        "es" | "en" => Ok(raw.trim().to_owned()),
        other => Err(CoreError::validation(
            "invalid_locale",
            format!("locale '{other}' is not supported (use es or en)"),
        )),
    }
}

/// ISO 4217 currencies with their minor-unit exponent.
pub const CURRENCIES: &[(&str, u32)] = &[
    ("ARS", 2),
    ("AUD", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("DOP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GTQ", 2),
    ("HNL", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NIO", 2),
    ("PAB", 2),
    ("PEN", 2),
    ("PYG", 0),
    ("USD", 2),
    ("UYU", 2),
    ("VES", 2),
];

pub fn currency(raw: &str) -> Result<String, CoreError> {
    let c = raw.trim().to_uppercase();
    if CURRENCIES.iter().any(|(code, _)| *code == c) {
        Ok(c)
    } else {
        Err(CoreError::validation(
            "invalid_currency",
            format!("'{raw}' is not a supported ISO 4217 currency code"),
        ))
    }
}

pub fn currency_exponent(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

pub fn country(raw: &str) -> Result<String, CoreError> {
    let c = raw.trim().to_uppercase();
    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err(CoreError::validation(
            "invalid_country",
            format!("'{raw}' is not an ISO 3166 alpha-2 country code"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email(" Ana@Example.com ").ok().as_deref(),
            Some("ana@example.com")
        );
        assert!(email("ana@example").is_err());
        assert!(email("a b@example.com").is_err());
        assert!(email("@example.com").is_err());
        assert!(email("a@@example.com").is_err());
    }

    #[test]
    fn timezones_currencies_locales() {
        assert!(timezone("America/Argentina/Buenos_Aires").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
        assert_eq!(currency("usd").ok().as_deref(), Some("USD"));
        assert!(currency("XXX").is_err());
        assert_eq!(currency_exponent("CLP"), Some(0));
        assert!(locale("es").is_ok() && locale("fr").is_err());
        assert!(password("short").is_err() && password("long enough pw").is_ok());
    }
}

#[cfg(test)]
mod password_tests {
    #![allow(clippy::expect_used)]
    use super::new_password;

    #[test]
    fn common_breached_and_personal_passwords_are_refused() {
        for weak in [
            "password123",
            "1234567890",
            "qwertyuiop",
            "aaaaaaaaaaaa",
            "Password1!",
            "iloveyou123",
            "contraseña1",
        ] {
            let e = new_password(weak, &[]).expect_err(weak);
            assert!(
                matches!(e, crate::CoreError::Validation { code, .. } if code == "common_password"),
                "{weak}: {e:?}"
            );
        }
        // Someone's own name and e-mail do not make a password.
        assert!(new_password("carlagomez", &["carla.gomez@acme.test", "Carla Gómez"]).is_err());
        // Too short is still its own error.
        assert!(new_password("short", &[]).is_err());
    }

    #[test]
    fn ordinary_good_passwords_pass() {
        for ok in [
            "demo-ventas-2026",
            "ceo-password-123",
            "seller-password-123",
            "correct-horse-42",
            "Mate con facturas 7",
        ] {
            assert!(new_password(ok, &["someone@example.test"]).is_ok(), "{ok}");
        }
    }
}
