//! meta-sandbox: a local stand-in for Meta's Graph API, OAuth dialog, webhooks,
//! WhatsApp Cloud API and Conversions API.
//!
//! Start it in-process with [`Sandbox::start`] and point a Graph client at
//! `{base_url}/v25.0/...`. See `docs/meta-sandbox.md` for the control API.

// Graph errors are rich (message, user title, details) and only travel on the error path.
#![allow(clippy::result_large_err)]

pub mod capi;
pub mod control;
pub mod demo;
pub mod error;
pub mod fields;
pub mod graph;
pub mod insights;
pub mod oauth;
pub mod params;
pub mod server;
pub mod state;
pub mod util;
pub mod webhooks;
pub mod whatsapp;
pub mod world;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

pub use error::GraphError;
pub use world::{World, WorldSize};

/// How the sandbox is set up. `Default` gives a small world with seed 42.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub seed: u64,
    pub world: WorldSize,
    pub app_id: String,
    pub app_secret: String,
    /// Where webhooks are POSTed (can be changed at runtime via the control API).
    pub webhook_url: Option<String>,
    pub webhook_verify_token: Option<String>,
    /// Enables the `/_sandbox/*` control routes.
    pub enable_control: bool,
    /// Templates created through the API are approved after this delay; None = only on command.
    pub template_review_delay: Option<Duration>,
    /// Fixed "today" for deterministic tests; None = the real clock.
    pub today: Option<chrono::NaiveDate>,
    /// Override for the URLs the sandbox hands out (paging.next, dialog links).
    pub public_base_url: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 42,
            world: WorldSize::small(),
            app_id: "1234567890".to_string(),
            app_secret: "sandbox-app-secret".to_string(),
            webhook_url: None,
            webhook_verify_token: None,
            enable_control: false,
            template_review_delay: None,
            today: None,
            public_base_url: None,
        }
    }
}

/// Ids of the seeded world, for tests and the demo.
#[derive(Debug, Clone, Serialize)]
pub struct WorldSummary {
    pub app_id: String,
    pub seed: u64,
    pub start_date: String,
    pub end_date: String,
    pub users: Vec<UserSummary>,
    pub businesses: Vec<BusinessSummary>,
    pub ad_accounts: Vec<AdAccountSummary>,
    pub pages: Vec<PageSummary>,
    pub wabas: Vec<WabaSummary>,
    pub datasets: Vec<IdName>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    pub id: String,
    pub name: String,
    pub email: String,
    pub business_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BusinessSummary {
    pub id: String,
    pub name: String,
    pub owned_ad_account_ids: Vec<String>,
    pub client_ad_account_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdAccountSummary {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub currency: String,
    pub timezone_name: String,
    pub business_id: String,
    pub campaigns: usize,
    pub ads: usize,
    /// Ids of the ad-account's first few ads that deliver, handy for referrals and leads.
    pub sample_ad_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageSummary {
    pub id: String,
    pub name: String,
    pub business_id: String,
    pub form_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WabaSummary {
    pub id: String,
    pub name: String,
    pub business_id: String,
    pub phone_number_ids: Vec<String>,
    pub display_phone_numbers: Vec<String>,
}

impl World {
    pub fn summary(&self) -> WorldSummary {
        WorldSummary {
            app_id: self.app_id.clone(),
            seed: self.seed,
            start_date: util::fmt_date(self.start_date),
            end_date: util::fmt_date(self.end_date),
            users: self
                .users
                .iter()
                .map(|u| UserSummary {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    email: u.email.clone(),
                    business_ids: u
                        .businesses
                        .iter()
                        .map(|b| self.businesses[*b].id.clone())
                        .collect(),
                })
                .collect(),
            businesses: self
                .businesses
                .iter()
                .enumerate()
                .map(|(bi, b)| BusinessSummary {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    owned_ad_account_ids: self
                        .ad_accounts
                        .iter()
                        .filter(|a| a.owner == bi)
                        .map(|a| a.act_id())
                        .collect(),
                    client_ad_account_ids: self
                        .ad_accounts
                        .iter()
                        .filter(|a| a.clients.contains(&bi))
                        .map(|a| a.act_id())
                        .collect(),
                })
                .collect(),
            ad_accounts: self
                .ad_accounts
                .iter()
                .enumerate()
                .map(|(ai, a)| {
                    let ads: Vec<usize> = (0..self.ads.len())
                        .filter(|i| self.ads[*i].account == ai)
                        .collect();
                    let sample = ads
                        .iter()
                        .filter(|i| {
                            self.campaigns[self.ads[**i].campaign].delivers
                                && self.campaigns[self.ads[**i].campaign].status == "ACTIVE"
                        })
                        .take(5)
                        .map(|i| self.ads[*i].id.clone())
                        .collect();
                    AdAccountSummary {
                        id: a.act_id(),
                        account_id: a.account_id.clone(),
                        name: a.name.clone(),
                        currency: a.currency.to_string(),
                        timezone_name: a.tz.name().to_string(),
                        business_id: self.businesses[a.owner].id.clone(),
                        campaigns: a.campaigns.len(),
                        ads: ads.len(),
                        sample_ad_ids: sample,
                    }
                })
                .collect(),
            pages: self
                .pages
                .iter()
                .enumerate()
                .map(|(pi, p)| PageSummary {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    business_id: self.businesses[p.business].id.clone(),
                    form_ids: self
                        .forms
                        .iter()
                        .filter(|f| f.page == pi)
                        .map(|f| f.id.clone())
                        .collect(),
                })
                .collect(),
            wabas: self
                .wabas
                .iter()
                .enumerate()
                .map(|(wi, w)| WabaSummary {
                    id: w.id.clone(),
                    name: w.name.clone(),
                    business_id: self.businesses[w.business].id.clone(),
                    phone_number_ids: self
                        .phones
                        .iter()
                        .filter(|p| p.waba == wi)
                        .map(|p| p.id.clone())
                        .collect(),
                    display_phone_numbers: self
                        .phones
                        .iter()
                        .filter(|p| p.waba == wi)
                        .map(|p| p.display_phone_number.clone())
                        .collect(),
                })
                .collect(),
            datasets: self
                .datasets
                .iter()
                .map(|d| IdName {
                    id: d.id.clone(),
                    name: d.name.clone(),
                })
                .collect(),
        }
    }
}

/// Options for [`Sandbox::issue_token`].
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Index into `world().users`.
    pub user: usize,
    pub scopes: Vec<String>,
    /// Lifetime in seconds; None = a 60-day long-lived token.
    pub expires_in: Option<i64>,
}

impl Default for TokenRequest {
    fn default() -> Self {
        TokenRequest {
            user: 0,
            scopes: oauth::ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            expires_in: None,
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    app: server::App,
    router: axum::Router,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on 127.0.0.1 with an OS-chosen port.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: SandboxConfig, addr: SocketAddr) -> anyhow::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let app = server::Inner::new(config, base.trim_end_matches('/').to_string())?;
        let router = server::router(app.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let serve_router = router.clone();
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, serve_router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!("meta-sandbox server error: {e}");
            }
        });
        Ok(Sandbox {
            app,
            router,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (or `public_base_url`), without a trailing slash.
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// The socket the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Graph base for a client: `{base_url}/v25.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/{}", self.app.base_url, server::DEFAULT_VERSION)
    }

    /// The axum router, for embedding in another server.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    pub fn world(&self) -> &World {
        &self.app.world
    }

    pub fn summary(&self) -> WorldSummary {
        self.app.world.summary()
    }

    pub fn app_id(&self) -> &str {
        &self.app.config.app_id
    }

    pub fn app_secret(&self) -> &str {
        &self.app.config.app_secret
    }

    /// An app access token (`app_id|app_secret`), as Graph accepts for `/debug_token`.
    pub fn app_token(&self) -> String {
        format!("{}|{}", self.app.config.app_id, self.app.config.app_secret)
    }

    /// Issues a user token directly, skipping the OAuth dialog.
    pub fn issue_token(&self, req: TokenRequest) -> anyhow::Result<String> {
        if req.user >= self.app.world.users.len() {
            anyhow::bail!("no sandbox user with index {}", req.user);
        }
        let lifetime = req.expires_in.unwrap_or(oauth::LONG_LIVED_SECS);
        Ok(oauth::issue_user_token(
            &self.app,
            req.user,
            req.scopes,
            lifetime,
            req.expires_in.is_none(),
        ))
    }

    /// Moves the sequence behind generated ids (wamids, leadgen ids, tokens)
    /// to at least `n`. A sandbox restarted next to a database that kept the
    /// previous run's ids (`crm demo` on its kept database) passes something
    /// larger than any earlier run used, e.g. the clock in milliseconds, so
    /// new ids do not repeat old ones.
    pub fn advance_ids(&self, n: u64) {
        let mut st = self.app.lock();
        st.counter = st.counter.max(n);
    }

    /// Sets the webhook callback URL (no handshake; use the control API for that).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.app.lock().runtime.webhook_url = url;
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    /// Dropping the handle stops the server (without waiting for it); prefer `shutdown().await`.
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
