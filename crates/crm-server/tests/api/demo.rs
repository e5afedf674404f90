//! `crm demo`'s preparation and live simulation on a real server with the
//! in-process sandbox (small world), on SQLite or PostgreSQL: the Marketing
//! Hub's numbers tell the intended story, and a simulated Lead Ads lead and
//! Click-to-WhatsApp chat become CRM leads that automation answers.

use std::sync::Arc;
use std::time::Duration;

use crm_core::services::marketing::{self, CampaignsQuery, StatsQuery};
use crm_db::entity::{automation_rule, automation_run, lead, wa_template};
use crm_server::demo::live::Simulation;
use crm_server::demo::seed::{Demo, ENABLED_RULES};
use meta_sandbox::demo::{DemoSize, silent_campaign};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::meta_support::spawn_meta_app;

async fn leads_of(db: &sea_orm::DatabaseConnection, tenant: uuid::Uuid) -> Vec<lead::Model> {
    lead::Entity::find()
        .filter(lead::Column::TenantId.eq(tenant))
        .all(db)
        .await
        .unwrap()
}

/// Waits (up to 30 s) for a new lead of the channel and a sent welcome message to it.
async fn answered_new_lead(
    db: &sea_orm::DatabaseConnection,
    tenant: uuid::Uuid,
    known: &[uuid::Uuid],
    channel: &str,
) -> lead::Model {
    for _ in 0..150 {
        let fresh = leads_of(db, tenant)
            .await
            .into_iter()
            .find(|l| !known.contains(&l.id) && l.channel == channel);
        if let Some(l) = fresh {
            let sent = automation_run::Entity::find()
                .filter(automation_run::Column::LeadId.eq(l.id))
                .filter(automation_run::Column::Status.is_in(["sent", "delivered", "read"]))
                .one(db)
                .await
                .unwrap();
            if let Some(run) = sent {
                assert!(
                    run.rendered.unwrap_or_default().starts_with("Hola "),
                    "the welcome template"
                );
                return l;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no answered {channel} lead arrived");
}

#[tokio::test]
async fn the_demo_tells_an_roi_story_and_new_leads_get_answered() {
    let app = spawn_meta_app().await;
    let server = app.server.as_ref().unwrap();
    let sb = server.meta_sandbox().unwrap();
    let world = Arc::new(sb.world().clone());
    let db = server.state.db.clone();
    let demo = Demo::new(
        db.clone(),
        server.state.meta.clone(),
        sb.base_url(),
        world.clone(),
    );
    let ready = demo.prepare(true, DemoSize::Small).await.unwrap();
    let ceo = &ready.ceo;

    // Headline numbers: spend, revenue, ROI and CPL, all converted (no FX gap).
    let stats = marketing::stats(
        &db,
        ceo,
        &StatsQuery {
            time_range: Some("30d".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(stats.currency, "USD");
    assert!(stats.marketing_spend > 0.0, "{stats:?}");
    assert!(stats.sales_revenue > 0.0, "{stats:?}");
    assert!(stats.cpl.is_some_and(|c| c > 0.0), "{stats:?}");
    assert!(stats.roi_percentage.is_some(), "{stats:?}");
    assert!(
        stats.warnings.iter().all(|w| w.code != "missing_fx_rate"),
        "{:?}",
        stats.warnings
    );

    // Campaigns: winners, losers, one with spend and no lead, and the
    // unknown-campaign row.
    let list = marketing::campaigns(
        &db,
        ceo,
        &CampaignsQuery {
            time_range: Some("all".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rows: Vec<_> = list.items.iter().filter(|c| c.id != "unknown").collect();
    assert!(rows.iter().any(|c| c.roi.is_some_and(|r| r > 0.0)));
    assert!(
        rows.iter()
            .any(|c| c.spend > 0.0 && c.roi.is_some_and(|r| r < 0.0))
    );
    let silent = &world.campaigns[silent_campaign(&world).unwrap()].id;
    let row = rows.iter().find(|c| &c.id == silent).unwrap();
    assert!(row.spend > 0.0 && row.leads == 0, "{row:?}");
    assert!(list.items.iter().any(|c| c.id == "unknown" && c.leads > 0));
    // Both demo currencies are synced.
    let currencies: std::collections::BTreeSet<_> = rows
        .iter()
        .filter_map(|c| c.ad_account_id.clone())
        .collect();
    assert!(currencies.len() >= 2, "{currencies:?}");

    // Templates approved, the two starter rules enabled.
    let approved = wa_template::Entity::find()
        .filter(wa_template::Column::TenantId.eq(ready.tenant_id))
        .filter(wa_template::Column::Status.eq("APPROVED"))
        .count(&db)
        .await
        .unwrap();
    assert!(approved >= 3);
    let enabled: Vec<String> = automation_rule::Entity::find()
        .filter(automation_rule::Column::TenantId.eq(ready.tenant_id))
        .filter(automation_rule::Column::Enabled.eq(true))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.starter_key)
        .collect();
    assert_eq!(enabled.len(), 2);
    assert!(ENABLED_RULES.iter().all(|k| enabled.iter().any(|e| e == k)));
    // Live: a Lead Ads lead (signed leadgen webhook → inbox → lead) and a
    // Click-to-WhatsApp chat, each answered by the welcome rule.
    let tenant = ready.tenant_id;
    let mut sim = Simulation::new(demo, ready, 1.0);
    let known: Vec<_> = leads_of(&db, tenant).await.iter().map(|l| l.id).collect();
    sim.tick(1).await;
    let form_lead = answered_new_lead(&db, tenant, &known, "lead_form").await;
    assert_eq!(form_lead.lead_source, "META_ADS");
    assert!(form_lead.meta_ad_id.is_some() && form_lead.meta_lead_id.is_some());
    sim.tick(3).await;
    let chat = answered_new_lead(&db, tenant, &known, "click_to_whatsapp").await;
    assert!(chat.ctwa_clid.is_some() && chat.meta_ad_id.is_some());
}
