//! The live part of the demo: every few seconds a new Lead Ads lead (the
//! sandbox creates it and sends the signed `leadgen` webhook) or a
//! Click-to-WhatsApp chat (a `messages` webhook with the ad's referral)
//! arrives; the CRM's own pipeline (inbox, attribution, automation) takes it
//! from there. Now and then a seller opens an opportunity or wins a deal.

use std::time::Duration;

use chrono::Utc;
use crm_core::services::{leads, pipeline, sales};
use crm_db::entity::{lead, opportunity, pipeline_stage};
use meta_sandbox::demo as sbdemo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::seed::{Demo, Ready};

pub struct Simulation {
    demo: Demo,
    ready: Ready,
    interval: Duration,
    rng: StdRng,
    /// Person numbers of this run (distinct from the seeded history and from
    /// earlier runs on the same database).
    next_person: u64,
}

impl Simulation {
    pub fn new(demo: Demo, ready: Ready, speed: f64) -> Self {
        let interval = Duration::from_secs_f64((6.0 / speed).clamp(0.05, 600.0));
        let start = Utc::now().timestamp().max(0) as u64;
        Simulation {
            demo,
            ready,
            interval,
            rng: StdRng::seed_from_u64(start),
            next_person: 1_000_000 + (start % 1_000_000) * 8,
        }
    }

    pub async fn run(mut self, stop: CancellationToken) {
        let mut tick: u64 = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            tick += 1;
            self.tick(tick).await;
        }
    }

    /// One step of the simulation: every third step a Click-to-WhatsApp
    /// chat, otherwise a Lead Ads lead; some steps the seller also opens an
    /// opportunity or wins a deal. Failures are logged, never fatal.
    pub async fn tick(&mut self, tick: u64) {
        let r = if tick.is_multiple_of(3) && !self.ready.ctwa_ads.is_empty() {
            self.whatsapp_chat().await
        } else {
            self.lead_ads_lead().await
        };
        if let Err(e) = r {
            tracing::warn!("demo: simulated event failed: {e:#}");
        }
        if tick % 4 == 2
            && let Err(e) = self.seller_opens_opportunity().await
        {
            tracing::warn!("demo: opening an opportunity failed: {e:#}");
        }
        if tick % 5 == 4
            && let Err(e) = self.seller_wins_deal().await
        {
            tracing::warn!("demo: winning a deal failed: {e:#}");
        }
    }

    fn person(&mut self) -> sbdemo::DemoPerson {
        self.next_person += 1;
        sbdemo::person(self.demo.world.seed, self.next_person)
    }

    /// A Lead Ads form submitted on one of the demo's ads.
    async fn lead_ads_lead(&mut self) -> anyhow::Result<()> {
        if self.ready.form_ads.is_empty() {
            return Ok(());
        }
        let (ad, form) =
            self.ready.form_ads[self.rng.gen_range(0..self.ready.form_ads.len())].clone();
        let p = self.person();
        let plan = ["Premium", "Básico", "Empresas"][self.rng.gen_range(0..3)];
        self.demo
            .control(
                "/leads",
                json!({
                    "form_id": form, "ad_id": ad,
                    "fields": {"full_name": p.name, "email": p.email,
                               "phone_number": p.phone, "plan_de_interes": plan}
                }),
            )
            .await?;
        tracing::info!(ad_id = %ad, "demo: new Lead Ads lead from {}", p.name);
        Ok(())
    }

    /// Someone taps a Click-to-WhatsApp ad and writes.
    async fn whatsapp_chat(&mut self) -> anyhow::Result<()> {
        let ad = self.ready.ctwa_ads[self.rng.gen_range(0..self.ready.ctwa_ads.len())].clone();
        let p = self.person();
        self.demo
            .control(
                "/inbound",
                json!({
                    "from": p.wa_id, "name": p.name,
                    "text": sbdemo::first_message(self.next_person),
                    "phone_number_id": self.ready.phone_number_id,
                    "referral": {"ad_id": ad}
                }),
            )
            .await?;
        tracing::info!(ad_id = %ad, "demo: new Click-to-WhatsApp chat from {}", p.name);
        Ok(())
    }

    /// The seller turns a recent lead without an opportunity into one.
    async fn seller_opens_opportunity(&mut self) -> anyhow::Result<()> {
        let db = &self.demo.db;
        let tid = self.ready.tenant_id;
        let recent: Vec<Uuid> = lead::Entity::find()
            .select_only()
            .column(lead::Column::Id)
            .filter(lead::Column::TenantId.eq(tid))
            .filter(lead::Column::CreatedAt.gte(Utc::now() - chrono::Duration::hours(2)))
            .order_by_desc(lead::Column::CreatedAt)
            .limit(20)
            .into_tuple()
            .all(db)
            .await?;
        for id in recent {
            let has = opportunity::Entity::find()
                .filter(opportunity::Column::TenantId.eq(tid))
                .filter(opportunity::Column::LeadId.eq(id))
                .one(db)
                .await?
                .is_some();
            if has {
                continue;
            }
            // The lead goes to the seller, who opens the deal.
            leads::update(
                db,
                &self.ready.ceo,
                id,
                &leads::LeadPatch {
                    owner_id: Some(self.ready.seller.user_id.unwrap_or_default()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let usd = self.rng.gen_bool(0.6);
            let value = if usd {
                self.rng.gen_range(150..1200) * 100
            } else {
                self.rng.gen_range(150_000..1_200_000) * 100
            };
            let o = pipeline::create_opportunity(
                db,
                &self.ready.seller,
                &pipeline::NewOpportunity {
                    lead_id: id,
                    name: format!("Propuesta {}", &id.to_string()[..8]),
                    value_minor: value,
                    currency: Some(if usd { "USD" } else { "ARS" }.into()),
                    stage_id: None,
                    probability: None,
                    expected_close_date: None,
                    owner_id: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(opportunity_id = %o.id, "demo: seller opened an opportunity");
            return Ok(());
        }
        Ok(())
    }

    /// The seller wins one of their open deals and records the payment.
    async fn seller_wins_deal(&mut self) -> anyhow::Result<()> {
        let db = &self.demo.db;
        let tid = self.ready.tenant_id;
        let seller = self.ready.seller.user_id.unwrap_or_default();
        let won: Option<Uuid> = pipeline_stage::Entity::find()
            .select_only()
            .column(pipeline_stage::Column::Id)
            .filter(pipeline_stage::Column::TenantId.eq(tid))
            .filter(pipeline_stage::Column::Kind.eq("won"))
            .into_tuple()
            .one(db)
            .await?;
        let Some(won) = won else { return Ok(()) };
        let open = opportunity::Entity::find()
            .filter(opportunity::Column::TenantId.eq(tid))
            .filter(opportunity::Column::OwnerId.eq(seller))
            .filter(opportunity::Column::ClosedAt.is_null())
            .order_by_asc(opportunity::Column::CreatedAt)
            .one(db)
            .await?;
        let Some(o) = open else { return Ok(()) };
        pipeline::update_opportunity(
            db,
            &self.ready.seller,
            o.id,
            &pipeline::OpportunityPatch {
                stage_id: Some(won),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        sales::create(
            db,
            &self.ready.seller,
            &sales::NewSale {
                opportunity_id: o.id,
                amount_minor: o.value_minor.max(100),
                currency: Some(o.currency.clone()),
                status: None,
                paid_at: None,
                method: Some("mercadopago".into()),
                invoice_ref: None,
                note: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(
            opportunity_id = %o.id,
            "demo: seller won a deal ({} {:.2})",
            o.currency,
            o.value_minor as f64 / 100.0
        );
        Ok(())
    }
}
