//! The world `crm demo` runs against: sizes, and the people who answer the
//! demo's ads (Lead Ads forms and Click-to-WhatsApp chats).
//!
//! The ad world itself is the regular generated [`World`]: two businesses and
//! five ad accounts. The demo connects the first USD account ("Ventas USA")
//! and the first ARS account ("Ventas Argentina") of the first business, so a
//! size here is chosen by how many campaigns those two accounts hold.

use crate::util::mix;
use crate::world::{World, WorldSize};

/// How big the demo is (`crm demo --size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    /// 8 campaigns over 60 days in the two demo accounts; quick to seed (tests).
    Small,
    /// About 40 campaigns over 120 days in the two demo accounts.
    Normal,
    /// 120 campaigns over a year.
    Large,
}

impl DemoSize {
    pub fn parse(s: &str) -> Option<DemoSize> {
        match s {
            "small" => Some(DemoSize::Small),
            "normal" | "demo" | "medium" => Some(DemoSize::Normal),
            "large" => Some(DemoSize::Large),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DemoSize::Small => "small",
            DemoSize::Normal => "normal",
            DemoSize::Large => "large",
        }
    }

    /// The generated world: campaigns per ad account (the demo uses two of
    /// the five accounts), days of history, ads per campaign.
    pub fn world(self) -> WorldSize {
        match self {
            DemoSize::Small => WorldSize {
                campaigns_per_account: 4,
                days: 60,
                ads_per_campaign: 2,
            },
            DemoSize::Normal => WorldSize {
                campaigns_per_account: 20,
                days: 120,
                ads_per_campaign: 3,
            },
            DemoSize::Large => WorldSize {
                campaigns_per_account: 60,
                days: 365,
                ads_per_campaign: 3,
            },
        }
    }

    /// Upper bound of CRM leads the demo seeds for its history.
    pub fn max_seed_leads(self) -> usize {
        match self {
            DemoSize::Small => 400,
            DemoSize::Normal => 4000,
            DemoSize::Large => 8000,
        }
    }
}

/// The two ad accounts the demo connects: (USD account index, ARS account index).
pub fn demo_accounts(world: &World) -> Option<(usize, usize)> {
    let pick = |cur: &str| {
        world
            .ad_accounts
            .iter()
            .position(|a| a.owner == 0 && a.currency == cur)
    };
    Some((pick("USD")?, pick("ARS")?))
}

const FIRST: &[&str] = &[
    "Agustina",
    "Benjamín",
    "Camila",
    "Damián",
    "Emilia",
    "Federico",
    "Florencia",
    "Gonzalo",
    "Julieta",
    "Lautaro",
    "Lucía",
    "Matías",
    "Micaela",
    "Nahuel",
    "Paula",
    "Ramiro",
    "Sofía",
    "Tomás",
    "Valeria",
    "Joaquín",
    "Milagros",
    "Ezequiel",
    "Abril",
    "Mariano",
];
const LAST: &[&str] = &[
    "Acosta",
    "Benítez",
    "Castro",
    "Domínguez",
    "Ferreyra",
    "Giménez",
    "Herrera",
    "Ibarra",
    "Juárez",
    "Luna",
    "Medina",
    "Molina",
    "Navarro",
    "Ortiz",
    "Quiroga",
    "Ríos",
    "Suárez",
    "Vega",
    "Villalba",
    "Zárate",
];

/// The campaign the demo leaves without any CRM lead (its ads neither use
/// a Lead Ads form nor open WhatsApp, and the live simulation skips it): the
/// delivering Sales or Traffic campaign with the most spend in the two demo
/// accounts.
pub fn silent_campaign(world: &World) -> Option<usize> {
    let (usd, ars) = demo_accounts(world)?;
    world
        .campaigns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.account == usd || c.account == ars)
        .filter(|(_, c)| c.delivers && matches!(c.objective, "OUTCOME_SALES" | "OUTCOME_TRAFFIC"))
        .max_by(|(_, a), (_, b)| {
            let pa = world.ad_accounts[a.account].price_factor;
            let pb = world.ad_accounts[b.account].price_factor;
            (a.daily_minor / pa).total_cmp(&(b.daily_minor / pb))
        })
        .map(|(i, _)| i)
}

/// A made-up person who answers an ad. Deterministic per number `n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPerson {
    pub first_name: String,
    pub name: String,
    pub email: String,
    /// E.164 with `+`, Argentine mobile numbers. Never ends in `0000`
    /// (the sandbox fails those) nor `9` (those never reach "read").
    pub phone: String,
    /// The phone's WhatsApp id (digits only).
    pub wa_id: String,
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            'ñ' => 'n',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Person number `n` of the demo (stable across runs for the same `seed`).
pub fn person(seed: u64, n: u64) -> DemoPerson {
    let h = mix(seed ^ 0xDE40_0000 ^ n.wrapping_mul(0x9E37_79B9));
    let first = FIRST[(h % FIRST.len() as u64) as usize];
    let last = LAST[((h >> 12) % LAST.len() as u64) as usize];
    // 8 digits after 54911 starting with 2..8 (a valid Buenos Aires
    // mobile); unique per n below 7 million, last digit 1..=8.
    let body = 20_000_000 + (n % 7_000_000) * 10 + 1 + (h >> 30) % 8;
    let digits = format!("54911{body:08}");
    DemoPerson {
        first_name: first.to_owned(),
        name: format!("{first} {last}"),
        email: format!("{}.{}{}@example.com", ascii(first), ascii(last), n),
        phone: format!("+{digits}"),
        wa_id: digits,
    }
}

/// What a person writes first in a Click-to-WhatsApp chat.
pub fn first_message(n: u64) -> &'static str {
    const LINES: &[&str] = &[
        "Hola! Vi el anuncio, ¿me pasás más info?",
        "Buenas, quería consultar precios",
        "Hola, ¿sigue vigente la promo?",
        "¿Tienen cuotas sin interés?",
        "Hola! Me interesa, ¿cómo sigo?",
    ];
    LINES[(mix(n) % LINES.len() as u64) as usize]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn people_are_stable_unique_and_deliverable() {
        let a = person(42, 7);
        assert_eq!(a, person(42, 7));
        let mut seen = std::collections::HashSet::new();
        for n in 0..5000 {
            let p = person(42, n);
            assert!(seen.insert(p.wa_id.clone()), "duplicate number {n}");
            assert!(!p.wa_id.ends_with('9') && !p.wa_id.ends_with("0000"));
            assert_eq!(p.wa_id.len(), 13);
            assert!(p.phone.starts_with("+54911"));
        }
    }

    #[test]
    fn the_normal_demo_has_about_forty_campaigns_in_two_currencies() {
        let size = DemoSize::Normal.world();
        let w = World::generate(
            7,
            size,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            "1",
        );
        let (usd, ars) = demo_accounts(&w).unwrap();
        assert_eq!(w.ad_accounts[usd].currency, "USD");
        assert_eq!(w.ad_accounts[ars].currency, "ARS");
        let n = w.ad_accounts[usd].campaigns.len() + w.ad_accounts[ars].campaigns.len();
        assert_eq!(n, 40);
        assert_eq!(w.size.days, 120);
        let silent = silent_campaign(&w).unwrap();
        assert!(
            w.ads
                .iter()
                .filter(|a| a.campaign == silent)
                .all(|a| a.form.is_none())
        );
        assert_eq!(DemoSize::parse("small"), Some(DemoSize::Small));
        assert_eq!(DemoSize::parse("huge"), None);
    }
}
