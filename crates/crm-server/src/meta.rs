//! Meta at runtime: the vault's keyring, the Graph client built from
//! configuration, the in-process sandbox (`--meta-sandbox`), and the daily
//! token-health job.

use std::path::Path;
use std::sync::Arc;

use crm_core::services::meta_connection::{self as meta, HealthOutcome, MetaEnv};
use crm_core::vault::{self, Keyring};
use meta_graph::{AppSecret, GraphClient, GraphConfig, LoginScope};

use crate::config::{KeyArgs, MetaArgs};
use crate::worker::{JobOutcome, Registry};

/// The vault keyring: configured keys, or in development a key generated
/// into the data directory. Production refuses to run without a key.
pub fn load_keyring(keys: &KeyArgs, data_dir: &Path, production: bool) -> anyhow::Result<Keyring> {
    let configured = keys.configured();
    if !configured.is_empty() {
        return Keyring::from_base64(&configured)
            .map_err(|e| anyhow::anyhow!("CRM_MASTER_KEY / CRM_MASTER_KEYS: {e}"));
    }
    if production {
        anyhow::bail!(
            "CRM_PRODUCTION requires CRM_MASTER_KEY (32 random bytes, base64; create one with `crm keys generate`)"
        );
    }
    let (ring, _created) = vault::load_or_create_dev_keyring(data_dir)?;
    Ok(ring)
}

/// Where the Graph client points when the sandbox runs in-process.
#[derive(Debug, Clone)]
pub struct SandboxTarget {
    pub base_url: String,
    pub app_id: String,
    pub app_secret: String,
}

/// Builds the Meta environment. Without an app id and secret (and no
/// sandbox) the Meta routes answer `meta_not_configured`.
pub fn build_env(
    args: &MetaArgs,
    keyring: Keyring,
    public_url: &str,
    sandbox: Option<&SandboxTarget>,
) -> anyhow::Result<MetaEnv> {
    let scopes: Vec<String> = if args.meta_scopes.is_empty() {
        meta::DEFAULT_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        args.meta_scopes
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    crm_core::services::automation::set_reconcile_after(std::time::Duration::from_secs(
        args.hsm_reconcile_secs.max(1),
    ));
    let (app_id, secret, graph_url, dialog_url) = match sandbox {
        Some(t) => (
            Some(t.app_id.clone()),
            Some(t.app_secret.clone()),
            t.base_url.clone(),
            t.base_url.clone(),
        ),
        None => (
            args.meta_app_id.clone().filter(|s| !s.trim().is_empty()),
            args.meta_app_secret
                .as_ref()
                .map(|s| s.0.clone())
                .filter(|s| !s.is_empty()),
            args.meta_graph_url.clone(),
            args.meta_dialog_url.clone(),
        ),
    };
    let (graph, app_secret) = match (app_id, secret) {
        (Some(id), Some(secret)) => {
            let mut cfg = GraphConfig::new(id, AppSecret::new(secret.clone()));
            cfg.base_url = graph_url.trim_end_matches('/').to_owned();
            cfg.dialog_base_url = dialog_url.trim_end_matches('/').to_owned();
            cfg.api_version = args.meta_api_version.clone();
            let client =
                GraphClient::new(cfg).map_err(|e| anyhow::anyhow!("Meta configuration: {e}"))?;
            (Some(client), Some(AppSecret::new(secret)))
        }
        (None, None) => (None, None),
        _ => anyhow::bail!("set both CRM_META_APP_ID and CRM_META_APP_SECRET (or neither)"),
    };
    let login = match args
        .meta_config_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(id) => LoginScope::ConfigId(id.to_owned()),
        None => LoginScope::Scopes(scopes.clone()),
    };
    Ok(MetaEnv {
        keyring: Arc::new(keyring),
        graph,
        app_secret,
        login,
        required_scopes: scopes,
        public_url: public_url.trim_end_matches('/').to_owned(),
    })
}

/// Starts the Meta sandbox in-process, with its control API and webhooks
/// pointed at this server's `/api/webhooks/meta`.
pub async fn start_sandbox(
    args: &MetaArgs,
    public_url: &str,
    world: Option<meta_sandbox::WorldSize>,
) -> anyhow::Result<(meta_sandbox::Sandbox, SandboxTarget)> {
    let defaults = meta_sandbox::SandboxConfig::default();
    let app_id = args
        .meta_app_id
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(defaults.app_id.clone());
    let app_secret = args
        .meta_app_secret
        .as_ref()
        .map(|s| s.0.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or(defaults.app_secret.clone());
    let verify = args
        .meta_webhook_verify_token
        .as_ref()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| crm_core::secrets::new_secret("sbx_verify_"));
    let sandbox = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        app_id: app_id.clone(),
        app_secret: app_secret.clone(),
        webhook_url: Some(format!(
            "{}/api/webhooks/meta",
            public_url.trim_end_matches('/')
        )),
        webhook_verify_token: Some(verify),
        enable_control: true,
        world: world.unwrap_or(defaults.world),
        ..defaults
    })
    .await?;
    let target = SandboxTarget {
        base_url: sandbox.base_url(),
        app_id,
        app_secret,
    };
    Ok((sandbox, target))
}

/// Registers the token-health job handler.
pub fn register(reg: &mut Registry) {
    let Some(env) = reg.meta.clone() else {
        return;
    };
    reg.handle(
        meta::HEALTH_JOB,
        Arc::new(move |db, job| {
            let env = env.clone();
            Box::pin(async move {
                let Some(tenant) = job.tenant_id else {
                    return JobOutcome::Fail {
                        error: "token health job without a tenant".into(),
                    };
                };
                match meta::run_health_check(&db, &env, tenant, Some(job.id)).await {
                    Ok(HealthOutcome::Checked { .. } | HealthOutcome::Idle) => JobOutcome::Done,
                    Ok(HealthOutcome::Refused { status }) => JobOutcome::Fail {
                        error: format!(
                            "Meta refused the token (connection now {status}); paused until reconnect"
                        ),
                    },
                    Ok(HealthOutcome::Retry { error, after }) => JobOutcome::Retry { error, after },
                    Err(e) => JobOutcome::Retry {
                        error: e.to_string(),
                        after: None,
                    },
                }
            })
        }),
    );
}
