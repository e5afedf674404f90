//! The `crm` command line.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Parser, Subcommand};
use crm_core::Role;
use crm_core::services::accounts::{self, NewTenant, NewUser, SetupInput};
use tracing_subscriber::EnvFilter;

use crate::config::{DbArgs, KeyArgs, LogFormat, ServeArgs, WorkerArgs};

#[derive(Debug, Parser)]
#[command(
    name = "crm",
    version,
    about = "CRM Ventas: sales CRM for teams that buy Meta ads and sell over WhatsApp",
    long_about = "CRM Ventas: sales CRM for teams that buy Meta ads and sell over WhatsApp.\n\n\
Every option can also be set with its environment variable (shown in each command's --help), \
or in a KEY=value file given with --config FILE or CRM_CONFIG."
)]
pub struct Cli {
    /// A KEY=value file of settings (environment variables win over it).
    #[arg(long, global = true, env = "CRM_CONFIG")]
    pub config: Option<String>,
    /// Log format: pretty (default in a terminal) or json.
    #[arg(long, global = true, env = "CRM_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `crm_server=debug,info`.
    #[arg(long, global = true, env = "CRM_LOG", default_value = "info")]
    pub log: String,
    /// OpenTelemetry collector (OTLP over HTTP, e.g. http://127.0.0.1:4318):
    /// spans of requests, jobs and Meta Graph calls are exported there. Off when unset.
    #[arg(long, global = true, env = "CRM_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (API and web UI) with the in-process job worker.
    Serve(Box<ServeArgs>),
    /// Run only the job worker (for scale-out next to `serve --worker false`).
    Worker(Box<WorkerArgs>),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// First run: create the first tenant and its CEO (only while no user exists).
    /// The password is read from stdin, or prompted for in a terminal.
    Setup(SetupArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Print the OpenAPI document.
    Openapi,
    /// Master keys of the credentials vault.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Write a consistent copy of a SQLite database while the server runs
    /// (for PostgreSQL, use pg_dump; see docs/operations.md).
    Backup(BackupArgs),
    /// Import data (leads from CSV).
    #[command(subcommand)]
    Import(crate::leads_cli::ImportCmd),
    /// Benchmarks that print figures (lead import and list latency).
    #[command(subcommand)]
    Bench(crate::leads_cli::BenchCmd),
    /// The Meta webhook inbox (replay failed or unroutable events).
    #[command(subcommand)]
    Webhooks(crate::routes::webhooks::WebhooksCmd),
    /// The job queue's dead letters (list and replay failed jobs).
    #[command(subcommand)]
    Jobs(crate::jobs_cli::JobsCmd),
    /// The whole loop live: the server on ./data/demo.db with the Meta sandbox
    /// in-process, a "Demo Ventas" tenant connected to it, and new leads and
    /// WhatsApp chats arriving every few seconds.
    Demo(Box<crate::demo::DemoArgs>),
    /// Marketing Hub rollups (rebuild from raw data).
    #[command(subcommand)]
    Rollups(crate::marketing_cli::RollupsCmd),
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Where to write the copy (must not exist yet).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub tenant_name: String,
    #[arg(long, default_value = "USD")]
    pub currency: String,
    #[arg(long, default_value = "America/Argentina/Buenos_Aires")]
    pub timezone: String,
    #[arg(long, default_value = "es")]
    pub locale: String,
    #[arg(long, default_value = "AR")]
    pub country: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Print a new random master key (base64, 32 bytes) for CRM_MASTER_KEY.
    Generate,
    /// Re-encrypt every stored credential under the current master key.
    ///
    /// With CRM_MASTER_KEYS="NEW,OLD" (current first) every row still under
    /// OLD is re-encrypted under NEW; afterwards OLD can be dropped. Without a
    /// configured key, the development key file in the data directory gets a
    /// new key first (restart the server afterwards).
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Folder holding the development key file.
    #[arg(long, env = "CRM_DATA_DIR", default_value = "./data")]
    pub data_dir: std::path::PathBuf,
    /// Production mode (the default; `--production false` for development):
    /// only configured keys are used.
    #[arg(long, env = "CRM_PRODUCTION", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub production: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant and print its id.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
        /// Reporting currency (ISO 4217).
        #[arg(long, default_value = "USD")]
        currency: String,
        /// IANA time zone.
        #[arg(long, default_value = "America/Argentina/Buenos_Aires")]
        timezone: String,
        /// Default locale: es or en.
        #[arg(long, default_value = "es")]
        locale: String,
        /// Default country for phone numbers (ISO 3166 alpha-2).
        #[arg(long, default_value = "AR")]
        country: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user and print its id. The password is read from stdin when
    /// stdin is not a terminal, otherwise prompted for (never from argv).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// Tenant id.
        #[arg(long)]
        tenant: uuid::Uuid,
        #[arg(long)]
        email: String,
        /// Display name (defaults to the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// ceo, admin, marketing or seller.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Print a one-time link (valid 30 minutes) that lets the user choose a
    /// new password. Their current password works until the link is used.
    ResetPassword {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        /// The server's public URL (the link's base).
        #[arg(long, env = "CRM_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role (ceo, admin, marketing, seller)"))
}

pub fn init_tracing(
    format: Option<LogFormat>,
    filter: &str,
    otlp_endpoint: Option<&str>,
) -> Option<crate::otel::OtelGuard> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        Some(LogFormat::Json) => true,
        Some(LogFormat::Pretty) => false,
        None => !std::io::stderr().is_terminal(),
    };
    let (guard, otel) = match otlp_endpoint.filter(|e| !e.trim().is_empty()) {
        Some(endpoint) => match crate::otel::provider(endpoint) {
            Ok((guard, tracer)) => (
                Some(guard),
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
            ),
            Err(e) => {
                eprintln!("CRM_OTLP_ENDPOINT: could not start the OpenTelemetry exporter: {e}");
                (None, None)
            }
        },
        None => (None, None),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let _ = if json {
        registry.with(fmt.json().flatten_event(true)).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    guard
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Repeat password: ")?;
        if p != again {
            anyhow::bail!("the passwords do not match");
        }
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// The keyring to rotate to: the configured keys, or (development) the key
/// file with a freshly generated current key prepended.
fn rotation_keyring(a: &RotateArgs) -> anyhow::Result<crm_core::vault::Keyring> {
    let configured = a.keys.configured();
    if !configured.is_empty() {
        return Ok(crm_core::vault::Keyring::from_base64(&configured)?);
    }
    if a.production {
        anyhow::bail!("CRM_PRODUCTION requires CRM_MASTER_KEYS=\"NEW,OLD\" to rotate");
    }
    let mut keys = crm_core::vault::read_dev_keys_b64(&a.data_dir)?;
    keys.insert(0, crm_core::vault::generate_key());
    let ring = crm_core::vault::Keyring::from_base64(&keys)?;
    crm_core::vault::write_dev_keyring(&a.data_dir, &keys)?;
    eprintln!(
        "added a new development master key {} to {}; restart the server to use it",
        ring.current_id(),
        crm_core::vault::dev_key_path(&a.data_dir).display()
    );
    Ok(ring)
}

async fn db(args: &DbArgs) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let db = crm_db::connect(&args.database_url, args.db_max_connections).await?;
    crm_db::migrate(&db).await?;
    Ok(db)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let server = crate::server::start(*args).await?;
            let url = server.url.clone();
            if let Some(sandbox) = &server.meta_sandbox_url {
                println!("Meta sandbox at {sandbox}");
            }
            println!("CRM Ventas listening on {url}");
            let _ = std::io::stdout().flush();
            tracing::info!("listening on {url}");
            let stop = server.stop_token();
            tokio::spawn(async move {
                crate::server::shutdown_signal().await;
                tracing::info!("shutting down");
                stop.cancel();
            });
            server.wait().await;
        }
        Command::Worker(args) => {
            let db = db(&args.db).await?;
            if args.production {
                crate::config::check_production_meta(&args.meta)?;
            }
            let keyring = crate::meta::load_keyring(&args.keys, &args.data_dir, args.production)?;
            if args.meta.meta_sandbox {
                anyhow::bail!(
                    "--meta-sandbox runs inside `crm serve`; a separate worker cannot share it"
                );
            }
            let meta_env = std::sync::Arc::new(crate::meta::build_env(
                &args.meta,
                keyring,
                &args.public_url,
                None,
            )?);
            let stop = tokio_util::sync::CancellationToken::new();
            let s = stop.clone();
            tokio::spawn(async move {
                crate::server::shutdown_signal().await;
                s.cancel();
            });
            let mut worker = crate::worker::Worker::new(
                db,
                crate::worker::registry_with(meta_env, args.retention),
            );
            worker.lease = std::time::Duration::from_secs(args.job_lease_secs.max(1));
            worker.concurrency = args.worker_concurrency.max(1);
            worker.run(stop).await;
        }
        Command::Migrate(args) => {
            db(&args).await?;
            println!("migrations applied");
        }
        Command::Setup(a) => {
            let db = db(&a.db).await?;
            let password = read_password()?;
            let created = accounts::setup(
                &db,
                &SetupInput {
                    tenant_name: a.tenant_name,
                    currency: a.currency,
                    timezone: a.timezone,
                    locale: a.locale,
                    country: a.country,
                    name: a.name,
                    email: a.email,
                    password,
                    setup_token: None,
                },
                None,
                Some("crm-cli".into()),
                chrono::Duration::minutes(1),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", created.info.tenant.id);
        }
        Command::Tenant(TenantCmd::Create {
            db: d,
            name,
            currency,
            timezone,
            locale,
            country,
        }) => {
            let db = db(&d).await?;
            let t = accounts::create_tenant(
                &db,
                &NewTenant {
                    name,
                    currency,
                    timezone,
                    locale,
                    country,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", t.id);
        }
        Command::User(UserCmd::Create {
            db: d,
            tenant,
            email,
            name,
            role,
        }) => {
            let db = db(&d).await?;
            let password = read_password()?;
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_owned());
            let u = accounts::create_user_cli(
                &db,
                tenant,
                &NewUser {
                    email,
                    name,
                    role,
                    password,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", u.id);
        }
        Command::User(UserCmd::ResetPassword {
            db: d,
            email,
            public_url,
        }) => {
            let db = db(&d).await?;
            let issued = crm_core::services::passwords::issue_by_operator(&db, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let link = crate::mail::reset_link(public_url.trim_end_matches('/'), &issued.secret);
            println!("{link}");
            eprintln!(
                "Give this link to {} (works once, until {}).",
                issued.user.email,
                issued.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        Command::Openapi => {
            print!("{}", crate::routes::openapi_json());
        }
        Command::Keys(KeysCmd::Generate) => {
            println!("{}", crm_core::vault::generate_key());
        }
        Command::Keys(KeysCmd::Rotate(a)) => {
            let keyring = rotation_keyring(&a)?;
            let db = db(&a.db).await?;
            let report = crm_core::services::meta_connection::rotate_credentials(&db, &keyring)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "re-encrypted {} of {} credentials under key {}",
                report.reencrypted, report.total, report.current_key_id
            );
        }
        Command::Backup(a) => backup(&a).await?,
        Command::Webhooks(c) => crate::routes::webhooks::run_cli(c).await?,
        Command::Jobs(c) => crate::jobs_cli::run(c).await?,
        Command::Import(c) => crate::leads_cli::run_import(c).await?,
        Command::Bench(c) => crate::leads_cli::run_bench(c).await?,
        Command::Demo(a) => crate::demo::run(*a).await?,
        Command::Rollups(c) => crate::marketing_cli::run_rollups(c).await?,
    }
    Ok(())
}

/// `VACUUM INTO` copies a live SQLite database consistently (it reads one
/// snapshot, so writers keep going).
async fn backup(a: &BackupArgs) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    if !a.db.database_url.starts_with("sqlite:") {
        anyhow::bail!(
            "crm backup copies SQLite databases; for PostgreSQL run: pg_dump -Fc \"$DATABASE_URL\" > crm.dump"
        );
    }
    if a.out.exists() {
        anyhow::bail!("{} already exists; choose a new file", a.out.display());
    }
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let db = crm_db::connect(&a.db.database_url, 1).await?;
    let target = a.out.to_string_lossy().replace('\'', "''");
    db.execute_unprepared(&format!("VACUUM INTO '{target}'"))
        .await?;
    // VACUUM may renumber rowids, which the lead search index refers to:
    // rebuild it inside the copy.
    let copy = crm_db::connect(&format!("sqlite://{}", a.out.display()), 1).await?;
    copy.execute_unprepared(crm_db::migration::SQLITE_LEAD_SEARCH_REBUILD)
        .await?;
    copy.close().await?;
    let size = std::fs::metadata(&a.out)?.len();
    println!("backup written to {} ({} bytes)", a.out.display(), size);
    Ok(())
}
