//! `crm rollups rebuild [--tenant ID|NAME]`: recomputes the Marketing Hub
//! rollups from raw data (see `crm_core::services::rollups`), and
//! `crm bench marketing`: the Marketing Hub benchmark.

use std::time::Instant;

use clap::{Args, Subcommand};
use crm_core::services::rollups;
use crm_db::entity::tenant;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::config::DbArgs;

#[derive(Debug, Subcommand)]
pub enum RollupsCmd {
    /// Recompute the Marketing Hub rollups from raw data (leads,
    /// opportunities, sales, synced insights, FX rates) with the same code the
    /// incremental path runs. Safe while the server runs; numbers are
    /// incomplete until it finishes.
    Rebuild(RebuildArgs),
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Only this tenant (its id or its exact name); default every tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}

pub async fn run_rollups(cmd: RollupsCmd) -> anyhow::Result<()> {
    let RollupsCmd::Rebuild(a) = cmd;
    let db = crm_db::connect(&a.db.database_url, a.db.db_max_connections).await?;
    crm_db::migrate(&db).await?;
    let mut q = tenant::Entity::find().order_by_asc(tenant::Column::CreatedAt);
    if let Some(t) = a.tenant.as_deref() {
        q = match t.parse::<uuid::Uuid>() {
            Ok(id) => q.filter(tenant::Column::Id.eq(id)),
            Err(_) => q.filter(tenant::Column::Name.eq(t)),
        };
    }
    let tenants = q.all(&db).await?;
    if tenants.is_empty() {
        anyhow::bail!(
            "no tenant matches {}",
            a.tenant.as_deref().unwrap_or("(any)")
        );
    }
    for t in tenants {
        let start = Instant::now();
        let r = rollups::rebuild(&db, t.id).await?;
        println!(
            "{} ({}): {} Meta-attributed leads, {} facts, {} days in {:.2} s",
            t.name,
            t.id,
            r.leads,
            r.facts,
            r.days,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// crm bench marketing

#[derive(Debug, Args)]
pub struct BenchMarketingArgs {
    /// `sqlite://PATH` (default: a temporary file) or a PostgreSQL server URL
    /// (a fresh database `crm_bench_<random>` is created on it and dropped).
    #[arg(long)]
    pub database_url: Option<String>,
    #[arg(long, default_value_t = 1_000_000)]
    pub leads: usize,
    #[arg(long, default_value_t = 200_000)]
    pub opportunities: usize,
    #[arg(long, default_value_t = 100_000)]
    pub sales: usize,
    #[arg(long, default_value_t = 500)]
    pub campaigns: usize,
    #[arg(long, default_value_t = 365)]
    pub days: usize,
    #[arg(long, default_value_t = 5)]
    pub ads_per_campaign: usize,
    /// Requests per endpoint (after warm-up).
    #[arg(long, default_value_t = 50)]
    pub runs: usize,
    /// Repetitions of each raw-table scan.
    #[arg(long, default_value_t = 5)]
    pub scan_runs: usize,
}

use chrono::Utc;
use crm_core::metrics::{DateRange, Model};
use crm_core::services::{accounts, marketing_scan};
use crm_core::{Role, TenantCtx};
use crm_db::entity::{
    fx_rate, lead, meta_ad_object, meta_insights_daily, opportunity, pipeline_stage, sale,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

async fn insert_chunks<A, E>(
    db: &DatabaseConnection,
    rows: Vec<A>,
    per: usize,
) -> anyhow::Result<()>
where
    A: sea_orm::ActiveModelTrait<Entity = E> + Clone + Send,
    E: EntityTrait,
{
    for c in rows.chunks(per) {
        E::insert_many(c.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn run_bench(a: BenchMarketingArgs) -> anyhow::Result<()> {
    let (url, scratch) = crate::leads_cli::fresh_db(a.database_url.as_deref()).await?;
    let backend = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let db = crm_db::connect(&url, 8).await?;
    crm_db::migrate(&db).await?;
    let tenant = accounts::create_tenant(
        &db,
        &accounts::NewTenant {
            name: "Bench".into(),
            currency: "USD".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            locale: "es".into(),
            country: "AR".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tid = tenant.id;
    let tz: chrono_tz::Tz = tenant.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let ctx = TenantCtx {
        tenant_id: tid,
        user_id: None,
        token_id: None,
        role: Role::Admin,
        ip: None,
        user_agent: Some("crm bench marketing".into()),
    };
    println!(
        "backend: {backend}; {} leads, {} opportunities, {} sales, {} campaigns × {} days × {} ads",
        a.leads, a.opportunities, a.sales, a.campaigns, a.days, a.ads_per_campaign
    );
    crm_core::services::pipeline::ensure_default_stages(&db, tid)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let stages: Vec<(Uuid, String)> = pipeline_stage::Entity::find()
        .filter(pipeline_stage::Column::TenantId.eq(tid))
        .select_only()
        .columns([pipeline_stage::Column::Id, pipeline_stage::Column::Kind])
        .into_tuple()
        .all(&db)
        .await?;
    let won = stages
        .iter()
        .find(|(_, k)| k == "won")
        .map(|s| s.0)
        .ok_or_else(|| anyhow::anyhow!("no won stage"))?;
    let open = stages
        .iter()
        .find(|(_, k)| k == "open")
        .map(|s| s.0)
        .ok_or_else(|| anyhow::anyhow!("no open stage"))?;

    // --- Seeding (bulk inserts) -------------------------------------------
    let seed = Instant::now();
    let now = Utc::now();
    let n_ads = a.campaigns * a.ads_per_campaign;
    let cid = |c: usize| format!("{}", 120_000_000_000 + c);
    let aid = |ad: usize| format!("{}", 130_000_000_000 + ad);
    let mut objs = Vec::with_capacity(a.campaigns * 2 + n_ads);
    let statuses = ["ACTIVE", "ACTIVE", "PAUSED", "ARCHIVED"];
    let obj = |level: &str, id: String, camp: String, adset: Option<String>, status: &str| {
        meta_ad_object::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tid),
            level: Set(level.to_owned()),
            name: Set(format!("{level} {id}")),
            external_id: Set(id),
            ad_account_id: Set("act_bench".into()),
            campaign_id: Set(Some(camp)),
            adset_id: Set(adset),
            status: Set(status.to_owned()),
            effective_status: Set(Some(status.to_owned())),
            objective: Set(Some("OUTCOME_LEADS".into())),
            creative_title: Set(None),
            creative_body: Set(None),
            created_time: Set(None),
            first_seen_at: Set(now),
            synced_at: Set(now),
        }
    };
    for c in 0..a.campaigns {
        let st = statuses[c % statuses.len()];
        objs.push(obj("campaign", cid(c), cid(c), None, st));
        objs.push(obj("adset", format!("s{c}"), cid(c), None, st));
        for k in 0..a.ads_per_campaign {
            objs.push(obj(
                "ad",
                aid(c * a.ads_per_campaign + k),
                cid(c),
                Some(format!("s{c}")),
                st,
            ));
        }
    }
    insert_chunks(&db, objs, 1000).await?;
    let mut fx = Vec::new();
    for d in 0..(a.days + 60) {
        let day = today - chrono::Duration::days(d as i64);
        fx.push(fx_rate::ActiveModel {
            id: Set(crm_db::new_id()),
            tenant_id: Set(tid),
            from_currency: Set("ARS".into()),
            to_currency: Set("USD".into()),
            day: Set(day),
            rate_e9: Set(1_000_000 + (d as i64 % 7) * 1000),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    insert_chunks(&db, fx, 1000).await?;
    let t = Instant::now();
    let mut batch = Vec::with_capacity(2000);
    let mut n_ins = 0usize;
    for d in 0..a.days {
        let day = today - chrono::Duration::days(d as i64);
        for ad in 0..n_ads {
            let c = ad / a.ads_per_campaign;
            let x = (ad * 31 + d * 17) % 100;
            batch.push(meta_insights_daily::ActiveModel {
                id: Set(crm_db::new_id()),
                tenant_id: Set(tid),
                ad_account_id: Set("act_bench".into()),
                campaign_id: Set(cid(c)),
                adset_id: Set(format!("s{c}")),
                ad_id: Set(aid(ad)),
                day: Set(day),
                currency: Set("USD".into()),
                spend_minor: Set(500 + (x as i64) * 37),
                impressions: Set(1000 + (x as i64) * 13),
                clicks: Set(10 + x as i64),
                reach: Set(800 + (x as i64) * 9),
                meta_leads: Set((x % 4) as i64),
                messaging_started: Set((x % 3) as i64),
                synced_at: Set(now),
            });
            n_ins += 1;
            if batch.len() == 2000 {
                insert_chunks(&db, std::mem::take(&mut batch), 2000).await?;
            }
        }
    }
    insert_chunks(&db, batch, 2000).await?;
    println!(
        "seeded {n_ins} insight rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Leads: 90% Meta-attributed, spread over the days and ads; every
    // (leads / opportunities)-th lead gets an opportunity, half of those are
    // won and carry a sale (10% in ARS).
    let t = Instant::now();
    let opp_every = (a.leads / a.opportunities.max(1)).max(1);
    let mut leads_b = Vec::with_capacity(800);
    let mut opps_b = Vec::with_capacity(2000);
    let mut sales_b = Vec::with_capacity(2000);
    let (mut n_opps, mut n_sales) = (0usize, 0usize);
    let span = (a.days as i64) * 86_400;
    for i in 0..a.leads {
        let id = crm_db::new_id();
        let ago = (i as i64 * 7919) % span;
        let created = now - chrono::Duration::seconds(ago);
        let meta = i % 10 != 0;
        let ad = (i * 13) % n_ads;
        let c = ad / a.ads_per_campaign;
        let channel = if i.is_multiple_of(2) {
            "lead_form"
        } else {
            "click_to_whatsapp"
        };
        let name = format!("Lead {i}");
        leads_b.push(lead::ActiveModel {
            id: Set(id),
            tenant_id: Set(tid),
            search: Set(name.to_lowercase()),
            name: Set(name),
            phone: Set(None),
            email: Set(None),
            wa_id: Set(None),
            bsuid: Set(None),
            status: Set("new".into()),
            owner_id: Set(None),
            tags: Set(json!([])),
            lead_source: Set(if meta { "META_ADS" } else { "OTHER" }.into()),
            channel: Set(if meta { channel } else { "manual" }.into()),
            meta_campaign_id: Set(meta.then(|| cid(c))),
            meta_adset_id: Set(meta.then(|| format!("s{c}"))),
            meta_ad_id: Set(meta.then(|| aid(ad))),
            meta_ad_headline: Set(None),
            meta_ad_body: Set(None),
            meta_source_url: Set(None),
            meta_lead_id: Set(None),
            meta_form_id: Set(None),
            ctwa_clid: Set(None),
            utm_source: Set(None),
            utm_medium: Set(None),
            utm_campaign: Set(None),
            utm_content: Set(None),
            utm_term: Set(None),
            fbclid: Set(None),
            external_ids: Set(json!({})),
            opt_in_at: Set(None),
            opt_in_method: Set(None),
            opt_out_at: Set(None),
            opt_out_method: Set(None),
            last_inbound_at: Set(None),
            timezone: Set(tenant.timezone.clone()),
            created_at: Set(created),
            updated_at: Set(created),
        });
        if i.is_multiple_of(opp_every) && n_opps < a.opportunities {
            n_opps += 1;
            let oid = crm_db::new_id();
            let o_created = (created + chrono::Duration::hours(20)).min(now);
            let is_won = n_sales < a.sales && (i / opp_every).is_multiple_of(2);
            let closed = (o_created + chrono::Duration::hours(30)).min(now);
            let ars = i % 10 == 3;
            let amount = 10_000 + (i as i64 % 50) * 100;
            opps_b.push(opportunity::ActiveModel {
                id: Set(oid),
                tenant_id: Set(tid),
                lead_id: Set(id),
                owner_id: Set(None),
                name: Set(format!("Deal {i}")),
                value_minor: Set(amount),
                currency: Set(if ars { "ARS" } else { "USD" }.into()),
                stage_id: Set(if is_won { won } else { open }),
                probability: Set(if is_won { 100 } else { 20 }),
                expected_close_date: Set(None),
                closed_at: Set(is_won.then_some(closed)),
                lost_reason: Set(None),
                created_at: Set(o_created),
                updated_at: Set(o_created),
            });
            if is_won {
                n_sales += 1;
                sales_b.push(sale::ActiveModel {
                    id: Set(crm_db::new_id()),
                    tenant_id: Set(tid),
                    opportunity_id: Set(oid),
                    lead_id: Set(id),
                    kind: Set("sale".into()),
                    refund_of: Set(None),
                    amount_minor: Set(if ars { amount * 1000 } else { amount }),
                    currency: Set(if ars { "ARS" } else { "USD" }.into()),
                    status: Set("completed".into()),
                    paid_at: Set(Some(closed)),
                    method: Set(None),
                    invoice_ref: Set(None),
                    note: Set(None),
                    attribution: Set(json!({})),
                    created_by: Set(None),
                    created_at: Set(closed),
                    updated_at: Set(closed),
                });
            }
        }
        // Parents first: leads, then opportunities, then sales.
        let flush_sales = sales_b.len() >= 1500;
        let flush_opps = flush_sales || opps_b.len() >= 2000;
        if flush_opps || leads_b.len() == 800 {
            insert_chunks(&db, std::mem::take(&mut leads_b), 800).await?;
        }
        if flush_opps {
            insert_chunks(&db, std::mem::take(&mut opps_b), 2000).await?;
        }
        if flush_sales {
            insert_chunks(&db, std::mem::take(&mut sales_b), 1500).await?;
        }
    }
    insert_chunks(&db, leads_b, 800).await?;
    insert_chunks(&db, opps_b, 2000).await?;
    insert_chunks(&db, sales_b, 1500).await?;
    println!(
        "seeded {} leads, {n_opps} opportunities, {n_sales} sales in {:.1} s (all seeding {:.1} s)",
        a.leads,
        t.elapsed().as_secs_f64(),
        seed.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let r = rollups::rebuild(&db, tid).await?;
    println!(
        "rollups rebuild: {} leads, {} facts, {} days in {:.1} s",
        r.leads,
        r.facts,
        r.days,
        t.elapsed().as_secs_f64()
    );

    // Seeding can leave a large write-ahead log on SQLite; a server that has
    // been running has long checkpointed it.
    if !crm_db::is_postgres(&db) {
        let t = Instant::now();
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
        println!(
            "sqlite: write-ahead log checkpointed in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }

    // The raw-table equivalents first, before the servers start: each scan
    // loads every lead into this process, and a request timed right after
    // one pays for it (the first timed kind used to follow the first-day
    // scan and was 2-3x slower on SQLite than the same request timed later).
    let first = marketing_scan::scan_first_day(&db, tid)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cases: [(&'static str, &str, Model, bool); 6] = [
        (
            "/api/crm/marketing/stats?time_range=30d",
            "30d",
            Model::Cohort,
            true,
        ),
        (
            "/api/crm/marketing/stats?time_range=30d&model=activity",
            "30d",
            Model::Activity,
            true,
        ),
        (
            "/api/crm/marketing/stats?time_range=all",
            "all",
            Model::Cohort,
            true,
        ),
        (
            "/api/crm/marketing/campaigns?time_range=30d",
            "30d",
            Model::Cohort,
            false,
        ),
        (
            "/api/crm/marketing/campaigns?time_range=30d&model=activity",
            "30d",
            Model::Activity,
            false,
        ),
        (
            "/api/crm/marketing/campaigns?time_range=all",
            "all",
            Model::Cohort,
            false,
        ),
    ];
    let mut scans = Vec::with_capacity(cases.len());
    for (_, range, model, is_stats) in cases {
        let period = crm_core::metrics::resolve_period(Some(range), None, None, today, first)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // One scan per period (stats also needs the previous period for its
        // changes).
        let mut samples = Vec::with_capacity(a.scan_runs);
        let mut last = None;
        for _ in 0..a.scan_runs {
            let t = Instant::now();
            let cur = scan(&db, tid, period, model).await?;
            if is_stats {
                std::hint::black_box(scan(&db, tid, period.previous(), model).await?);
            }
            samples.push(t.elapsed());
            last = Some(cur);
        }
        scans.push((crate::leads_cli::stats(samples).0, last));
    }

    // --- The HTTP server and an authenticated client ----------------------
    let data_dir = std::env::temp_dir().join(format!("crm-bench-mkt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data_dir)?;
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        args: crate::config::ServeArgs,
    }
    // Two servers on the same database: the normal one (read cache on) and
    // one with the cache off, which computes every answer from the rollups
    // (the cost of the first view after a change).
    let serve = |cache: &str| {
        <Wrap as clap::Parser>::try_parse_from([
            "crm".to_owned(),
            "--production=false".into(),
            "--database-url".into(),
            url.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--api-rate-per-sec".into(),
            "100000".into(),
            "--api-burst".into(),
            "100000".into(),
            "--worker".into(),
            "false".into(),
            "--marketing-cache".into(),
            cache.to_owned(),
        ])
        .map(|w| w.args)
    };
    let server = crate::server::start(serve("4096")?).await?;
    let cold_server = crate::server::start(serve("0")?).await?;
    let (_, secret) = accounts::create_token(
        &db,
        &ctx,
        &accounts::NewApiToken {
            name: "bench".into(),
            role: Role::Admin,
            expires_in_days: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = reqwest::Client::new();
    let warm_base = format!("http://{}", server.addr);
    let cold_base = format!("http://{}", cold_server.addr);
    let get = |base: &str, path: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth(&secret)
            .send()
    };
    // Untimed requests first: each pooled connection of the server prepares
    // its statements on first use, so a short warm-up left the first timed
    // request kind paying for it.
    const WARMUP: usize = 40;
    let warm_up = |base: &str, path: &'static str| {
        let get = &get;
        let base = base.to_owned();
        async move {
            for _ in 0..WARMUP {
                let r = get(&base, path).await?;
                anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
                r.bytes().await?;
            }
            anyhow::Ok(())
        }
    };
    let time_http = |base: &str, path: &'static str| {
        let get = &get;
        let base = base.to_owned();
        async move {
            let mut samples = Vec::with_capacity(a.runs);
            for _ in 0..a.runs {
                let t = Instant::now();
                let r = get(&base, path).await?;
                let body = r.bytes().await?;
                samples.push(t.elapsed());
                std::hint::black_box(body);
            }
            anyhow::Ok(samples)
        }
    };
    let json_of = |path: &'static str| {
        let get = &get;
        let base = &warm_base;
        async move { anyhow::Ok(get(base, path).await?.json::<Value>().await?) }
    };

    // Every request kind is warmed up on both servers before anything is
    // timed (prepared statements on the pooled connections, the cold
    // server's first reads of the rollups).
    warm_up(&warm_base, "/api/auth/me").await?;
    for (path, ..) in &cases {
        warm_up(&warm_base, path).await?;
        warm_up(&cold_base, path).await?;
    }
    let trivial = crate::leads_cli::stats(time_http(&warm_base, "/api/auth/me").await?);
    println!();
    println!(
        "trivial authenticated endpoint GET /api/auth/me: median {:.2} ms, p95 {:.2} ms",
        trivial.0, trivial.1
    );
    println!();
    println!(
        "warm: the server as shipped (a repeated view of unchanged data: read cache hit). \
         cold: the same request on a server with the cache off (computed from the rollups)."
    );
    println!();
    println!(
        "| request | warm median ms | warm p95 ms | warm / trivial | cold median ms | cold p95 ms | cold / trivial | raw scan median ms | scan / warm | scan / cold | same numbers |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for ((path, _, _, is_stats), (scan_median, last)) in cases.into_iter().zip(scans) {
        let (median, p95) = crate::leads_cli::stats(time_http(&warm_base, path).await?);
        let (cold_median, cold_p95) = crate::leads_cli::stats(time_http(&cold_base, path).await?);
        let body = json_of(path).await?;
        let same = match last {
            Some(c) => same_numbers(&body, &c, is_stats),
            None => false,
        };
        println!(
            "| GET {} | {median:.2} | {p95:.2} | {:.1}x | {cold_median:.2} | {cold_p95:.2} | {:.1}x | {scan_median:.0} | {:.0}x | {:.0}x | {} |",
            path.trim_start_matches("/api/crm/marketing/"),
            median / trivial.0,
            cold_median / trivial.0,
            scan_median / median,
            scan_median / cold_median,
            if same { "yes" } else { "NO" }
        );
    }
    cold_server.shutdown().await;
    server.shutdown().await;

    // --- The write side: what one change costs the rollups -----------------
    // A day marked dirty and refreshed (its daily rows rewritten from its
    // facts and insights, and its month adjusted by the difference), as the
    // worker, or the first read after a change, does it.
    const REFRESH_RUNS: usize = 7;
    let day = today - chrono::Duration::days(45);
    let mut refresh = Vec::new();
    for _ in 0..REFRESH_RUNS {
        crm_db::rollups::mark_days(&db, tid, [day]).await?;
        let t = Instant::now();
        let r = rollups::refresh(&db, tid).await?;
        refresh.push(t.elapsed());
        anyhow::ensure!(r.days == 1, "expected one refreshed day, got {r:?}");
    }
    let (refresh_median, refresh_p95) = crate::leads_cli::stats(refresh);
    println!();
    println!(
        "refresh of one changed day ({day}): median {refresh_median:.1} ms, p95 {refresh_p95:.1} ms"
    );
    db.close().await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    scratch.remove().await?;
    Ok(())
}

async fn scan(
    db: &DatabaseConnection,
    tid: Uuid,
    r: DateRange,
    model: Model,
) -> anyhow::Result<crm_core::services::marketing::Acc> {
    let (c, _) = marketing_scan::scan(db, tid, r, model)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(c.total)
}

/// Whether a response's totals equal the scan's.
fn same_numbers(body: &Value, scan: &crm_core::services::marketing::Acc, is_stats: bool) -> bool {
    let t = if is_stats { body } else { &body["totals"] };
    let cents = |v: &Value| (v.as_f64().unwrap_or(f64::NAN) * 100.0).round() as i64;
    t["leads"].as_i64() == Some(scan.leads)
        && t["opportunities"].as_i64() == Some(scan.opportunities)
        && t["won"].as_i64() == Some(scan.won)
        && t["customers"].as_i64() == Some(scan.customers)
        && cents(&t["sales_revenue"]) == scan.revenue
        && cents(&t["marketing_spend"]) == scan.spend
        && t["impressions"].as_i64() == Some(scan.impressions)
}
