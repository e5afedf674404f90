//! `meta-sandbox`: run the Meta sandbox as a standalone server.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use meta_sandbox::{Sandbox, SandboxConfig, WorldSize};

#[derive(Parser, Debug)]
#[command(
    name = "meta-sandbox",
    about = "A local stand-in for Meta's Graph API, OAuth dialog, webhooks, WhatsApp Cloud API and Conversions API"
)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8910, env = "META_SANDBOX_PORT")]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Seed of the generated world.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// World size: small, demo or large.
    #[arg(long, default_value = "demo")]
    size: String,
    /// Where webhooks are POSTed.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Verify token for the hub.challenge handshake.
    #[arg(long)]
    webhook_verify_token: Option<String>,
    #[arg(long, default_value = "1234567890")]
    app_id: String,
    #[arg(
        long,
        default_value = "sandbox-app-secret",
        env = "META_SANDBOX_APP_SECRET"
    )]
    app_secret: String,
    /// Enable the /_sandbox/* control API.
    #[arg(long)]
    enable_control: bool,
    /// Approve new templates after this many milliseconds (default: only on command).
    #[arg(long)]
    template_review_delay_ms: Option<u64>,
    /// Fixed "today" (YYYY-MM-DD) for reproducible data.
    #[arg(long)]
    today: Option<chrono::NaiveDate>,
    /// Base URL to hand out in paging links and the OAuth dialog.
    #[arg(long)]
    public_base_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let Some(world) = WorldSize::by_name(&args.size) else {
        anyhow::bail!("--size must be small, demo or large");
    };
    let config = SandboxConfig {
        seed: args.seed,
        world,
        app_id: args.app_id,
        app_secret: args.app_secret,
        webhook_url: args.webhook_url,
        webhook_verify_token: args.webhook_verify_token,
        enable_control: args.enable_control,
        template_review_delay: args.template_review_delay_ms.map(Duration::from_millis),
        today: args.today,
        public_base_url: args.public_base_url,
    };
    let sandbox = Sandbox::start_on(config, SocketAddr::new(args.host, args.port)).await?;
    println!(
        "meta-sandbox listening on {} (Graph base {})",
        sandbox.base_url(),
        sandbox.graph_url()
    );
    let s = sandbox.summary();
    println!(
        "app_id={} users={} ad_accounts={} wabas={}",
        s.app_id,
        s.users.len(),
        s.ad_accounts.len(),
        s.wabas.len()
    );
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
