//! Preparing the demo: tenant and users, the Meta connection (real OAuth
//! against the sandbox, real asset selection and sync), FX rates, the CRM
//! history behind the ROI story, templates and rules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crm_core::services::meta_connection::{self as mc, MetaEnv};
use crm_core::services::{accounts, automation, fx, leads, pipeline, sales, templates};
use crm_core::{Role, TenantCtx};
use crm_db::entity::{
    job, lead, lead_touch, meta_insights_daily, meta_sync_state, opportunity, outbox, tenant, user,
    wa_template,
};
use meta_sandbox::World;
use meta_sandbox::demo::{self as sbdemo, DemoSize};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{PASSWORD, TENANT_NAME, USERS};

/// The demo's templates: (name, body). One variable each (the first name),
/// as the starter rules bind it.
pub const TEMPLATES: [(&str, &str); 3] = [
    (
        "bienvenida",
        "Hola {{1}}, gracias por tu consulta en Demo Ventas. Un asesor te escribe en unos minutos.",
    ),
    (
        "seguimiento",
        "Hola {{1}}, ¿pudiste ver nuestra propuesta? Respondé este mensaje y te ayudamos.",
    ),
    (
        "gracias_compra",
        "¡Gracias por tu compra, {{1}}! Te enviamos el comprobante por este medio.",
    ),
];

/// The two starter rules the demo enables.
pub const ENABLED_RULES: [&str; 2] = ["welcome_meta_lead", "thanks_on_won"];

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {e}")
}

macro_rules! tryx {
    ($what:expr, $e:expr) => {
        $e.await.map_err(|e| err($what)(&e))?
    };
}

/// Handles of a prepared demo, for the live simulation.
#[derive(Debug, Clone)]
pub struct Ready {
    pub tenant_id: Uuid,
    pub ceo: TenantCtx,
    pub seller: TenantCtx,
    /// Lead-form ads of the demo accounts: (ad id, form id).
    pub form_ads: Vec<(String, String)>,
    /// Click-to-WhatsApp ads of the demo accounts.
    pub ctwa_ads: Vec<String>,
    /// The WhatsApp number the demo selected.
    pub phone_number_id: String,
}

pub struct Demo {
    pub db: DatabaseConnection,
    pub env: Arc<MetaEnv>,
    pub sandbox_url: String,
    pub world: Arc<World>,
    pub http: reqwest::Client,
}

fn ctx_of(tenant_id: Uuid, user_id: Uuid, role: Role) -> TenantCtx {
    TenantCtx {
        tenant_id,
        user_id: Some(user_id),
        token_id: None,
        role,
        ip: None,
        user_agent: Some("crm-demo".into()),
    }
}

/// The ARS→USD rate the demo uses for a day (a slow drift, like a crawling peg).
pub fn ars_rate(world_start: NaiveDate, day: NaiveDate) -> String {
    let n = (day - world_start).num_days().max(0) as f64;
    format!("{:.9}", 1.0 / (1000.0 + 1.5 * n))
}

impl Demo {
    pub fn new(
        db: DatabaseConnection,
        env: Arc<MetaEnv>,
        sandbox_url: String,
        world: Arc<World>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Demo {
            db,
            env,
            sandbox_url,
            world,
            http,
        }
    }

    /// A call to the sandbox's control API.
    pub async fn control(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}/_sandbox{path}", self.sandbox_url))
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("sandbox {path}: {status} {v}");
        }
        Ok(v)
    }

    /// Everything up to the live simulation. `fresh`: the database is new.
    pub async fn prepare(&self, fresh: bool, size: DemoSize) -> anyhow::Result<Ready> {
        let (tenant_id, users) = self.tenant_and_users().await?;
        let ceo = ctx_of(tenant_id, users["ceo"], Role::Ceo);
        let seller = ctx_of(tenant_id, users["seller"], Role::Seller);
        let (usd, ars) = sbdemo::demo_accounts(&self.world)
            .ok_or_else(|| anyhow::anyhow!("the sandbox world has no USD and ARS accounts"))?;
        let acct = |i: usize| self.world.ad_accounts[i].act_id();
        let business_id = self.world.businesses[0].id.clone();

        eprintln!("  connecting Meta (sandbox) through the OAuth dialog…");
        self.connect_oauth(&ceo).await?;
        let pages: Vec<String> = self
            .world
            .pages
            .iter()
            .filter(|p| p.business == 0)
            .map(|p| p.id.clone())
            .collect();
        tryx!(
            "selecting Lead Ads pages",
            mc::select_lead_pages(
                &self.db,
                &self.env,
                &ceo,
                &mc::SelectPages {
                    page_ids: pages.clone()
                }
            )
        );
        let waba = self
            .world
            .wabas
            .iter()
            .position(|w| w.business == 0)
            .ok_or_else(|| anyhow::anyhow!("no WhatsApp account in the sandbox world"))?;
        let phones: Vec<String> = self
            .world
            .phones
            .iter()
            .filter(|p| p.waba == waba)
            .map(|p| p.id.clone())
            .collect();
        let phone_number_id = phones
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no WhatsApp number in the sandbox world"))?;
        tryx!(
            "selecting the WhatsApp number",
            mc::select_whatsapp(
                &self.db,
                &self.env,
                &ceo,
                &mc::SelectWhatsApp {
                    waba_id: self.world.wabas[waba].id.clone(),
                    phone_number_ids: vec![phone_number_id.clone()],
                }
            )
        );
        // Each selection syncs that account (ARS history first, then USD,
        // which stays the selected account).
        let order: Vec<usize> = if fresh { vec![ars, usd] } else { vec![usd] };
        for i in order {
            let act = acct(i);
            eprintln!(
                "  syncing ad account {} ({}, {}) from the sandbox…",
                self.world.ad_accounts[i].name, act, self.world.ad_accounts[i].currency
            );
            tryx!(
                "selecting the ad account",
                mc::connect_ad_account(
                    &self.db,
                    &self.env,
                    &ceo,
                    &mc::ConnectAdAccount {
                        account_id: act.clone(),
                        account_name: None,
                        portfolio_id: Some(business_id.clone()),
                        portfolio_name: None,
                    }
                )
            );
            if fresh {
                self.wait_synced(tenant_id, &act).await?;
            }
        }
        if fresh {
            eprintln!("  FX rates, leads, opportunities and sales…");
            self.fx_rates(&ceo).await?;
            self.history(&ceo, &users, size).await?;
        }
        eprintln!("  WhatsApp templates and automation rules…");
        self.templates(&ceo).await?;
        self.wait_quiet(tenant_id).await;
        self.rules(&ceo).await?;
        // Statuses tick visibly (sent → delivered → read about a second apart).
        self.control("/config", json!({"status_delay_ms": 1200}))
            .await?;

        let demo_accounts = [usd, ars];
        let silent = sbdemo::silent_campaign(&self.world);
        let form_ads = self
            .world
            .ads
            .iter()
            .filter(|a| demo_accounts.contains(&a.account))
            .filter(|a| Some(a.campaign) != silent)
            .filter(|a| {
                let c = &self.world.campaigns[a.campaign];
                c.status == "ACTIVE" && c.delivers
            })
            .filter_map(|a| {
                a.form
                    .map(|f| (a.id.clone(), self.world.forms[f].id.clone()))
            })
            .collect();
        let ctwa_ads = self
            .world
            .ads
            .iter()
            .filter(|a| demo_accounts.contains(&a.account))
            .filter(|a| Some(a.campaign) != silent)
            .filter(|a| self.world.campaigns[a.campaign].objective == "OUTCOME_ENGAGEMENT")
            .filter(|a| self.world.campaigns[a.campaign].status == "ACTIVE")
            .map(|a| a.id.clone())
            .collect();
        Ok(Ready {
            tenant_id,
            ceo,
            seller,
            form_ads,
            ctwa_ads,
            phone_number_id,
        })
    }

    /// The demo tenant and its users, created on the first run.
    async fn tenant_and_users(&self) -> anyhow::Result<(Uuid, BTreeMap<&'static str, Uuid>)> {
        let existing = tenant::Entity::find()
            .filter(tenant::Column::Name.eq(TENANT_NAME))
            .one(&self.db)
            .await?;
        let tenant_id = match existing {
            Some(t) => t.id,
            None => {
                tryx!(
                    "creating the demo tenant",
                    accounts::create_tenant(
                        &self.db,
                        &accounts::NewTenant {
                            name: TENANT_NAME.into(),
                            currency: "USD".into(),
                            timezone: "America/Argentina/Buenos_Aires".into(),
                            locale: "es".into(),
                            country: "AR".into(),
                        }
                    )
                )
                .id
            }
        };
        let mut ids = BTreeMap::new();
        for (role, email, name) in USERS {
            let found = user::Entity::find()
                .filter(user::Column::TenantId.eq(tenant_id))
                .filter(user::Column::Email.eq(email))
                .one(&self.db)
                .await?;
            let id = match found {
                Some(u) => u.id,
                None => {
                    let role =
                        Role::parse(role).ok_or_else(|| anyhow::anyhow!("unknown role {role}"))?;
                    tryx!(
                        "creating a demo user",
                        accounts::create_user_cli(
                            &self.db,
                            tenant_id,
                            &accounts::NewUser {
                                email: email.into(),
                                name: name.into(),
                                role,
                                password: PASSWORD.into(),
                            }
                        )
                    )
                    .id
                }
            };
            ids.insert(role, id);
        }
        Ok((tenant_id, ids))
    }

    /// The real OAuth round trip: the CRM's dialog URL, the sandbox's consent
    /// page (Continue), and the CRM callback with the code and state.
    async fn connect_oauth(&self, ceo: &TenantCtx) -> anyhow::Result<()> {
        let url = tryx!(
            "starting the Meta connection",
            mc::start_oauth(&self.db, &self.env, ceo, mc::ReturnTo::Marketing)
        );
        let html = self.http.get(&url).send().await?.text().await?;
        let action = html
            .split("<form method=\"post\" action=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .ok_or_else(|| anyhow::anyhow!("the sandbox consent page has no form"))?;
        let target = url::Url::parse(&url)?.join(action)?;
        let mut fields: Vec<(String, String)> = html
            .split("<input type=\"hidden\" ")
            .skip(1)
            .map(|part| {
                let attr = |key: &str| {
                    part.split(&format!("{key}=\""))
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .unwrap_or_default()
                        .replace("&quot;", "\"")
                        .replace("&#39;", "'")
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&amp;", "&")
                };
                (attr("name"), attr("value"))
            })
            .collect();
        fields.push(("action".into(), "continue".into()));
        let r = self.http.post(target).form(&fields).send().await?;
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                anyhow::anyhow!("the sandbox consent did not redirect ({})", r.status())
            })?;
        let back = url::Url::parse(location)?;
        let q: BTreeMap<String, String> = back.query_pairs().into_owned().collect();
        let params = mc::CallbackParams {
            code: q.get("code").cloned(),
            state: q.get("state").cloned(),
            error: q.get("error").cloned(),
            error_reason: q.get("error_reason").cloned(),
            error_description: q.get("error_description").cloned(),
        };
        mc::complete_oauth(&self.db, &self.env, Some(ceo), &params)
            .await
            .map_err(|f| anyhow::anyhow!("the Meta connection failed: {}", f.code))?;
        Ok(())
    }

    /// Waits until the real sync finished the account's backfill.
    async fn wait_synced(&self, tenant_id: Uuid, act: &str) -> anyhow::Result<()> {
        for _ in 0..1200 {
            let st = meta_sync_state::Entity::find()
                .filter(meta_sync_state::Column::TenantId.eq(tenant_id))
                .filter(meta_sync_state::Column::AdAccountId.eq(act))
                .one(&self.db)
                .await?;
            if let Some(s) = st {
                if s.status == "ok" && s.backfill_done {
                    return Ok(());
                }
                if s.status == "error" {
                    anyhow::bail!(
                        "the sync of {act} failed: {}",
                        s.last_error.unwrap_or_default()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("the sync of {act} did not finish within 5 minutes")
    }

    /// A daily ARS→USD rate for every day of the world.
    async fn fx_rates(&self, ceo: &TenantCtx) -> anyhow::Result<()> {
        let mut day = self.world.start_date;
        while day <= self.world.end_date + chrono::Duration::days(1) {
            tryx!(
                "storing an FX rate",
                fx::put(
                    &self.db,
                    ceo,
                    &fx::FxRateInput {
                        from_currency: "ARS".into(),
                        to_currency: Some("USD".into()),
                        date: day,
                        rate: ars_rate(self.world.start_date, day),
                    }
                )
            );
            day += chrono::Duration::days(1);
        }
        Ok(())
    }

    fn to_usd(&self, currency: &str, minor: i64, day: NaiveDate) -> f64 {
        let major = minor as f64 / 100.0;
        if currency == "ARS" {
            major
                * ars_rate(self.world.start_date, day)
                    .parse::<f64>()
                    .unwrap_or(0.001)
        } else {
            major
        }
    }

    /// Leads, opportunities and sales behind the campaigns' spend: some
    /// campaigns pay off, some lose money, one gets no CRM leads at all, a
    /// few leads come from ads the CRM does not know, a few from elsewhere.
    async fn history(
        &self,
        ceo: &TenantCtx,
        users: &BTreeMap<&'static str, Uuid>,
        size: DemoSize,
    ) -> anyhow::Result<()> {
        let tid = ceo.tenant_id;
        let rows: Vec<(String, String, String, String, NaiveDate, String, i64)> =
            meta_insights_daily::Entity::find()
                .select_only()
                .columns([
                    meta_insights_daily::Column::AdAccountId,
                    meta_insights_daily::Column::CampaignId,
                    meta_insights_daily::Column::AdsetId,
                    meta_insights_daily::Column::AdId,
                    meta_insights_daily::Column::Day,
                    meta_insights_daily::Column::Currency,
                    meta_insights_daily::Column::SpendMinor,
                ])
                .filter(meta_insights_daily::Column::TenantId.eq(tid))
                .filter(meta_insights_daily::Column::SpendMinor.gt(0))
                .into_tuple()
                .all(&self.db)
                .await?;
        // Per campaign: spend in USD and the (ad, adset, day) rows with spend.
        struct Camp {
            id: String,
            spend_usd: f64,
            currency: String,
            rows: Vec<(String, String, NaiveDate)>,
        }
        let mut camps: BTreeMap<String, Camp> = BTreeMap::new();
        for (_, campaign, adset, ad, day, currency, spend) in rows {
            let usd = self.to_usd(&currency, spend, day);
            let c = camps.entry(campaign.clone()).or_insert_with(|| Camp {
                id: campaign.clone(),
                spend_usd: 0.0,
                currency: currency.clone(),
                rows: vec![],
            });
            c.spend_usd += usd;
            c.rows.push((ad, adset, day));
        }
        let mut camps: Vec<Camp> = camps.into_values().collect();
        camps.sort_by(|a, b| b.spend_usd.total_cmp(&a.spend_usd));
        let total_spend: f64 = camps.iter().map(|c| c.spend_usd).sum();
        let stages = tryx!("reading the pipeline", pipeline::list_stages(&self.db, ceo)).items;
        let stage = |key: &str| stages.iter().find(|s| s.key == key).map(|s| s.id);
        let (won, lost) = (stage("won"), stage("lost"));
        let open: Vec<Uuid> = ["qualification", "proposal", "negotiation"]
            .iter()
            .filter_map(|k| stage(k))
            .collect();
        let seller = users["seller"];
        let mut rng = StdRng::seed_from_u64(self.world.seed ^ 0xD3E0);
        // A cost per CRM lead of about 30 USD overall (more when the size
        // caps the number of leads).
        let budget = size.max_seed_leads() as f64;
        let cpl = (total_spend / budget).max(30.0);
        let silent =
            sbdemo::silent_campaign(&self.world).map(|i| self.world.campaigns[i].id.clone());
        let mut person = 0u64;
        let tz = chrono_tz::America::Argentina::Buenos_Aires;
        let at = |day: NaiveDate, rng: &mut StdRng| -> DateTime<Utc> {
            let secs = rng.gen_range(9 * 3600..22 * 3600);
            tz.from_local_datetime(&(day.and_hms_opt(0, 0, 0).unwrap_or_default()))
                .earliest()
                .map(|t| t.with_timezone(&Utc) + chrono::Duration::seconds(secs))
                .unwrap_or_else(Utc::now)
        };
        let now = Utc::now();
        for (rank, c) in camps.iter().enumerate() {
            if silent.as_deref() == Some(c.id.as_str()) {
                // Spend, but not one CRM lead: the landing page is not
                // tracked, so the CRM never hears of these people.
                continue;
            }
            // (revenue multiple of spend): winners, losers, break-even.
            let multiple = match rank % 4 {
                0 => rng.gen_range(2.0..3.5),
                1 => rng.gen_range(0.15..0.6),
                2 => rng.gen_range(0.9..1.4),
                _ => rng.gen_range(1.4..2.2),
            };
            let n_leads =
                ((c.spend_usd / cpl * rng.gen_range(0.7..1.3)).round() as usize).clamp(1, 400);
            let ctwa = self
                .world
                .lookup(&c.id)
                .and_then(|o| match o {
                    meta_sandbox::world::Obj::Campaign(i) => Some(i),
                    _ => None,
                })
                .is_some_and(|i| self.world.campaigns[i].objective == "OUTCOME_ENGAGEMENT");
            let mut made: Vec<(Uuid, DateTime<Utc>)> = vec![];
            for _ in 0..n_leads {
                let (ad, adset, day) = c.rows[rng.gen_range(0..c.rows.len())].clone();
                let when = at(day, &mut rng).min(now);
                person += 1;
                let p = sbdemo::person(self.world.seed, person);
                let touch = leads::TouchInput {
                    lead_source: Some(leads::LeadSource::MetaAds),
                    channel: Some(if ctwa {
                        leads::Channel::ClickToWhatsapp
                    } else {
                        leads::Channel::LeadForm
                    }),
                    meta_campaign_id: Some(c.id.clone()),
                    meta_adset_id: Some(adset),
                    meta_ad_id: Some(ad),
                    ctwa_clid: ctwa.then(|| format!("demo_clid_{person}")),
                    occurred_at: Some(when),
                    ..Default::default()
                };
                let id = self
                    .new_lead(
                        ceo,
                        &p,
                        touch,
                        person.is_multiple_of(2).then_some(seller),
                        when,
                    )
                    .await?;
                made.push((id, when));
            }
            // Opportunities for about a third; wins carry the revenue.
            let target = c.spend_usd * multiple;
            let n_opps = (made.len() as f64 * 0.35).ceil() as usize;
            let n_won = ((n_opps as f64) * 0.5).ceil().max(1.0) as usize;
            let deal = if c.currency == "ARS" {
                (target / n_won as f64)
                    / ars_rate(self.world.start_date, self.world.end_date)
                        .parse::<f64>()
                        .unwrap_or(0.001)
            } else {
                target / n_won as f64
            };
            for (k, (lead_id, when)) in made.iter().take(n_opps).enumerate() {
                let value = ((deal * rng.gen_range(0.8..1.2)) * 100.0).round() as i64;
                let created = (*when + chrono::Duration::hours(rng.gen_range(2..72))).min(now);
                let stage_id = if k < n_won {
                    won
                } else if k % 3 == 0 {
                    lost
                } else {
                    open.get(k % open.len().max(1)).copied()
                };
                let closed = (created + chrono::Duration::days(rng.gen_range(1..20))).min(now);
                self.opportunity(
                    ceo,
                    *lead_id,
                    &c.currency,
                    value,
                    stage_id,
                    created,
                    closed,
                    k < n_won,
                )
                .await?;
            }
        }
        // Leads whose ad the CRM does not know (an ad of another account).
        for k in 0..4u64 {
            person += 1;
            let p = sbdemo::person(self.world.seed, person);
            let when = now - chrono::Duration::days(1 + k as i64 * 3);
            let touch = leads::TouchInput {
                lead_source: Some(leads::LeadSource::MetaAds),
                channel: Some(leads::Channel::ClickToWhatsapp),
                meta_ad_id: Some(format!("120299990000{k:03}")),
                ctwa_clid: Some(format!("demo_unknown_{person}")),
                occurred_at: Some(when),
                ..Default::default()
            };
            self.new_lead(ceo, &p, touch, None, when).await?;
        }
        // And a few that did not come from Meta at all.
        for k in 0..6u64 {
            person += 1;
            let p = sbdemo::person(self.world.seed, person);
            let when = now - chrono::Duration::days(2 + k as i64 * 5);
            let touch = leads::TouchInput {
                lead_source: Some(leads::LeadSource::Website),
                channel: Some(leads::Channel::Web),
                utm_source: Some("google".into()),
                utm_medium: Some("cpc".into()),
                occurred_at: Some(when),
                ..Default::default()
            };
            self.new_lead(ceo, &p, touch, Some(seller), when).await?;
        }
        Ok(())
    }

    /// Creates a lead through the lead service, then moves its creation
    /// date back to when the ad brought it (the service stamps "now").
    async fn new_lead(
        &self,
        ceo: &TenantCtx,
        p: &sbdemo::DemoPerson,
        touch: leads::TouchInput,
        owner: Option<Uuid>,
        when: DateTime<Utc>,
    ) -> anyhow::Result<Uuid> {
        let created = tryx!(
            "creating a lead",
            leads::create(
                &self.db,
                ceo,
                &leads::NewLead {
                    name: Some(p.name.clone()),
                    phone: Some(p.phone.clone()),
                    email: Some(p.email.clone()),
                    owner_id: owner,
                    attribution: Some(touch),
                    ..Default::default()
                },
                leads::OnDuplicate::Reject,
            )
        );
        let id = created.lead.id;
        lead::Entity::update_many()
            .col_expr(lead::Column::CreatedAt, Expr::value(when))
            .col_expr(lead::Column::UpdatedAt, Expr::value(when))
            .filter(lead::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        lead_touch::Entity::update_many()
            .col_expr(lead_touch::Column::CreatedAt, Expr::value(when))
            .filter(lead_touch::Column::LeadId.eq(id))
            .exec(&self.db)
            .await?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn opportunity(
        &self,
        ceo: &TenantCtx,
        lead_id: Uuid,
        currency: &str,
        value_minor: i64,
        stage_id: Option<Uuid>,
        created: DateTime<Utc>,
        closed: DateTime<Utc>,
        won: bool,
    ) -> anyhow::Result<()> {
        let o = tryx!(
            "creating an opportunity",
            pipeline::create_opportunity(
                &self.db,
                ceo,
                &pipeline::NewOpportunity {
                    lead_id,
                    name: format!("Propuesta {}", &lead_id.to_string()[..8]),
                    value_minor: value_minor.max(100),
                    currency: Some(currency.into()),
                    stage_id: None,
                    probability: None,
                    expected_close_date: None,
                    owner_id: None,
                }
            )
        );
        if let Some(stage) = stage_id {
            tryx!(
                "moving an opportunity",
                pipeline::update_opportunity(
                    &self.db,
                    ceo,
                    o.id,
                    &pipeline::OpportunityPatch {
                        stage_id: Some(stage),
                        lost_reason: (!won).then(|| "Eligió otra opción".to_owned()),
                        ..Default::default()
                    }
                )
            );
        }
        if won {
            tryx!(
                "recording a sale",
                sales::create(
                    &self.db,
                    ceo,
                    &sales::NewSale {
                        opportunity_id: o.id,
                        amount_minor: value_minor.max(100),
                        currency: Some(currency.into()),
                        status: None,
                        paid_at: Some(closed),
                        method: Some("transfer".into()),
                        invoice_ref: None,
                        note: None,
                    }
                )
            );
        }
        let mut up = opportunity::Entity::update_many()
            .col_expr(opportunity::Column::CreatedAt, Expr::value(created))
            .filter(opportunity::Column::Id.eq(o.id));
        if stage_id.is_some() {
            up = up.col_expr(opportunity::Column::ClosedAt, Expr::value(closed));
        }
        up.exec(&self.db).await?;
        Ok(())
    }

    /// Creates the demo's templates (again, after a restart: the sandbox
    /// forgets them) and has the sandbox approve them.
    async fn templates(&self, ceo: &TenantCtx) -> anyhow::Result<()> {
        // What Meta (the sandbox) has now; templates it no longer lists
        // become DELETED and can be created again.
        tryx!(
            "syncing templates",
            templates::sync_now(&self.db, &self.env, ceo)
        );
        for (name, body) in TEMPLATES {
            let current = wa_template::Entity::find()
                .filter(wa_template::Column::TenantId.eq(ceo.tenant_id))
                .filter(wa_template::Column::Name.eq(name))
                .filter(wa_template::Column::Status.ne("DELETED"))
                .one(&self.db)
                .await?;
            let meta_id = match current {
                Some(t) if t.status == templates::APPROVED => continue,
                Some(t) => t.meta_id,
                None => {
                    let input: templates::NewTemplateInput = serde_json::from_value(json!({
                        "name": name, "language": "es", "category": "UTILITY",
                        "components": [
                            {"type": "BODY", "text": body, "example": {"body_text": [["Ana"]]}},
                            {"type": "FOOTER", "text": "Demo Ventas · Respondé BAJA para no recibir más"}
                        ]
                    }))?;
                    tryx!(
                        "creating a template",
                        templates::create(&self.db, &self.env, ceo, &input)
                    )
                    .meta_id
                }
            };
            self.control(
                &format!("/templates/{meta_id}/review"),
                json!({"status": "APPROVED"}),
            )
            .await?;
        }
        // The approvals arrive as webhooks; wait for them.
        for _ in 0..240 {
            let approved = wa_template::Entity::find()
                .filter(wa_template::Column::TenantId.eq(ceo.tenant_id))
                .filter(wa_template::Column::Status.eq(templates::APPROVED))
                .count(&self.db)
                .await?;
            if approved as usize >= TEMPLATES.len() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("the sandbox's template approvals did not arrive within a minute")
    }

    /// Waits (up to two minutes) until the worker caught up with the seeded
    /// history, so enabling the rules does not message old leads.
    async fn wait_quiet(&self, tenant_id: Uuid) {
        for _ in 0..480 {
            let undispatched = outbox::Entity::find()
                .filter(outbox::Column::TenantId.eq(tenant_id))
                .filter(outbox::Column::DispatchedAt.is_null())
                .count(&self.db)
                .await
                .unwrap_or(1);
            let pending = job::Entity::find()
                .filter(job::Column::Kind.eq(automation::EVENT_JOB))
                .filter(job::Column::Status.is_in([crm_db::jobs::QUEUED, crm_db::jobs::RUNNING]))
                .count(&self.db)
                .await
                .unwrap_or(1);
            if undispatched == 0 && pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Enables the welcome and thank-you starter rules (without quiet
    /// hours, so the demo answers at any time of day).
    async fn rules(&self, ceo: &TenantCtx) -> anyhow::Result<()> {
        let rules = tryx!("listing rules", automation::list_rules(&self.db, ceo));
        for r in rules {
            let Some(key) = r.starter_key.as_deref() else {
                continue;
            };
            if !ENABLED_RULES.contains(&key) || r.spec.enabled {
                continue;
            }
            let mut spec = r.spec.clone();
            spec.enabled = true;
            spec.quiet_hours = None;
            tryx!(
                "enabling a rule",
                automation::update_rule(&self.db, ceo, r.id, &spec)
            );
        }
        Ok(())
    }
}
