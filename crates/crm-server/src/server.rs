//! Starting and stopping the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ServeArgs, is_plain_localhost};
use crate::ratelimit::{ApiLimiter, LoginLimiter};
use crate::state::AppState;
use crate::worker::{self, Worker};

/// A running server (HTTP plus its in-process worker).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub url: String,
    pub state: AppState,
    stop: CancellationToken,
    http: JoinHandle<()>,
    worker: Option<JoinHandle<()>>,
    /// Writes the coalesced read audit rows; flushes once more on stop.
    read_log: JoinHandle<()>,
    /// The in-process Meta sandbox (`--meta-sandbox`), e.g. `http://127.0.0.1:PORT`.
    pub meta_sandbox_url: Option<String>,
    /// The one-time first-run setup token, in production while no user
    /// exists (what `crm serve` printed).
    pub setup_token: Option<String>,
    meta_sandbox: Option<meta_sandbox::Sandbox>,
}

impl RunningServer {
    /// Stops accepting requests, lets running jobs finish, and returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.http).await;
        if let Some(w) = self.worker {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.read_log).await;
        if let Some(s) = self.meta_sandbox {
            s.shutdown().await;
        }
    }

    /// Waits until the server stops (Ctrl-C or SIGTERM when started by `serve`).
    pub async fn wait(self) {
        let _ = self.http.await;
        if let Some(w) = self.worker {
            let _ = w.await;
        }
        let _ = self.read_log.await;
        if let Some(s) = self.meta_sandbox {
            s.shutdown().await;
        }
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The in-process Meta sandbox, when started with `--meta-sandbox`.
    pub fn meta_sandbox(&self) -> Option<&meta_sandbox::Sandbox> {
        self.meta_sandbox.as_ref()
    }
}

/// Connects, migrates, binds and starts serving. Returns once listening.
pub async fn start(args: ServeArgs) -> anyhow::Result<RunningServer> {
    if args.production
        && !args
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    {
        anyhow::bail!(
            "CRM_PRODUCTION requires CRM_PUBLIC_URL to be an https:// URL (set CRM_PRODUCTION=false to develop)"
        );
    }
    if args.production {
        crate::config::check_production_meta(&args.meta)?;
        if args.metrics_token.is_none() {
            tracing::info!("/metrics answers only with CRM_METRICS_TOKEN, which is not set");
        }
    }
    let keyring = crate::meta::load_keyring(&args.keys, &args.data_dir, args.production)?;
    let db = crm_db::connect(&args.db.database_url, args.db.db_max_connections).await?;
    crm_db::migrate(&db).await?;
    // In production, nobody may claim a fresh server through the web before
    // its operator: the first-run setup needs a token only this process's
    // output shows (or `crm setup` on the machine).
    let setup_token = if args.production && crm_core::services::accounts::needs_setup(&db).await? {
        Some(crm_core::secrets::new_secret("crm_setup_"))
    } else {
        None
    };
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url(addr);
    let (meta_sandbox, sandbox_target) = if args.meta.meta_sandbox {
        let (s, t) =
            crate::meta::start_sandbox(&args.meta, &public_url, args.sandbox_world).await?;
        (Some(s), Some(t))
    } else {
        (None, None)
    };
    let meta_env = Arc::new(crate::meta::build_env(
        &args.meta,
        keyring,
        &public_url,
        sandbox_target.as_ref(),
    )?);
    let mailer = crate::mail::Mailer::from_config(args.smtp_url.as_ref(), &args.smtp_from)?;
    let state = AppState {
        mailer: mailer.map(Arc::new),
        meta: meta_env.clone(),
        db: db.clone(),
        insecure_cookies: is_plain_localhost(&public_url),
        public_url: Arc::from(public_url.as_str()),
        login_limiter: Arc::new(LoginLimiter::new(
            args.login_max_failures,
            Duration::from_secs(args.login_window_secs.max(1)),
        )),
        api_limiter: Arc::new(ApiLimiter::new(args.api_rate_per_sec, args.api_burst)),
        marketing_cache: Arc::new(crm_core::services::marketing_cache::ReadCache::new(
            args.marketing_cache,
        )),
        ingester: crm_core::services::webhooks::Ingester::start(db.clone()),
        telemetry: Arc::new(crate::telemetry::Telemetry::new()),
        setup_token_hash: setup_token
            .as_deref()
            .map(|t| Arc::from(crm_core::secrets::sha256_hex(t).as_str())),
        cfg: Arc::new(args),
    };
    if let Some(token) = &setup_token {
        // Printed, never logged: the operator reads it from this terminal.
        println!(
            "First-run setup: open {}/setup and enter this one-time setup token: {token}\n\
             (or run `crm setup` on this machine)",
            state.public_url
        );
    }
    let stop = CancellationToken::new();
    let app = crate::app::build(state.clone());
    let http_stop = stop.clone();
    let http = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { http_stop.cancelled().await })
        .await;
        if let Err(e) = served {
            tracing::error!("http server error: {e}");
        }
    });
    let read_log = tokio::spawn(crm_core::services::read_log::run_flusher(
        state.marketing_cache.read_log().clone(),
        db.clone(),
        Duration::from_secs(state.cfg.read_audit_flush_secs.max(1)),
        stop.clone(),
    ));
    let worker = if state.cfg.worker {
        let w = Worker::new(db, worker::registry_with(meta_env, state.cfg.retention));
        Some(tokio::spawn(w.run(stop.clone())))
    } else {
        None
    };
    Ok(RunningServer {
        addr,
        url: public_url,
        state,
        stop,
        http,
        worker,
        read_log,
        setup_token,
        meta_sandbox_url: sandbox_target.map(|t| t.base_url),
        meta_sandbox,
    })
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
