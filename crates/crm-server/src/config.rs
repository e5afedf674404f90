//! Configuration: environment variables (prefix `CRM_`, plus `DATABASE_URL`),
//! optionally seeded from a config file in `KEY=value` form (`--config FILE` or
//! `CRM_CONFIG`). Real environment variables win over the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Settings shared by every subcommand that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://PATH` (created on first run) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = crm_db::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Maximum pooled database connections.
    #[arg(long, env = "CRM_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

/// Settings of the HTTP server and its in-process worker.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, env = "CRM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL users reach the server at (e.g. https://crm.example.com).
    /// Decides the Secure cookie flag, HSTS and OAuth redirect URIs. Defaults
    /// to http://LISTEN.
    #[arg(long, env = "CRM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Folder for local state (SQLite files, the development master key).
    #[arg(long, env = "CRM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Production mode (the default; `--production false` or
    /// CRM_PRODUCTION=false for development): refuses to start without
    /// CRM_MASTER_KEY, an https public URL and Meta's own HTTPS hosts, and
    /// /metrics answers only with CRM_METRICS_TOKEN.
    #[arg(long, env = "CRM_PRODUCTION", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub production: bool,
    /// Session lifetime in hours (a session ends this long after sign-in).
    #[arg(long, env = "CRM_SESSION_TTL_HOURS", default_value_t = 168)]
    pub session_ttl_hours: i64,
    /// Idle timeout in minutes: a session not used for this long ends.
    #[arg(long, env = "CRM_SESSION_IDLE_MINUTES", default_value_t = 480,
          value_parser = clap::value_parser!(i64).range(5..=100_000))]
    pub session_idle_minutes: i64,
    /// Failed logins allowed per IP within the login window before 429.
    #[arg(long, env = "CRM_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,
    /// The login window in seconds (one failure is forgiven every WINDOW/MAX seconds).
    #[arg(long, env = "CRM_LOGIN_WINDOW_SECS", default_value_t = 300)]
    pub login_window_secs: u64,
    /// Sustained API requests per second per user or token.
    #[arg(long, env = "CRM_API_RATE_PER_SEC", default_value_t = 50)]
    pub api_rate_per_sec: u32,
    /// API burst size per user or token.
    #[arg(long, env = "CRM_API_BURST", default_value_t = 200)]
    pub api_burst: u32,
    /// Marketing Hub answers kept in memory (0 turns the read cache off).
    #[arg(long, env = "CRM_MARKETING_CACHE", default_value_t = 4096)]
    pub marketing_cache: usize,
    /// Seconds between writes of the coalesced read audit rows (Marketing
    /// Hub views are counted in memory and written as one row per user,
    /// view and hour; a crash loses at most this many seconds of counts).
    #[arg(long, env = "CRM_READ_AUDIT_FLUSH_SECS", default_value_t = 10)]
    pub read_audit_flush_secs: u64,
    /// Maximum JSON request body in bytes.
    #[arg(long, env = "CRM_BODY_LIMIT_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub body_limit_bytes: usize,
    /// Maximum upload body (CSV imports) in bytes.
    #[arg(long, env = "CRM_UPLOAD_LIMIT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub upload_limit_bytes: usize,
    /// Request timeout in seconds.
    #[arg(long, env = "CRM_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Trust X-Forwarded-For from a reverse proxy for the client IP.
    #[arg(long, env = "CRM_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,
    /// How many reverse proxies of yours append to X-Forwarded-For (with
    /// CRM_TRUST_PROXY): the client is the address that many hops from the
    /// right, so a client cannot pick its own address by sending the header.
    #[arg(long, env = "CRM_TRUSTED_PROXY_HOPS", default_value_t = 1)]
    pub trusted_proxy_hops: usize,
    /// Run the job worker inside the server process.
    #[arg(long, env = "CRM_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub worker: bool,
    /// SMTP server for e-mail (password resets), e.g.
    /// `smtps://user:pass@smtp.example.com:465` or
    /// `smtp://smtp.example.com:587?tls=required`. Unset: no e-mail is sent.
    #[arg(long, env = "CRM_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,
    /// The sender of the CRM's e-mails.
    #[arg(
        long,
        env = "CRM_SMTP_FROM",
        default_value = "CRM Ventas <no-reply@localhost>"
    )]
    pub smtp_from: String,
    /// Bearer token required by /metrics (open when unset in development;
    /// in production /metrics answers 401 without it).
    #[arg(long, env = "CRM_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub meta: MetaArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The in-process sandbox's world (set by `crm demo`; default: small).
    #[arg(skip)]
    pub sandbox_world: Option<meta_sandbox::WorldSize>,
}

/// A secret setting: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// The Meta app (see docs/meta-setup.md).
#[derive(Debug, Clone, Args)]
pub struct MetaArgs {
    /// Meta app id (App Dashboard → Settings → Basic).
    #[arg(long, env = "CRM_META_APP_ID")]
    pub meta_app_id: Option<String>,
    /// Meta app secret. Used for the code exchange, appsecret_proof and signed_request checks.
    #[arg(long, env = "CRM_META_APP_SECRET", hide_env_values = true)]
    pub meta_app_secret: Option<Secret>,
    /// Graph API base URL.
    #[arg(
        long,
        env = "CRM_META_GRAPH_URL",
        default_value = "https://graph.facebook.com"
    )]
    pub meta_graph_url: String,
    /// Base URL of the OAuth dialog.
    #[arg(
        long,
        env = "CRM_META_DIALOG_URL",
        default_value = "https://www.facebook.com"
    )]
    pub meta_dialog_url: String,
    /// Graph API version.
    #[arg(long, env = "CRM_META_API_VERSION", default_value = "v25.0")]
    pub meta_api_version: String,
    /// Verify token Meta sends when subscribing the webhook URL.
    #[arg(long, env = "CRM_META_WEBHOOK_VERIFY_TOKEN", hide_env_values = true)]
    pub meta_webhook_verify_token: Option<Secret>,
    /// OAuth scopes to request (comma-separated; default: every scope the CRM uses).
    #[arg(long, env = "CRM_META_SCOPES", value_delimiter = ',')]
    pub meta_scopes: Vec<String>,
    /// Facebook Login for Business configuration id (replaces the scope list in the dialog).
    #[arg(long, env = "CRM_META_CONFIG_ID")]
    pub meta_config_id: Option<String>,
    /// HSM automation: seconds a sent template may stay unconfirmed (no answer recorded after a
    /// crash or timeout, and no status webhook for its `biz_opaque_callback_data`) before the
    /// engine concludes Meta never took it and sends it again. Must exceed your longest expected
    /// webhook delay: a status that arrives later than this can mean a second message.
    #[arg(long, env = "CRM_HSM_RECONCILE_SECS", default_value_t = 900)]
    pub hsm_reconcile_secs: u64,
    /// Run the local Meta sandbox in-process and talk to it instead of Meta (development, demo, e2e).
    #[arg(long, env = "CRM_META_SANDBOX", default_value_t = false)]
    pub meta_sandbox: bool,
}

/// Master keys of the credentials vault.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// The current master key: 32 random bytes, base64 (`crm keys generate`).
    #[arg(long, env = "CRM_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<Secret>,
    /// A keyring, comma-separated base64 keys, current first; older keys only decrypt.
    /// Used for rotation together with `crm keys rotate`.
    #[arg(
        long,
        env = "CRM_MASTER_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub master_keys: Vec<Secret>,
}

impl KeyArgs {
    /// Configured keys, current first (CRM_MASTER_KEY, then CRM_MASTER_KEYS).
    pub fn configured(&self) -> Vec<String> {
        self.master_key
            .iter()
            .chain(self.master_keys.iter())
            .map(|s| s.0.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// How long finished background work is kept (the `maintenance.prune` job
/// deletes older rows every ten minutes).
#[derive(Debug, Clone, Copy, Args)]
pub struct RetentionArgs {
    /// Hours a finished (done) job is kept.
    #[arg(long, env = "CRM_JOB_RETENTION_HOURS", default_value_t = 24)]
    pub job_retention_hours: u64,
    /// Days a job that failed for good is kept (for inspection).
    #[arg(long, env = "CRM_FAILED_JOB_RETENTION_DAYS", default_value_t = 30)]
    pub failed_job_retention_days: u64,
    /// Days a processed webhook inbox event (done or ignored) is kept.
    /// Failed and unroutable events stay until replayed.
    #[arg(long, env = "CRM_WEBHOOK_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_retention_days: u64,
    /// Days a dispatched outbox event is kept.
    #[arg(long, env = "CRM_OUTBOX_RETENTION_DAYS", default_value_t = 7)]
    pub outbox_retention_days: u64,
    /// Days a session is kept after it expired or was revoked.
    #[arg(long, env = "CRM_SESSION_RETENTION_DAYS", default_value_t = 30)]
    pub session_retention_days: u64,
    /// Hours an expired Meta OAuth state is kept.
    #[arg(long, env = "CRM_OAUTH_STATE_RETENTION_HOURS", default_value_t = 24)]
    pub oauth_state_retention_hours: u64,
    /// Days an audit row is kept (the longest; 0 keeps them forever).
    #[arg(long, env = "CRM_AUDIT_RETENTION_DAYS", default_value_t = 730)]
    pub audit_retention_days: u64,
}

impl Default for RetentionArgs {
    fn default() -> Self {
        RetentionArgs {
            job_retention_hours: 24,
            failed_job_retention_days: 30,
            webhook_retention_days: 30,
            outbox_retention_days: 7,
            session_retention_days: 30,
            oauth_state_retention_hours: 24,
            audit_retention_days: 730,
        }
    }
}

/// Settings of `crm worker` (a worker process needs the vault and the Meta app too).
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Folder for local state (the development master key).
    #[arg(long, env = "CRM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Production mode (the default; `--production false` for development):
    /// refuses to start without CRM_MASTER_KEY and Meta's own HTTPS hosts.
    #[arg(long, env = "CRM_PRODUCTION", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub production: bool,
    /// Public base URL of the server (for links the worker builds).
    #[arg(long, env = "CRM_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// Seconds a claimed job stays leased to this worker; a job whose worker died is taken over
    /// by another worker after this (handlers are idempotent).
    #[arg(long, env = "CRM_JOB_LEASE_SECS", default_value_t = 300)]
    pub job_lease_secs: u64,
    /// Jobs run at the same time by this worker.
    #[arg(long, env = "CRM_WORKER_CONCURRENCY", default_value_t = 8)]
    pub worker_concurrency: usize,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub meta: MetaArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
}

impl ServeArgs {
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}

/// Loads a `KEY=value` config file into the environment without overriding
/// variables that are already set.
pub fn load_config_file() -> anyhow::Result<()> {
    let mut path: Option<String> = std::env::var("CRM_CONFIG").ok();
    let args: Vec<String> = std::env::args().collect();
    for (i, a) in args.iter().enumerate() {
        if a == "--config" {
            path = args.get(i + 1).cloned();
        } else if let Some(v) = a.strip_prefix("--config=") {
            path = Some(v.to_owned());
        }
    }
    if let Some(p) = path {
        dotenvy::from_path(&p).map_err(|e| anyhow::anyhow!("cannot read config file {p}: {e}"))?;
    }
    Ok(())
}

/// Whether cookies may omit `Secure`: only for plain HTTP on a loopback host.
pub fn is_plain_localhost(public_url: &str) -> bool {
    url::Url::parse(public_url).is_ok_and(|u| {
        u.scheme() == "http"
            && matches!(
                u.host_str(),
                Some("localhost") | Some("127.0.0.1") | Some("[::1]")
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_localhost_detection() {
        assert!(is_plain_localhost("http://127.0.0.1:8080"));
        assert!(is_plain_localhost("http://localhost:3000"));
        assert!(!is_plain_localhost("https://localhost"));
        assert!(!is_plain_localhost("http://crm.example.com"));
    }
}

/// The app secret of the local Meta sandbox: known to everyone, so never
/// accepted in production.
const SANDBOX_APP_SECRET: &str = "sandbox-app-secret";

/// Whether `url` is an `https://` URL on one of Meta's hosts.
fn is_meta_https(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "https"
            && u.port().is_none()
            && u.host_str()
                .is_some_and(|h| h == "facebook.com" || h.ends_with(".facebook.com"))
    })
}

/// The rules production mode adds for the Meta app settings (used by
/// `crm serve` and `crm worker`).
pub fn check_production_meta(meta: &MetaArgs) -> anyhow::Result<()> {
    if meta.meta_sandbox {
        anyhow::bail!(
            "the Meta sandbox is for development and tests; it cannot run with CRM_PRODUCTION (set CRM_PRODUCTION=false to develop)"
        );
    }
    for (name, url) in [
        ("CRM_META_GRAPH_URL", &meta.meta_graph_url),
        ("CRM_META_DIALOG_URL", &meta.meta_dialog_url),
    ] {
        if !is_meta_https(url) {
            anyhow::bail!(
                "CRM_PRODUCTION requires {name} to be one of Meta's https://*.facebook.com hosts, not {url}"
            );
        }
    }
    if meta
        .meta_app_secret
        .as_ref()
        .is_some_and(|s| s.0.trim() == SANDBOX_APP_SECRET)
    {
        anyhow::bail!(
            "CRM_META_APP_SECRET is the Meta sandbox's public secret; use your app's secret (App Dashboard → Settings → Basic)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod production_tests {
    use super::*;

    #[test]
    fn only_meta_https_hosts_pass() {
        assert!(is_meta_https("https://graph.facebook.com"));
        assert!(is_meta_https("https://www.facebook.com/"));
        assert!(!is_meta_https("http://graph.facebook.com"));
        assert!(!is_meta_https("https://graph.facebook.com.evil.test"));
        assert!(!is_meta_https("https://127.0.0.1:9000"));
        assert!(!is_meta_https("https://graph.facebook.com:8443"));
    }
}
