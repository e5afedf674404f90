//! Production mode is `crm serve`'s default and refuses development settings
//! (issue 18.10): Meta's hosts only, never the sandbox's public secret, and
//! `/metrics` only with its token.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::meta_support::start_on;

/// 32 zero bytes, base64: a master key for the tests.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn production(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--production",
        "--public-url",
        "https://crm.example.test",
        "--master-key",
        KEY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

async fn refusal(extra: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("crm-prod-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let db_url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    match start_on(&db_url, &dir, &production(extra)).await {
        Ok(_) => panic!("a production server started with {extra:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn crm_serve_runs_in_production_mode_unless_told_otherwise() {
    use clap::Parser;
    #[derive(Parser)]
    struct W {
        #[command(flatten)]
        args: crm_server::config::ServeArgs,
    }
    // The default, when the environment does not choose.
    if std::env::var_os("CRM_PRODUCTION").is_none() {
        assert!(W::try_parse_from(["crm"]).unwrap().args.production);
    }
    assert!(
        !W::try_parse_from(["crm", "--production", "false"])
            .unwrap()
            .args
            .production
    );
    assert!(
        W::try_parse_from(["crm", "--production"])
            .unwrap()
            .args
            .production
    );
}

#[tokio::test]
async fn production_refuses_a_graph_or_dialog_url_that_is_not_meta() {
    let e = refusal(&["--meta-graph-url", "http://127.0.0.1:9"]).await;
    assert!(e.contains("CRM_META_GRAPH_URL"), "{e}");
    let e = refusal(&["--meta-dialog-url", "https://www.facebook.com.example.test"]).await;
    assert!(e.contains("CRM_META_DIALOG_URL"), "{e}");
}

#[tokio::test]
async fn production_refuses_the_sandbox_and_its_public_app_secret() {
    let e = refusal(&["--meta-app-secret", "sandbox-app-secret"]).await;
    assert!(e.contains("CRM_META_APP_SECRET"), "{e}");
    let e = refusal(&["--meta-sandbox"]).await;
    assert!(e.contains("sandbox"), "{e}");
}

#[tokio::test]
async fn in_production_metrics_need_their_token() {
    let app = spawn_app_with(
        &production(&[])
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )
    .await;
    let m = reqwest::get(format!("{}/metrics", app.url)).await.unwrap();
    assert_eq!(m.status(), StatusCode::UNAUTHORIZED);
    // With a token configured, the token opens them.
    let args = production(&["--metrics-token", "scrape-me-0123456789"]);
    let app = spawn_app_with(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>()).await;
    let http = reqwest::Client::new();
    let m = http
        .get(format!("{}/metrics", app.url))
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::OK);
}
