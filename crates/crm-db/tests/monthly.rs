#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `marketing_monthly`: the migration fills it from existing daily rows, and
//! `add_to_months` / `drop_empty_months` apply a day's rewrite to it, on
//! whichever backend CRM_TEST_DATABASE_URL names.

use chrono::{NaiveDate, Utc};
use crm_db::Migrator;
use crm_db::entity::{marketing_daily as daily, marketing_monthly as monthly, tenant};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn tenant(db: &DatabaseConnection) -> Uuid {
    let id = crm_db::new_id();
    tenant::ActiveModel {
        id: Set(id),
        name: Set("T".into()),
        currency: Set("USD".into()),
        timezone: Set("UTC".into()),
        locale: Set("es".into()),
        country: Set("AR".into()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

async fn day_row(db: &DatabaseConnection, t: Uuid, level: &str, campaign: &str, day: &str, n: i64) {
    daily::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(t),
        level: Set(level.into()),
        campaign_id: Set(campaign.into()),
        ad_id: Set(String::new()),
        channel: Set(String::new()),
        day: Set(d(day)),
        insight_rows: Set(1),
        spend: Set(100 * n),
        impressions: Set(1000 * n),
        clicks: Set(10 * n),
        reach: Set(500),
        meta_leads: Set(n),
        messaging: Set(0),
        leads: Set(n),
        opps_c: Set(0),
        won_c: Set(0),
        customers_c: Set(0),
        revenue_c: Set(7 * n),
        opps_a: Set(0),
        won_a: Set(0),
        revenue_a: Set(3 * n),
    }
    .insert(db)
    .await
    .unwrap();
}

/// (level, campaign, month, spend, leads, insight_rows) of a tenant.
async fn months(
    db: &DatabaseConnection,
    t: Uuid,
) -> Vec<(String, String, NaiveDate, i64, i64, i64)> {
    let mut v: Vec<_> = monthly::Entity::find()
        .filter(monthly::Column::TenantId.eq(t))
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.level,
                m.campaign_id,
                m.month,
                m.spend,
                m.leads,
                m.insight_rows,
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_migration_sums_existing_days_and_a_rewritten_day_moves_its_month() {
    let dir = std::env::temp_dir().join(format!("crm-db-monthly-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    let db = crm_db::connect(&url, 5).await.unwrap();
    // Every migration before the monthly table, then data, then the rest.
    let before = Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261122_000080_marketing_monthly")
        .expect("the monthly migration");
    Migrator::up(&db, Some(before as u32)).await.unwrap();
    let t = tenant(&db).await;
    let other = tenant(&db).await;
    for (level, campaign, day, n) in [
        ("c", "cmp-1", "2026-01-30", 1),
        ("c", "cmp-1", "2026-01-31", 2),
        ("c", "cmp-1", "2026-02-01", 4),
        ("c", "cmp-2", "2026-02-28", 8),
        ("t", "", "2026-01-31", 3),
    ] {
        day_row(&db, t, level, campaign, day, n).await;
    }
    day_row(&db, other, "c", "cmp-1", "2026-01-15", 50).await;
    crm_db::migrate(&db).await.unwrap();
    let want = vec![
        (
            "c".to_owned(),
            "cmp-1".to_owned(),
            d("2026-01-01"),
            300,
            3,
            2,
        ),
        (
            "c".to_owned(),
            "cmp-1".to_owned(),
            d("2026-02-01"),
            400,
            4,
            1,
        ),
        (
            "c".to_owned(),
            "cmp-2".to_owned(),
            d("2026-02-01"),
            800,
            8,
            1,
        ),
        ("t".to_owned(), String::new(), d("2026-01-01"), 300, 3, 1),
    ];
    assert_eq!(months(&db, t).await, want);
    assert_eq!(
        months(&db, other).await,
        vec![(
            "c".to_owned(),
            "cmp-1".to_owned(),
            d("2026-01-01"),
            5000,
            50,
            1
        )]
    );
    let jan = monthly::Entity::find()
        .filter(monthly::Column::TenantId.eq(t))
        .filter(monthly::Column::Level.eq("c"))
        .filter(monthly::Column::Month.eq(d("2026-01-01")))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    // Every additive column is summed; reach is not kept per month.
    assert_eq!(
        (jan.impressions, jan.clicks, jan.revenue_c, jan.revenue_a),
        (3000, 30, 21, 9)
    );

    // A day rewritten: January 31 loses its rows (cmp-1: 2, total: 3) and
    // gains cmp-3 (16); the month gets the difference. The other month and
    // the other tenant are left alone, and emptied rows are dropped.
    use crm_db::rollups::{MonthKey, add_to_months, drop_empty_months};
    let key = |level: &str, campaign: &str| MonthKey {
        level: level.into(),
        campaign_id: campaign.into(),
        ad_id: String::new(),
        channel: String::new(),
        month: d("2026-01-01"),
    };
    // spend, leads etc. as day_row writes them for n.
    let sums = |n: i64, rows: i64| {
        [
            rows,
            100 * n,
            1000 * n,
            10 * n,
            n,
            0,
            n,
            0,
            0,
            0,
            7 * n,
            0,
            0,
            3 * n,
        ]
    };
    let neg = |a: [i64; 14]| a.map(|v| -v);
    add_to_months(
        &db,
        t,
        [
            (key("c", "cmp-1"), neg(sums(2, 1))),
            (key("t", ""), neg(sums(3, 1))),
            (key("c", "cmp-3"), sums(16, 1)),
            // Nothing to add: no row is written for it.
            (key("c", "cmp-9"), [0; 14]),
        ],
    )
    .await
    .unwrap();
    drop_empty_months(&db, t, &[d("2026-01-01")]).await.unwrap();
    let want = vec![
        (
            "c".to_owned(),
            "cmp-1".to_owned(),
            d("2026-01-01"),
            100,
            1,
            1,
        ),
        (
            "c".to_owned(),
            "cmp-1".to_owned(),
            d("2026-02-01"),
            400,
            4,
            1,
        ),
        (
            "c".to_owned(),
            "cmp-2".to_owned(),
            d("2026-02-01"),
            800,
            8,
            1,
        ),
        (
            "c".to_owned(),
            "cmp-3".to_owned(),
            d("2026-01-01"),
            1600,
            16,
            1,
        ),
    ];
    assert_eq!(months(&db, t).await, want);
    assert_eq!(months(&db, other).await.len(), 1);
    let jan = monthly::Entity::find()
        .filter(monthly::Column::TenantId.eq(t))
        .filter(monthly::Column::CampaignId.eq("cmp-1"))
        .filter(monthly::Column::Month.eq(d("2026-01-01")))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (jan.impressions, jan.clicks, jan.revenue_c, jan.revenue_a),
        (1000, 10, 7, 3)
    );
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
