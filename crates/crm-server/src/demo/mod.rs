//! `crm demo`: the whole loop in one command. Starts the server on the
//! embedded database with the Meta sandbox in-process, creates the "Demo
//! Ventas" tenant with one user per role, connects it to the sandbox through
//! the real OAuth flow and connection service, lets the real sync pull ~120
//! days of ads, seeds the CRM side (leads, opportunities, sales) so the
//! Marketing Hub tells an ROI story, approves templates, enables two
//! automation rules, and then keeps the world moving: new Lead Ads leads and
//! Click-to-WhatsApp chats arrive through the signed webhook inbox,
//! automation answers, delivery statuses tick and sellers win deals.

pub mod live;
pub mod seed;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser};
use meta_sandbox::demo::DemoSize;

use crate::config::ServeArgs;

/// The demo tenant's name (the demo finds its data by it on the next run).
pub const TENANT_NAME: &str = "Demo Ventas";
/// Password of every demo user (printed at start; local demo only).
pub const PASSWORD: &str = "demo-ventas-2026";
/// The demo users: (role, email, name).
pub const USERS: [(&str, &str, &str); 4] = [
    ("ceo", "ceo@demo.test", "Carla Directora"),
    ("admin", "admin@demo.test", "Andrés Admin"),
    ("marketing", "marketing@demo.test", "Mora Marketing"),
    ("seller", "seller@demo.test", "Santiago Vendedor"),
];

fn parse_size(s: &str) -> Result<DemoSize, String> {
    DemoSize::parse(s).ok_or_else(|| format!("'{s}' is not a size (small, normal, large)"))
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a speed (a number above 0, e.g. 0.5, 1 or 10)"
        )),
    }
}

/// Options of `crm demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Port to listen on (127.0.0.1). 0 picks a free port; the URL is printed.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// How much history the sandbox and the CRM get: small (8 campaigns, 60
    /// days), normal (40 campaigns in two ad accounts, 120 days) or large
    /// (120 campaigns, a year). Applies when the demo database is created.
    #[arg(long, default_value = "normal", value_parser = parse_size)]
    pub size: DemoSize,
    /// How fast the live simulation runs: 1 = a new lead or chat about every
    /// 6 seconds, 10 = ten times as often, 0.5 = half as often.
    #[arg(long, default_value = "1", value_parser = parse_speed)]
    pub speed: f64,
    /// Delete the demo database first and start from a fresh world.
    #[arg(long, default_value_t = false)]
    pub reset: bool,
    /// Folder of the demo database (`demo.db`) and its development master key.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct ServeWrap {
    #[command(flatten)]
    args: ServeArgs,
}

/// The serve settings of the demo: SQLite in the data folder, the sandbox
/// in-process, the worker on.
fn serve_args(a: &DemoArgs) -> anyhow::Result<ServeArgs> {
    let db = a.data_dir.join("demo.db");
    let argv = vec![
        "--database-url".to_owned(),
        format!("sqlite://{}?mode=rwc", db.display()),
        "--listen".into(),
        format!("127.0.0.1:{}", a.port),
        "--data-dir".into(),
        a.data_dir.display().to_string(),
        "--meta-sandbox".into(),
        "--worker".into(),
        "true".into(),
    ];
    let mut args = ServeWrap::try_parse_from(argv)
        .map_err(|e| anyhow::anyhow!("demo settings: {e}"))?
        .args;
    // The demo owns these: a public URL or Meta app from the environment
    // would point the sandbox's webhooks and OAuth elsewhere.
    args.public_url = None;
    args.production = false;
    args.meta.meta_app_id = None;
    args.meta.meta_app_secret = None;
    args.meta.meta_config_id = None;
    args.meta.meta_scopes = vec![];
    args.sandbox_world = Some(a.size.world());
    Ok(args)
}

fn remove_db(data_dir: &std::path::Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = data_dir.join(format!("demo.db{suffix}"));
        if p.exists() {
            std::fs::remove_file(&p)
                .map_err(|e| anyhow::anyhow!("cannot delete {}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.data_dir)?;
    if a.reset {
        remove_db(&a.data_dir)?;
    }
    let fresh = !a.data_dir.join("demo.db").exists();
    let server = crate::server::start(serve_args(&a)?).await?;
    let url = server.url.clone();
    let sandbox = server
        .meta_sandbox()
        .ok_or_else(|| anyhow::anyhow!("the Meta sandbox did not start"))?;
    // Ids the sandbox hands out (wamids, leadgen ids) must not repeat those
    // of an earlier run that the kept database still has.
    sandbox.advance_ids(chrono::Utc::now().timestamp_millis().max(0) as u64);
    let world = Arc::new(sandbox.world().clone());
    let sandbox_url = sandbox.base_url();
    let stop = server.stop_token();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        tracing::info!("demo: shutting down");
        signal_stop.cancel();
    });

    eprintln!(
        "Preparing the demo ({} world{})…",
        a.size.name(),
        if fresh {
            ", first run: this takes a minute"
        } else {
            ", reusing the demo database"
        }
    );
    let demo = seed::Demo::new(
        server.state.db.clone(),
        server.state.meta.clone(),
        sandbox_url.clone(),
        world.clone(),
    );
    let prepared = tokio::select! {
        r = demo.prepare(fresh, a.size) => r,
        _ = stop.cancelled() => {
            server.shutdown().await;
            return Ok(());
        }
    };
    let ready = match prepared {
        Ok(r) => r,
        Err(e) => {
            server.shutdown().await;
            return Err(e);
        }
    };
    print_banner(&url, &sandbox_url, &a);
    tracing::info!("demo ready: listening on {url}");

    let sim = live::Simulation::new(demo, ready, a.speed);
    let sim_stop = stop.clone();
    let sim_task = tokio::spawn(async move { sim.run(sim_stop).await });
    stop.cancelled().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), sim_task).await;
    server.shutdown().await;
    Ok(())
}

fn print_banner(url: &str, sandbox_url: &str, a: &DemoArgs) {
    let every = 6.0 / a.speed;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    let _ = writeln!(out, "CRM Ventas demo: tenant \"{TENANT_NAME}\"");
    let _ = writeln!(
        out,
        "  Meta sandbox at {sandbox_url} (a local stand-in for Meta: nothing leaves this machine)"
    );
    let _ = writeln!(out, "  Logins (password {PASSWORD}):");
    for (role, email, _) in USERS {
        let _ = writeln!(out, "    {role:<10} {email}");
    }
    let _ = writeln!(
        out,
        "  Live: a new Lead Ads lead or WhatsApp chat about every {every:.1} s; Ctrl-C stops."
    );
    let _ = writeln!(
        out,
        "  Data: {} (kept for the next run; --reset starts over)",
        a.data_dir.join("demo.db").display()
    );
    let _ = writeln!(out, "CRM Ventas listening on {url}");
    let _ = writeln!(out, "Open {url}/crm/marketing and sign in as ceo@demo.test");
    let _ = out.flush();
}
