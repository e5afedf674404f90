//! `crm import leads FILE --tenant ID` (streamed CSV import with a progress
//! bar) and `crm bench leads` (import throughput and lead-list latency).

use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use crm_core::services::import::{self, Mapping};
use crm_core::services::leads::{self, LeadQuery, LeadSort};
use crm_core::{Role, TenantCtx};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ConnectionTrait, Database};

use crate::config::DbArgs;

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Import leads from a CSV file (header row required). Invalid rows are
    /// reported with line numbers; rows matching existing leads are skipped.
    Leads(ImportLeadsArgs),
}

#[derive(Debug, Args)]
pub struct ImportLeadsArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The CSV file.
    pub file: PathBuf,
    /// Tenant id.
    #[arg(long)]
    pub tenant: uuid::Uuid,
    /// Header mapping as JSON (`{"Teléfono":"phone","Notas":"-"}`) or `@FILE`.
    #[arg(long)]
    pub mapping: Option<String>,
    /// Also write the full report as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Import N generated leads into a fresh tenant, then time the lead list
    /// with filters and search. Prints median and p95 with ratios to a
    /// baseline measured in the same run.
    Leads(BenchLeadsArgs),
    /// Seed a Marketing Hub world (leads, opportunities, sales, campaigns ×
    /// days × ads of insights), build the rollups, then time `stats` and
    /// `campaigns` through the HTTP server against a trivial authenticated
    /// endpoint and against a scan of the raw tables.
    Marketing(crate::marketing_cli::BenchMarketingArgs),
    /// Send N templates through the automation engine to the in-process Meta
    /// sandbox at its per-number cap; prints the achieved rate, per-second
    /// median/p95, 130429 refusals and a same-process baseline.
    HsmSend(crate::hsm_bench::BenchHsmSendArgs),
    /// Post N signed Meta webhook deliveries to the real server (worker
    /// off), then drain them with the worker: ingest events/s against a
    /// trivial endpoint, processing events/s for status updates (per round)
    /// and for new leads, lost/doubled counts and the SQLite file sizes.
    Webhooks(crate::webhooks_bench::BenchWebhooksArgs),
}

#[derive(Debug, Args)]
pub struct BenchLeadsArgs {
    /// `sqlite://PATH` (default: a temporary file) or a PostgreSQL server URL
    /// (a fresh database `crm_bench_<random>` is created on it and dropped).
    #[arg(long)]
    pub database_url: Option<String>,
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// Repetitions of each list query.
    #[arg(long, default_value_t = 40)]
    pub runs: usize,
}

fn system_ctx(tenant_id: uuid::Uuid, agent: &str) -> TenantCtx {
    TenantCtx {
        tenant_id,
        user_id: None,
        token_id: None,
        role: Role::Admin,
        ip: None,
        user_agent: Some(agent.to_owned()),
    }
}

fn read_mapping(raw: Option<&str>) -> anyhow::Result<Mapping> {
    let Some(raw) = raw else {
        return Ok(Mapping::new());
    };
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)?,
        None => raw.to_owned(),
    };
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--mapping must be a JSON object of header -> field: {e}"))
}

pub async fn run_import(cmd: ImportCmd) -> anyhow::Result<()> {
    let ImportCmd::Leads(a) = cmd;
    let db = crm_db::connect(&a.db.database_url, a.db.db_max_connections).await?;
    crm_db::migrate(&db).await?;
    let mapping = read_mapping(a.mapping.as_deref())?;
    let file = std::fs::File::open(&a.file)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", a.file.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = pb.wrap_read(BufReader::with_capacity(1 << 16, file));
    let ctx = system_ctx(a.tenant, "crm import leads");
    let started = Instant::now();
    let report = import::import_csv(&db, &ctx, reader, &mapping, |rows| {
        pb.set_message(format!("{rows} rows"));
    })
    .await;
    pb.finish_and_clear();
    let report = report.map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} rows in {secs:.1} s: {} created, {} duplicates, {} invalid",
        report.rows, report.created, report.duplicates, report.invalid
    );
    for e in report.errors.iter().take(20) {
        println!(
            "  line {}: {}{} ({})",
            e.line,
            e.field
                .as_deref()
                .map(|f| format!("{f}: "))
                .unwrap_or_default(),
            e.reason,
            e.code
        );
    }
    if report.errors.len() > 20 || report.truncated {
        println!("  … more errors; use --report FILE for the full list");
    }
    if let Some(path) = &a.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

const STATUSES: [&str; 6] = [
    "new",
    "contacted",
    "qualified",
    "unqualified",
    "customer",
    "lost",
];
const FIRST: [&str; 8] = [
    "Ana", "Bruno", "Carla", "Diego", "Elena", "Fabio", "Gina", "Hugo",
];
const LAST: [&str; 8] = [
    "Pérez", "Gómez", "Ruiz", "Díaz", "López", "Sosa", "Vega", "Ríos",
];

/// A deterministic CSV of `n` leads: unique phones and emails, statuses,
/// tags, and a third of them from Meta campaigns.
fn generate_csv(n: usize) -> String {
    let mut s = String::with_capacity(n * 120);
    s.push_str("name,phone,email,status,tags,utm_source,meta_campaign_id,meta_ad_id\n");
    for i in 0..n {
        let meta = i % 3 == 0;
        s.push_str(&format!(
            "{} {} {i},+54911{:08},lead{i}@example.com,{},{},{},{},{}\n",
            FIRST[i % 8],
            LAST[(i / 8) % 8],
            10_000_000 + i,
            STATUSES[i % 6],
            if i % 10 == 0 { "vip" } else { "" },
            if meta { "facebook" } else { "" },
            if meta {
                format!("cmp-{}", i % 20)
            } else {
                String::new()
            },
            if meta {
                format!("ad-{}", i % 200)
            } else {
                String::new()
            },
        ));
    }
    s
}

pub(crate) fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let p95 = ms(samples[((samples.len() as f64 * 0.95).ceil() as usize)
        .saturating_sub(1)
        .min(samples.len() - 1)]);
    (median, p95)
}

/// Where a benchmark's fresh database lives, so it can be removed afterwards
/// (a full-scale Marketing Hub run leaves about 2 GB).
pub(crate) enum Scratch {
    /// A `crm_bench_<random>` database on a PostgreSQL server.
    Postgres { admin_url: String, name: String },
    /// A temporary directory holding a SQLite file.
    Dir(std::path::PathBuf),
    /// A database the user named: left alone.
    Keep,
}

impl Scratch {
    /// Drops the database or deletes the directory. Call it after every
    /// connection to the database is closed.
    pub(crate) async fn remove(self) -> anyhow::Result<()> {
        match self {
            Scratch::Postgres { admin_url, name } => {
                let admin = Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
            }
            Scratch::Dir(dir) => std::fs::remove_dir_all(dir)?,
            Scratch::Keep => {}
        }
        Ok(())
    }
}

pub(crate) async fn fresh_db(url: Option<&str>) -> anyhow::Result<(String, Scratch)> {
    match url {
        Some(u) if u.starts_with("postgres") => {
            let name = format!("crm_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(u).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await?;
            let base = u.rsplit_once('/').map(|(b, _)| b).unwrap_or(u);
            Ok((
                format!("{base}/{name}"),
                Scratch::Postgres {
                    admin_url: u.to_owned(),
                    name,
                },
            ))
        }
        Some(u) => Ok((u.to_owned(), Scratch::Keep)),
        None => {
            let dir =
                std::env::temp_dir().join(format!("crm-bench-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir)?;
            Ok((
                format!("sqlite://{}/bench.db", dir.display()),
                Scratch::Dir(dir),
            ))
        }
    }
}

pub async fn run_bench(cmd: BenchCmd) -> anyhow::Result<()> {
    let a = match cmd {
        BenchCmd::Leads(a) => a,
        BenchCmd::Marketing(m) => return crate::marketing_cli::run_bench(m).await,
        BenchCmd::HsmSend(a) => return crate::hsm_bench::run(a).await,
        BenchCmd::Webhooks(a) => return crate::webhooks_bench::run(a).await,
    };
    let (url, scratch) = fresh_db(a.database_url.as_deref()).await?;
    let backend = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let db = crm_db::connect(&url, 8).await?;
    crm_db::migrate(&db).await?;
    let tenant = crm_core::services::accounts::create_tenant(
        &db,
        &crm_core::services::accounts::NewTenant {
            name: "Bench".into(),
            currency: "USD".into(),
            timezone: "America/Argentina/Buenos_Aires".into(),
            locale: "es".into(),
            country: "AR".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = system_ctx(tenant.id, "crm bench");
    let csv = generate_csv(a.rows);
    println!(
        "backend: {backend}; rows: {}; list runs: {}",
        a.rows, a.runs
    );

    // Baseline for the import: reading and validating every row (CSV parse
    // and E.164 normalization) without touching the database.
    let t = Instant::now();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let mut valid = 0usize;
    for rec in rdr.records() {
        let rec = rec?;
        if crm_core::services::phone::normalize(rec.get(1).unwrap_or(""), "AR").is_ok()
            && crm_core::validate::email(rec.get(2).unwrap_or("")).is_ok()
        {
            valid += 1;
        }
    }
    let parse = t.elapsed();
    // The same file through the import service (it reads from an owned reader).
    let import_file = || async {
        import::import_csv(
            &db,
            &ctx,
            std::io::Cursor::new(csv.clone().into_bytes()),
            &Mapping::new(),
            |_| {},
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let t = Instant::now();
    let report = import_file().await?;
    let took = t.elapsed();
    anyhow::ensure!(
        report.created as usize == a.rows && valid == a.rows,
        "import created {} of {}",
        report.created,
        a.rows
    );
    println!(
        "import: {} rows in {:.2} s = {:.0} rows/s (parse+validate baseline {:.2} s; ratio {:.1}x)",
        a.rows,
        took.as_secs_f64(),
        a.rows as f64 / took.as_secs_f64(),
        parse.as_secs_f64(),
        took.as_secs_f64() / parse.as_secs_f64()
    );
    let t = Instant::now();
    let again = import_file().await?;
    println!(
        "re-import of the same file: {} created, {} duplicates in {:.2} s",
        again.created,
        again.duplicates,
        t.elapsed().as_secs_f64()
    );

    let q = |f: &dyn Fn(&mut LeadQuery)| {
        let mut q = LeadQuery {
            limit: Some(50),
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let second_page = leads::list(&db, &ctx, &q(&|q| q.sort = Some(LeadSort::NameAsc)))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .next_cursor;
    let cases: Vec<(&str, LeadQuery)> = vec![
        ("first page, newest first (baseline)", q(&|_| {})),
        (
            "status=qualified",
            q(&|q| q.status = Some("qualified".into())),
        ),
        (
            "source=META_ADS & campaign_id=cmp-7",
            q(&|q| {
                q.source = Some("META_ADS".into());
                q.campaign_id = Some("cmp-7".into());
            }),
        ),
        ("ad_id=ad-42", q(&|q| q.ad_id = Some("ad-42".into()))),
        ("tag=vip", q(&|q| q.tag = Some("vip".into()))),
        (
            "q=gómez 4 (name search)",
            q(&|q| q.q = Some("gómez 4".into())),
        ),
        (
            "q=1005 0001 (phone digits)",
            q(&|q| q.q = Some("1005 0001".into())),
        ),
        ("q=lead77@ (email)", q(&|q| q.q = Some("lead77@".into()))),
        (
            "sort=name, page 2 (cursor)",
            q(&|q| {
                q.sort = Some(LeadSort::NameAsc);
                q.cursor = second_page.clone();
            }),
        ),
        (
            "status=new & q=ana & sort=-updated_at",
            q(&|q| {
                q.status = Some("new".into());
                q.q = Some("ana".into());
                q.sort = Some(LeadSort::RecentlyUpdated);
            }),
        ),
    ];
    println!();
    println!("| lead list query (50 per page) | median ms | p95 ms | median / baseline |");
    println!("|---|---:|---:|---:|");
    let mut baseline = None;
    for (name, query) in &cases {
        leads::list(&db, &ctx, query)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut samples = Vec::with_capacity(a.runs);
        for _ in 0..a.runs {
            let t = Instant::now();
            let page = leads::list(&db, &ctx, query)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            samples.push(t.elapsed());
            std::hint::black_box(page);
        }
        let (median, p95) = stats(samples);
        let base = *baseline.get_or_insert(median);
        println!(
            "| {name} | {median:.2} | {p95:.2} | {:.1}x |",
            median / base
        );
    }
    db.close().await?;
    scratch.remove().await?;
    Ok(())
}
