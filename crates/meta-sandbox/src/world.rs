//! The seeded world: users, businesses, ad accounts, campaigns, ads, pages, forms, WABAs.
//!
//! Structure is generated eagerly (it is small even at 1,000 campaigns per account); daily
//! facts are computed on demand from a hash of (seed, ad, day), so 1,000 campaigns x 365 days
//! costs no memory.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::util::{mix, stochastic_round, unit};

/// How big the generated world is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorldSize {
    pub campaigns_per_account: usize,
    pub days: u32,
    pub ads_per_campaign: usize,
}

impl WorldSize {
    /// Fast worlds for tests: 4 campaigns per account, 60 days, 2 ads per campaign.
    pub fn small() -> Self {
        WorldSize {
            campaigns_per_account: 4,
            days: 60,
            ads_per_campaign: 2,
        }
    }
    /// A world for `crm demo`: 12 campaigns per account, 180 days, 3 ads per campaign.
    pub fn demo() -> Self {
        WorldSize {
            campaigns_per_account: 12,
            days: 180,
            ads_per_campaign: 3,
        }
    }
    /// Benchmarks: 1,000 campaigns per account, 365 days, 3 ads per campaign.
    pub fn large() -> Self {
        WorldSize {
            campaigns_per_account: 1000,
            days: 365,
            ads_per_campaign: 3,
        }
    }
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "small" => Some(Self::small()),
            "demo" => Some(Self::demo()),
            "large" => Some(Self::large()),
            _ => None,
        }
    }
}

impl Default for WorldSize {
    fn default() -> Self {
        Self::small()
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub businesses: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Business {
    pub id: String,
    pub name: String,
    pub created_time: i64,
}

#[derive(Debug, Clone)]
pub struct AdAccount {
    pub account_id: String,
    pub name: String,
    pub currency: &'static str,
    pub tz: Tz,
    pub owner: usize,
    pub clients: Vec<usize>,
    pub account_status: i64,
    pub created_time: i64,
    /// Minor units of this currency per US cent, used to scale spend.
    pub price_factor: f64,
    pub campaigns: std::ops::Range<usize>,
}

impl AdAccount {
    pub fn act_id(&self) -> String {
        format!("act_{}", self.account_id)
    }
    pub fn tz_offset_hours(&self) -> f64 {
        let now = Utc::now().with_timezone(&self.tz);
        use chrono::Offset;
        f64::from(now.offset().fix().local_minus_utc()) / 3600.0
    }
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub account: usize,
    pub name: String,
    pub objective: &'static str,
    pub status: &'static str,
    pub daily_budget: Option<i64>,
    pub lifetime_budget: Option<i64>,
    pub created_time: i64,
    /// First and one-past-last day index with delivery.
    pub start_day: i64,
    pub end_day: i64,
    pub delivers: bool,
    /// Daily spend at full pace, in the account's minor units.
    pub daily_minor: f64,
    pub cpm_cents: f64,
    pub ctr: f64,
    pub cvr: f64,
    pub adsets: std::ops::Range<usize>,
    pub product: usize,
}

#[derive(Debug, Clone)]
pub struct AdSet {
    pub id: String,
    pub campaign: usize,
    pub name: String,
    pub status: &'static str,
    pub daily_budget: Option<i64>,
    pub optimization_goal: &'static str,
    pub destination_type: &'static str,
    pub ads: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Creative {
    pub id: String,
    pub name: String,
    pub title: String,
    pub body: String,
    pub image_url: String,
    pub call_to_action_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct Ad {
    pub id: String,
    pub adset: usize,
    pub campaign: usize,
    pub account: usize,
    pub name: String,
    pub status: &'static str,
    pub share: f64,
    pub creative: Creative,
    pub form: Option<usize>,
    pub num: u64,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub category: &'static str,
    pub business: usize,
}

#[derive(Debug, Clone)]
pub struct Question {
    pub key: String,
    pub label: String,
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    pub page: usize,
    pub name: String,
    pub locale: &'static str,
    pub created_time: i64,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone)]
pub struct Waba {
    pub id: String,
    pub name: String,
    pub business: usize,
    pub currency: &'static str,
    pub timezone_id: &'static str,
    pub namespace: String,
}

#[derive(Debug, Clone)]
pub struct Phone {
    pub id: String,
    pub waba: usize,
    pub display_phone_number: String,
    pub verified_name: String,
    pub quality_rating: &'static str,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub business: usize,
}

/// A reference to an object of the static world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    App,
    User(usize),
    Business(usize),
    AdAccount(usize),
    Campaign(usize),
    AdSet(usize),
    Ad(usize),
    Creative(usize),
    Page(usize),
    Form(usize),
    Waba(usize),
    Phone(usize),
    Dataset(usize),
}

/// A lead that exists when the world is generated.
#[derive(Debug, Clone)]
pub struct SeedLead {
    pub form: usize,
    pub ad: Option<usize>,
    pub created_time: i64,
    pub full_name: String,
    pub email: String,
    pub phone: String,
    pub answer: String,
}

#[derive(Debug, Clone)]
pub struct SeedContact {
    pub waba: usize,
    pub wa_id: String,
    pub name: String,
    /// Seconds before "now" of the last inbound message, if any.
    pub last_inbound_ago: Option<i64>,
    pub opted_out: bool,
}

/// Base counts for one ad on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Facts {
    pub spend: i64,
    pub impressions: i64,
    pub clicks: i64,
    pub link_clicks: i64,
    pub reach: i64,
    pub form_leads: i64,
    pub pixel_leads: i64,
    pub msg_started: i64,
    pub msg_connections: i64,
}

impl Facts {
    pub fn add(&mut self, o: &Facts) {
        self.spend += o.spend;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.link_clicks += o.link_clicks;
        self.reach += o.reach;
        self.form_leads += o.form_leads;
        self.pixel_leads += o.pixel_leads;
        self.msg_started += o.msg_started;
        self.msg_connections += o.msg_connections;
    }
    pub fn leads(&self) -> i64 {
        self.form_leads + self.pixel_leads
    }
    fn scale(&self, f: f64, h: u64) -> Facts {
        let s = |v: i64, k: u64| stochastic_round(v as f64 * f, mix(h ^ k));
        let impressions = s(self.impressions, 2);
        let clicks = s(self.clicks, 3).min(impressions);
        Facts {
            spend: s(self.spend, 1),
            impressions,
            clicks,
            link_clicks: s(self.link_clicks, 4).min(clicks),
            reach: s(self.reach, 5).min(impressions),
            form_leads: s(self.form_leads, 6),
            pixel_leads: s(self.pixel_leads, 7),
            msg_started: s(self.msg_started, 8),
            msg_connections: s(self.msg_connections, 9),
        }
    }
}

#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub size: WorldSize,
    /// First day with data (day index 0), in each account's own time zone.
    pub start_date: NaiveDate,
    /// Last day with data (the "today" the world was generated for).
    pub end_date: NaiveDate,
    pub app_id: String,
    pub users: Vec<User>,
    pub businesses: Vec<Business>,
    pub ad_accounts: Vec<AdAccount>,
    pub campaigns: Vec<Campaign>,
    pub adsets: Vec<AdSet>,
    pub ads: Vec<Ad>,
    pub pages: Vec<Page>,
    pub forms: Vec<Form>,
    pub wabas: Vec<Waba>,
    pub phones: Vec<Phone>,
    pub datasets: Vec<Dataset>,
    pub seed_leads: Vec<SeedLead>,
    pub seed_contacts: Vec<SeedContact>,
    pub index: HashMap<String, Obj>,
}

const PRODUCTS: &[(&str, &str, &str)] = &[
    (
        "Plan Premium",
        "Tu plan Premium con 30% off",
        "Sumate hoy y pagá en 6 cuotas sin interés. Cupos limitados.",
    ),
    (
        "Curso Intensivo",
        "Curso intensivo de ventas",
        "Aprendé a vender por WhatsApp en 4 semanas. Certificado incluido.",
    ),
    (
        "Seguro Auto",
        "Cotizá tu seguro en 2 minutos",
        "Cobertura total con asistencia 24 h. Escribinos y te asesoramos.",
    ),
    (
        "Departamentos",
        "Departamentos a estrenar",
        "Financiación directa en pesos. Agendá tu visita por WhatsApp.",
    ),
    (
        "Clínica Dental",
        "Blanqueamiento dental",
        "Primera consulta sin cargo. Reservá tu turno ahora.",
    ),
    (
        "Gimnasio",
        "3 meses al precio de 2",
        "Entrená donde quieras con tu pase libre. Oferta por tiempo limitado.",
    ),
    (
        "Software CRM",
        "Free 14-day trial",
        "Close more deals from WhatsApp with a CRM your team will actually use.",
    ),
    (
        "Solar Panels",
        "Cut your power bill in half",
        "Get a free quote for rooftop solar. Installation in 2 weeks.",
    ),
];

const FIRST_NAMES: &[&str] = &[
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Elena",
    "Facundo",
    "Gabriela",
    "Hernán",
    "Inés",
    "Julián",
    "Karina",
    "Lucas",
    "Martina",
    "Nicolás",
    "Olivia",
    "Pablo",
    "Rocío",
    "Santiago",
    "Tamara",
    "Valentín",
    "Jessica",
    "Michael",
];
const LAST_NAMES: &[&str] = &[
    "García",
    "Fernández",
    "López",
    "Martínez",
    "Pérez",
    "Gómez",
    "Díaz",
    "Romero",
    "Sosa",
    "Torres",
    "Smith",
    "Johnson",
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn ascii_lower(s: &str) -> String {
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
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

struct Ids {
    base: u64,
}

impl Ids {
    /// Ids are `prefix` followed by a seed-dependent, zero-padded sequence number.
    fn make(&self, prefix: &str, width: usize, seq: usize) -> String {
        let low = 10u64.pow((width - 1) as u32);
        let n = low + (self.base % (8 * low)) + seq as u64;
        format!("{prefix}{n}")
    }
}

impl World {
    /// Generates the world for `seed`. `today` is the last day with data.
    pub fn generate(seed: u64, size: WorldSize, today: NaiveDate, app_id: &str) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let ids = Ids {
            base: mix(seed) % 1_000_000_000,
        };
        let days = i64::from(size.days.max(1));
        let start_date = today - Duration::days(days - 1);
        let world_epoch = Utc
            .from_utc_datetime(&start_date.and_hms_opt(9, 0, 0).unwrap_or_default())
            .timestamp();
        let mut index = HashMap::new();
        index.insert(app_id.to_string(), Obj::App);

        let users = vec![
            User {
                id: ids.make("10", 13, 1),
                name: "Ana Sandbox".into(),
                email: "ana.sandbox@example.com".into(),
                businesses: vec![0, 1],
            },
            User {
                id: ids.make("10", 13, 2),
                name: "Bruno Sandbox".into(),
                email: "bruno.sandbox@example.com".into(),
                businesses: vec![1],
            },
        ];
        let businesses = vec![
            Business {
                id: ids.make("2", 14, 1),
                name: "Ventas Sandbox SA".into(),
                created_time: world_epoch - 86400 * 800,
            },
            Business {
                id: ids.make("2", 14, 2),
                name: "Agencia Demo SRL".into(),
                created_time: world_epoch - 86400 * 500,
            },
        ];
        // (name, currency, tz, owner, clients, price factor, status)
        type Spec<'a> = (&'a str, &'static str, Tz, usize, &'a [usize], f64, i64);
        let acct_specs: &[Spec] = &[
            (
                "Ventas USA",
                "USD",
                chrono_tz::America::Los_Angeles,
                0,
                &[1],
                1.0,
                1,
            ),
            (
                "Ventas Argentina",
                "ARS",
                chrono_tz::America::Argentina::Buenos_Aires,
                0,
                &[],
                1000.0,
                1,
            ),
            (
                "Ventas Este",
                "USD",
                chrono_tz::America::New_York,
                0,
                &[],
                1.0,
                1,
            ),
            (
                "Agencia Clientes AR",
                "ARS",
                chrono_tz::America::Argentina::Buenos_Aires,
                1,
                &[0],
                1000.0,
                1,
            ),
            (
                "Agencia Internacional",
                "USD",
                chrono_tz::America::Mexico_City,
                1,
                &[],
                1.0,
                1,
            ),
        ];
        let mut ad_accounts = Vec::new();
        let mut campaigns = Vec::new();
        let mut adsets = Vec::new();
        let mut ads: Vec<Ad> = Vec::new();
        for (ai, (name, cur, tz, owner, clients, pf, status)) in acct_specs.iter().enumerate() {
            let account_id = ids.make("", 15, 100 + ai);
            let c_start = campaigns.len();
            // Total daily spend of the account at full pace, in US cents.
            let account_daily_cents = rng.gen_range(30_000.0..120_000.0);
            let n = size.campaigns_per_account;
            // Heavy-tailed weights: a few campaigns get most of the spend.
            let mut weights: Vec<f64> = (0..n)
                .map(|i| 1.0 / ((i as f64 + 1.0).powf(1.3)) * rng.gen_range(0.6..1.4))
                .collect();
            let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            for w in &mut weights {
                *w /= total;
            }
            for (ci, weight) in weights.iter().enumerate() {
                let product = rng.gen_range(0..PRODUCTS.len());
                let roll: f64 = rng.r#gen();
                let objective = if roll < 0.45 {
                    "OUTCOME_LEADS"
                } else if roll < 0.70 {
                    "OUTCOME_ENGAGEMENT"
                } else if roll < 0.85 {
                    "OUTCOME_SALES"
                } else if roll < 0.95 {
                    "OUTCOME_TRAFFIC"
                } else {
                    "LEAD_GENERATION"
                };
                let sroll: f64 = rng.r#gen();
                let status = if ci == 0 || sroll < 0.68 {
                    "ACTIVE"
                } else if sroll < 0.84 {
                    "PAUSED"
                } else if sroll < 0.93 {
                    "DELETED"
                } else {
                    "ARCHIVED"
                };
                let delivers = ci == 0 || rng.gen_range(0..100) >= 10;
                let start_day = if ci == 0 {
                    0
                } else {
                    rng.gen_range(0..(days * 3 / 5).max(1))
                };
                let end_day = if status == "ACTIVE" {
                    days
                } else {
                    rng.gen_range((start_day + 1).min(days)..=days)
                };
                let id = ids.make("1202", 14, campaigns.len() + 1);
                let daily_minor = account_daily_cents * weight * pf;
                let budget = ((daily_minor / 100.0).ceil() as i64 * 100).max(100);
                let use_cbo = rng.gen_bool(0.5);
                let created_time = world_epoch + start_day * 86400 - rng.gen_range(3600..86400 * 3);
                let (p_name, _, _) = PRODUCTS[product];
                let obj_label = match objective {
                    "OUTCOME_LEADS" | "LEAD_GENERATION" => "Leads",
                    "OUTCOME_ENGAGEMENT" => "WhatsApp",
                    "OUTCOME_SALES" => "Ventas",
                    _ => "Tráfico",
                };
                let cname = format!("{p_name} | {obj_label} | C{:03}", ci + 1);
                let a_start = adsets.len();
                let n_ads = size.ads_per_campaign.max(1);
                let n_sets = if n_ads >= 2 { 2 } else { 1 };
                let destination_type = if objective == "OUTCOME_ENGAGEMENT" {
                    "WHATSAPP"
                } else if objective == "OUTCOME_LEADS" || objective == "LEAD_GENERATION" {
                    "ON_AD"
                } else {
                    "WEBSITE"
                };
                let optimization_goal = match objective {
                    "OUTCOME_LEADS" | "LEAD_GENERATION" => "LEAD_GENERATION",
                    "OUTCOME_ENGAGEMENT" => "CONVERSATIONS",
                    "OUTCOME_SALES" => "OFFSITE_CONVERSIONS",
                    _ => "LINK_CLICKS",
                };
                let campaign_index = campaigns.len();
                let mut shares: Vec<f64> = (0..n_ads)
                    .map(|_| rng.gen_range(0.2..1.0f64).powi(2))
                    .collect();
                let st: f64 = shares.iter().sum::<f64>().max(f64::MIN_POSITIVE);
                for s in &mut shares {
                    *s /= st;
                }
                for si in 0..n_sets {
                    let set_index = adsets.len();
                    let ad_start = ads.len();
                    let per = n_ads.div_ceil(n_sets);
                    let lo = si * per;
                    let hi = ((si + 1) * per).min(n_ads);
                    for (k, share) in shares.iter().enumerate().take(hi).skip(lo) {
                        let (_, title, body) = PRODUCTS[product];
                        let variant = ["A", "B", "C", "D", "E"][k % 5];
                        let ad_id = ids.make("1202", 14, 500_000 + ads.len() + 1);
                        let creative_id = ids.make("1202", 14, 900_000 + ads.len() + 1);
                        let num = ad_id.parse::<u64>().unwrap_or(ads.len() as u64);
                        ads.push(Ad {
                            id: ad_id,
                            adset: set_index,
                            campaign: campaign_index,
                            account: ai,
                            name: format!("{p_name} - Anuncio {variant}"),
                            status: if k > 0 && rng.gen_bool(0.1) {
                                "PAUSED"
                            } else {
                                "ACTIVE"
                            },
                            share: *share,
                            creative: Creative {
                                id: creative_id,
                                name: format!("Creativo {p_name} {variant}"),
                                title: if k == 0 {
                                    title.to_string()
                                } else {
                                    format!("{title} ({variant})")
                                },
                                body: body.to_string(),
                                image_url: format!(
                                    "https://sandbox.invalid/creatives/{}-{}.jpg",
                                    product, k
                                ),
                                call_to_action_type: match destination_type {
                                    "WHATSAPP" => "WHATSAPP_MESSAGE",
                                    "ON_AD" => "SIGN_UP",
                                    _ => "LEARN_MORE",
                                },
                            },
                            form: None,
                            num,
                        });
                    }
                    adsets.push(AdSet {
                        id: ids.make("1202", 14, 200_000 + set_index + 1),
                        campaign: campaign_index,
                        name: format!("{p_name} - Conjunto {}", si + 1),
                        status: "ACTIVE",
                        daily_budget: if use_cbo {
                            None
                        } else {
                            Some((budget / n_sets as i64).max(100))
                        },
                        optimization_goal,
                        destination_type,
                        ads: ad_start..ads.len(),
                    });
                }
                campaigns.push(Campaign {
                    id,
                    account: ai,
                    name: cname,
                    objective,
                    status,
                    daily_budget: if use_cbo { Some(budget) } else { None },
                    lifetime_budget: None,
                    created_time,
                    start_day,
                    end_day,
                    delivers,
                    daily_minor,
                    cpm_cents: rng.gen_range(350.0..1400.0),
                    ctr: rng.gen_range(0.006..0.028),
                    cvr: rng.gen_range(0.04..0.16),
                    adsets: a_start..adsets.len(),
                    product,
                });
            }
            ad_accounts.push(AdAccount {
                account_id,
                name: name.to_string(),
                currency: cur,
                tz: *tz,
                owner: *owner,
                clients: clients.to_vec(),
                account_status: *status,
                created_time: world_epoch - 86400 * rng.gen_range(400..900),
                price_factor: *pf,
                campaigns: c_start..campaigns.len(),
            });
        }

        let pages = vec![
            Page {
                id: ids.make("1", 15, 301),
                name: "Ventas Sandbox".into(),
                category: "Shopping & retail",
                business: 0,
            },
            Page {
                id: ids.make("1", 15, 302),
                name: "Ventas Sandbox Cursos".into(),
                category: "Education",
                business: 0,
            },
            Page {
                id: ids.make("1", 15, 303),
                name: "Agencia Demo".into(),
                category: "Advertising/marketing",
                business: 1,
            },
        ];
        let mut forms = Vec::new();
        for (pi, page) in pages.iter().enumerate() {
            for fi in 0..2 {
                let custom = if fi == 0 {
                    Question {
                        key: "plan_de_interes".into(),
                        label: "¿Qué plan te interesa?".into(),
                        kind: "CUSTOM",
                    }
                } else {
                    Question {
                        key: "when_to_contact".into(),
                        label: "When should we contact you?".into(),
                        kind: "CUSTOM",
                    }
                };
                forms.push(Form {
                    id: ids.make("9", 15, 400 + pi * 10 + fi),
                    page: pi,
                    name: format!("{} - Formulario {}", page.name, fi + 1),
                    locale: if fi == 0 { "es_LA" } else { "en_US" },
                    created_time: world_epoch - 86400 * 30,
                    questions: vec![
                        Question {
                            key: "full_name".into(),
                            label: "Full name".into(),
                            kind: "FULL_NAME",
                        },
                        Question {
                            key: "email".into(),
                            label: "Email".into(),
                            kind: "EMAIL",
                        },
                        Question {
                            key: "phone_number".into(),
                            label: "Phone number".into(),
                            kind: "PHONE",
                        },
                        custom,
                    ],
                });
            }
        }
        // Link lead-form ads to a form of a page of the account's owner business.
        for ad in &mut ads {
            let c = &campaigns[ad.campaign];
            if c.objective == "OUTCOME_LEADS" || c.objective == "LEAD_GENERATION" {
                let biz = ad_accounts[ad.account].owner;
                let candidates: Vec<usize> = forms
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| pages[f.page].business == biz)
                    .map(|(i, _)| i)
                    .collect();
                if !candidates.is_empty() {
                    ad.form = Some(candidates[(mix(ad.num) % candidates.len() as u64) as usize]);
                }
            }
        }

        let wabas = vec![
            Waba {
                id: ids.make("1", 15, 501),
                name: "Ventas Sandbox WhatsApp".into(),
                business: 0,
                currency: "USD",
                timezone_id: "1",
                namespace: format!("ns_{:x}", mix(seed ^ 1) & 0xffff_ffff),
            },
            Waba {
                id: ids.make("1", 15, 502),
                name: "Agencia Demo WhatsApp".into(),
                business: 1,
                currency: "ARS",
                timezone_id: "90",
                namespace: format!("ns_{:x}", mix(seed ^ 2) & 0xffff_ffff),
            },
        ];
        let phones = vec![
            Phone {
                id: ids.make("1", 15, 601),
                waba: 0,
                display_phone_number: "+1 555-010-0001".into(),
                verified_name: "Ventas Sandbox".into(),
                quality_rating: "GREEN",
            },
            Phone {
                id: ids.make("1", 15, 602),
                waba: 0,
                display_phone_number: "+54 9 11 5555-0002".into(),
                verified_name: "Ventas Sandbox AR".into(),
                quality_rating: "GREEN",
            },
            Phone {
                id: ids.make("1", 15, 603),
                waba: 1,
                display_phone_number: "+54 9 11 5555-0003".into(),
                verified_name: "Agencia Demo".into(),
                quality_rating: "YELLOW",
            },
        ];
        let datasets = vec![
            Dataset {
                id: ids.make("8", 15, 701),
                name: "Ventas Sandbox Dataset".into(),
                business: 0,
            },
            Dataset {
                id: ids.make("8", 15, 702),
                name: "Agencia Demo Dataset".into(),
                business: 1,
            },
        ];

        let mut world = World {
            seed,
            size,
            start_date,
            end_date: today,
            app_id: app_id.to_string(),
            users,
            businesses,
            ad_accounts,
            campaigns,
            adsets,
            ads,
            pages,
            forms,
            wabas,
            phones,
            datasets,
            seed_leads: vec![],
            seed_contacts: vec![],
            index,
        };

        // Existing leads: from lead-form ads over the last 14 days, capped.
        let mut seed_leads = Vec::new();
        let first = (days - 14).max(0);
        'outer: for day in first..days {
            for (ai, ad) in world.ads.iter().enumerate() {
                let Some(form) = ad.form else { continue };
                let f = world.ad_day(ai, day);
                for k in 0..f.form_leads.min(3) {
                    if seed_leads.len() >= 400 {
                        break 'outer;
                    }
                    let h = mix(ad.num ^ ((day as u64) << 20) ^ k as u64);
                    let first_name = FIRST_NAMES[(h % FIRST_NAMES.len() as u64) as usize];
                    let last_name = LAST_NAMES[((h >> 8) % LAST_NAMES.len() as u64) as usize];
                    let tz = world.ad_accounts[ad.account].tz;
                    let date = world.start_date + Duration::days(day);
                    let secs = (h >> 16) % 86_000;
                    let local = date.and_hms_opt(0, 0, 0).unwrap_or_default()
                        + Duration::seconds(secs as i64);
                    let created = tz
                        .from_local_datetime(&local)
                        .earliest()
                        .map(|t| t.timestamp())
                        .unwrap_or(world_epoch);
                    seed_leads.push(SeedLead {
                        form,
                        ad: Some(ai),
                        created_time: created,
                        full_name: format!("{first_name} {last_name}"),
                        email: format!(
                            "{}.{}{}@example.com",
                            ascii_lower(first_name),
                            ascii_lower(last_name),
                            h % 97
                        ),
                        phone: format!("+54911{:08}", h % 100_000_000),
                        answer: ["Premium", "Básico", "Empresas", "Mañana", "Tarde"]
                            [((h >> 40) % 5) as usize]
                            .to_string(),
                    });
                }
            }
        }
        // A couple of organic leads (no ad).
        for k in 0..2u64 {
            let h = mix(seed ^ 0x0A61_0000 ^ k);
            seed_leads.push(SeedLead {
                form: 0,
                ad: None,
                created_time: world_epoch + (days - 2) * 86400 + (h % 40_000) as i64,
                full_name: format!("Orgánico {}", k + 1),
                email: format!("organico{}@example.com", k + 1),
                phone: format!("+54911{:08}", h % 100_000_000),
                answer: "Premium".into(),
            });
        }
        seed_leads.sort_by_key(|l| l.created_time);
        world.seed_leads = seed_leads;

        let mut contacts = Vec::new();
        for w in 0..world.wabas.len() {
            for k in 0..12u64 {
                let h = mix(seed ^ ((w as u64) << 32) ^ k ^ 0xC0);
                let first_name = *pick(&mut rng, FIRST_NAMES);
                let last_name = *pick(&mut rng, LAST_NAMES);
                contacts.push(SeedContact {
                    waba: w,
                    wa_id: format!("54911{:08}", h % 100_000_000),
                    name: format!("{first_name} {last_name}"),
                    last_inbound_ago: if k % 3 == 0 {
                        Some(((h >> 20) % 20 * 3600) as i64)
                    } else if k % 3 == 1 {
                        Some(((h >> 20) % 5 + 2) as i64 * 86400)
                    } else {
                        None
                    },
                    opted_out: k == 5,
                });
            }
        }
        world.seed_contacts = contacts;
        world.build_index();
        world
    }

    fn build_index(&mut self) {
        let mut idx = std::mem::take(&mut self.index);
        for (i, u) in self.users.iter().enumerate() {
            idx.insert(u.id.clone(), Obj::User(i));
        }
        for (i, b) in self.businesses.iter().enumerate() {
            idx.insert(b.id.clone(), Obj::Business(i));
        }
        for (i, a) in self.ad_accounts.iter().enumerate() {
            idx.insert(a.act_id(), Obj::AdAccount(i));
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            idx.insert(c.id.clone(), Obj::Campaign(i));
        }
        for (i, s) in self.adsets.iter().enumerate() {
            idx.insert(s.id.clone(), Obj::AdSet(i));
        }
        for (i, a) in self.ads.iter().enumerate() {
            idx.insert(a.id.clone(), Obj::Ad(i));
            idx.insert(a.creative.id.clone(), Obj::Creative(i));
        }
        for (i, p) in self.pages.iter().enumerate() {
            idx.insert(p.id.clone(), Obj::Page(i));
        }
        for (i, f) in self.forms.iter().enumerate() {
            idx.insert(f.id.clone(), Obj::Form(i));
        }
        for (i, w) in self.wabas.iter().enumerate() {
            idx.insert(w.id.clone(), Obj::Waba(i));
        }
        for (i, p) in self.phones.iter().enumerate() {
            idx.insert(p.id.clone(), Obj::Phone(i));
        }
        for (i, d) in self.datasets.iter().enumerate() {
            idx.insert(d.id.clone(), Obj::Dataset(i));
        }
        self.index = idx;
    }

    pub fn lookup(&self, id: &str) -> Option<Obj> {
        self.index.get(id).copied()
    }

    pub fn date_of(&self, day: i64) -> NaiveDate {
        self.start_date + Duration::days(day)
    }

    pub fn day_of(&self, date: NaiveDate) -> i64 {
        (date - self.start_date).num_days()
    }

    /// Facts for one ad on one day (day 0 = `start_date`), before restatement.
    pub fn ad_day(&self, ad_index: usize, day: i64) -> Facts {
        let Some(ad) = self.ads.get(ad_index) else {
            return Facts::default();
        };
        let c = &self.campaigns[ad.campaign];
        if !c.delivers
            || day < c.start_day
            || day >= c.end_day
            || day < 0
            || day >= i64::from(self.size.days)
        {
            return Facts::default();
        }
        let h =
            mix(self.seed ^ ad.num.wrapping_mul(0x1000_0001) ^ (day as u64).wrapping_mul(0x9E37));
        if h % 100 < 6 {
            return Facts::default();
        }
        let weekday =
            (i64::from(self.start_date.weekday().num_days_from_monday()) + day).rem_euclid(7);
        let wf = [1.05, 1.12, 1.1, 1.04, 0.98, 0.74, 0.68][weekday as usize];
        let noise = 0.7 + 0.6 * unit(mix(h ^ 1));
        let spend_f = c.daily_minor * ad.share * wf * noise;
        let spend = stochastic_round(spend_f, mix(h ^ 2));
        if spend == 0 {
            return Facts::default();
        }
        let pf = self.ad_accounts[ad.account].price_factor;
        let cpm = c.cpm_cents * (0.85 + 0.3 * unit(mix(h ^ 3)));
        let impressions = stochastic_round(spend_f / pf * 1000.0 / cpm, mix(h ^ 4)).max(1);
        let ctr = c.ctr * (0.8 + 0.4 * unit(mix(h ^ 5)));
        let clicks = stochastic_round(impressions as f64 * ctr, mix(h ^ 6)).min(impressions);
        let link_clicks = stochastic_round(clicks as f64 * 0.82, mix(h ^ 7)).min(clicks);
        let reach = stochastic_round(
            impressions as f64 / (1.08 + 0.5 * unit(mix(h ^ 8))),
            mix(h ^ 9),
        )
        .clamp(1, impressions);
        let conv = clicks as f64 * c.cvr * (0.7 + 0.6 * unit(mix(h ^ 10)));
        let (form_leads, pixel_leads, msg_started) = match c.objective {
            "OUTCOME_LEADS" | "LEAD_GENERATION" => (
                stochastic_round(conv, mix(h ^ 11)),
                stochastic_round(conv * 0.05, mix(h ^ 12)),
                0,
            ),
            "OUTCOME_SALES" => (0, stochastic_round(conv * 0.35, mix(h ^ 12)), 0),
            "OUTCOME_TRAFFIC" => (0, stochastic_round(conv * 0.1, mix(h ^ 12)), 0),
            _ => (0, 0, stochastic_round(conv * 1.8, mix(h ^ 13))),
        };
        let msg_connections = if msg_started > 0 {
            msg_started + stochastic_round(msg_started as f64 * 0.15, mix(h ^ 14))
        } else {
            0
        };
        Facts {
            spend,
            impressions,
            clicks,
            link_clicks,
            reach,
            form_leads,
            pixel_leads,
            msg_started,
            msg_connections,
        }
    }

    /// Facts after applying restatement factors (`(first_day_index, factor)` pairs).
    pub fn ad_day_restated(&self, ad_index: usize, day: i64, restatements: &[(i64, f64)]) -> Facts {
        let f = self.ad_day(ad_index, day);
        if f.spend == 0 {
            return f;
        }
        let mut factor = 1.0;
        for (from, k) in restatements {
            if day >= *from {
                factor *= k;
            }
        }
        if (factor - 1.0).abs() < f64::EPSILON {
            return f;
        }
        let h = mix(self.seed ^ 0x5E57_A7E0 ^ (ad_index as u64) << 20 ^ day as u64);
        f.scale(factor, h)
    }

    /// Ad accounts owned by, or managed as a client by, any of these businesses.
    pub fn accounts_of(&self, bizs: &[usize]) -> Vec<usize> {
        self.ad_accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| bizs.contains(&a.owner) || a.clients.iter().any(|c| bizs.contains(c)))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn pages_of(&self, bizs: &[usize]) -> Vec<usize> {
        self.pages
            .iter()
            .enumerate()
            .filter(|(_, p)| bizs.contains(&p.business))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn wabas_of(&self, bizs: &[usize]) -> Vec<usize> {
        self.wabas
            .iter()
            .enumerate()
            .filter(|(_, w)| bizs.contains(&w.business))
            .map(|(i, _)| i)
            .collect()
    }

    fn user_businesses(&self, user: usize) -> Vec<usize> {
        self.users
            .get(user)
            .map(|u| u.businesses.clone())
            .unwrap_or_default()
    }

    /// Ad accounts a user reaches through their businesses.
    pub fn user_accounts(&self, user: usize) -> Vec<usize> {
        self.accounts_of(&self.user_businesses(user))
    }

    pub fn user_pages(&self, user: usize) -> Vec<usize> {
        self.pages_of(&self.user_businesses(user))
    }

    pub fn user_wabas(&self, user: usize) -> Vec<usize> {
        self.wabas_of(&self.user_businesses(user))
    }

    pub fn effective_status_campaign(&self, c: usize) -> &'static str {
        self.campaigns[c].status
    }

    pub fn effective_status_adset(&self, s: usize) -> &'static str {
        let set = &self.adsets[s];
        match self.campaigns[set.campaign].status {
            "ACTIVE" => set.status,
            "PAUSED" => "CAMPAIGN_PAUSED",
            other => other,
        }
    }

    pub fn effective_status_ad(&self, a: usize) -> &'static str {
        let ad = &self.ads[a];
        match self.campaigns[ad.campaign].status {
            "ACTIVE" => match self.effective_status_adset(ad.adset) {
                "ACTIVE" => ad.status,
                _ => "ADSET_PAUSED",
            },
            "PAUSED" => "CAMPAIGN_PAUSED",
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 15).unwrap_or_default()
    }

    #[test]
    fn deterministic() {
        let a = World::generate(7, WorldSize::small(), today(), "1");
        let b = World::generate(7, WorldSize::small(), today(), "1");
        assert_eq!(a.campaigns[3].id, b.campaigns[3].id);
        assert_eq!(a.ad_day(2, 40), b.ad_day(2, 40));
        let c = World::generate(8, WorldSize::small(), today(), "1");
        assert_ne!(a.ad_accounts[0].account_id, c.ad_accounts[0].account_id);
    }

    #[test]
    fn large_world_is_compact() {
        let w = World::generate(1, WorldSize::large(), today(), "1");
        assert_eq!(w.campaigns.len(), 5000);
        assert_eq!(w.ads.len(), 15000);
        // Ids are unique across kinds.
        assert_eq!(
            w.index.len(),
            1 + 2 + 2 + 5 + 5000 + w.adsets.len() + 2 * 15000 + 3 + 6 + 2 + 3 + 2
        );
    }

    #[test]
    fn spend_is_concentrated() {
        let w = World::generate(3, WorldSize::demo(), today(), "1");
        let acct = &w.ad_accounts[0];
        let mut per_campaign: Vec<i64> = acct
            .campaigns
            .clone()
            .map(|c| {
                let mut s = 0;
                for set in w.campaigns[c].adsets.clone() {
                    for ad in w.adsets[set].ads.clone() {
                        for d in 0..i64::from(w.size.days) {
                            s += w.ad_day(ad, d).spend;
                        }
                    }
                }
                s
            })
            .collect();
        per_campaign.sort_unstable_by(|a, b| b.cmp(a));
        let total: i64 = per_campaign.iter().sum();
        let top3: i64 = per_campaign.iter().take(3).sum();
        assert!(total > 0);
        assert!(top3 * 2 > total, "top 3 campaigns should carry most spend");
    }
}
