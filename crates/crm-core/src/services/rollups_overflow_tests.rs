//! Rollup totals never wrap (issue 18.12): a sum or conversion that does not
//! fit in 64 bits fails the rewrite with the lead named, and nothing is
//! written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::services::accounts;
use sea_orm::ActiveModelTrait;

async fn tenant_db() -> (DatabaseConnection, TenantInfo, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("crm-overflow-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    let db = crm_db::connect(&url, 2).await.unwrap();
    crm_db::migrate(&db).await.unwrap();
    let t = accounts::create_tenant(
        &db,
        &accounts::NewTenant {
            name: "Acme".into(),
            currency: "USD".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            locale: "es".into(),
            country: "AR".into(),
        },
    )
    .await
    .unwrap();
    let info = tenant_info(&db, t.id).await.unwrap();
    (db, info, dir)
}

fn revenue(
    t: &TenantInfo,
    lead: Uuid,
    day: NaiveDate,
    currency: &str,
    value: i64,
) -> fact::ActiveModel {
    fact::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(t.id),
        lead_id: Set(lead),
        kind: Set(REV_C.to_owned()),
        campaign_id: Set("c1".into()),
        ad_id: Set("a1".into()),
        channel: Set("lead_ads".into()),
        day: Set(day),
        ref_day: Set(day),
        currency: Set(currency.into()),
        value: Set(value),
    }
}

#[tokio::test]
async fn a_total_that_would_overflow_is_an_error_naming_the_lead_not_a_wrapped_sum() {
    let (db, t, dir) = tenant_db().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    // Each fits; their sum does not.
    fact::Entity::insert_many([
        revenue(&t, first, day, "USD", i64::MAX / 2 + 1),
        revenue(&t, second, day, "USD", i64::MAX / 2 + 1),
    ])
    .exec_without_returning(&db)
    .await
    .unwrap();
    let rates = Rates::load(&db, &t).await.unwrap();
    let err = recompute_days(&db, &t, &rates, &[day])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("amount_overflow"), "{err}");
    assert!(
        err.contains(&first.to_string()) || err.contains(&second.to_string()),
        "the error names the lead: {err}"
    );
    // No wrapped row was written.
    let rows = daily::Entity::find()
        .filter(daily::Column::TenantId.eq(t.id))
        .all(&db)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| r.revenue_c >= 0),
        "a wrapped total was stored"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_conversion_that_does_not_fit_is_an_error_naming_the_lead() {
    let (db, t, dir) = tenant_db().await;
    let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    let lead = Uuid::new_v4();
    fx_rate::ActiveModel {
        id: Set(crm_db::new_id()),
        tenant_id: Set(t.id),
        from_currency: Set("ARS".into()),
        to_currency: Set("USD".into()),
        day: Set(day),
        rate_e9: Set(1_000_000 * 1_000_000_000),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&db)
    .await
    .unwrap();
    fact::Entity::insert(revenue(&t, lead, day, "ARS", 1_000_000_000_000_000))
        .exec_without_returning(&db)
        .await
        .unwrap();
    let rates = Rates::load(&db, &t).await.unwrap();
    let err = recompute_days(&db, &t, &rates, &[day])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("amount_overflow") && err.contains(&lead.to_string()),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
