//! The credentials vault: ciphertext at rest, tenant binding, key rotation.

use base64::Engine;
use crm_db::entity::meta_credential;
use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::meta_support::*;

async fn issue_token(app: &TestApp) -> String {
    let v = control(app, Method::POST, "/tokens", json!({"user": 0})).await;
    v["access_token"].as_str().unwrap().to_owned()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn stored_ciphertext_never_contains_the_token() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;

    let r = ceo
        .post(
            "/api/crm/auth/meta/system-user-token",
            json!({"token": "short"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "token_malformed");
    let r = ceo
        .post(
            "/api/crm/auth/meta/system-user-token",
            json!({"token": "EAAnot-a-token-the-sandbox-issued-0123456789"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "token_invalid");

    let token = issue_token(&app).await;
    let r = ceo
        .post(
            "/api/crm/auth/meta/system-user-token",
            json!({"token": token}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["source"], "system_user");

    let rows = query(
        &db(&app),
        "SELECT key_id, nonce, ciphertext FROM meta_credentials",
    )
    .await;
    assert_eq!(rows.len(), 1);
    let ct: Vec<u8> = rows[0].try_get("", "ciphertext").unwrap();
    let nonce: Vec<u8> = rows[0].try_get("", "nonce").unwrap();
    let key_id: String = rows[0].try_get("", "key_id").unwrap();
    assert_eq!(nonce.len(), 24, "XChaCha20 nonce");
    assert_eq!(ct.len(), token.len() + 16, "ciphertext plus Poly1305 tag");
    assert!(key_id.starts_with('k'));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    for needle in [
        token.as_bytes(),
        &token.as_bytes()[..10],
        &token.as_bytes()[token.len() - 10..],
        b64.as_bytes(),
        hex::encode(&token).as_bytes(),
    ] {
        assert!(!contains(&ct, needle), "ciphertext leaks the token");
        assert!(!contains(&nonce, needle));
    }
    // No response and no audit row carries any part of it.
    let prefix = &token[..12];
    for path in [
        "/api/crm/marketing/token-status",
        "/api/crm/auth/meta/debug/token",
        "/api/crm/auth/meta/test-connection",
        "/api/audit?limit=200",
    ] {
        let r = ceo.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        let text = r.body.to_string();
        assert!(!text.contains(prefix), "{path} leaks the token: {text}");
        assert!(!text.contains(&token[token.len() - 12..]), "{path}");
    }
    let dbg = ceo.get("/api/crm/auth/meta/debug/token").await.body;
    assert_eq!(dbg["is_valid"], true);
    assert!(
        dbg["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "ads_read")
    );
    assert!(dbg.get("token").is_none() && dbg.get("access_token").is_none());
    let audit = ceo.get("/api/audit?action=meta.token_inspected").await;
    assert!(
        !audit.body["items"].as_array().unwrap().is_empty(),
        "reads are audited"
    );
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_tenant_does_not_decrypt() {
    let app = spawn_meta_app().await;
    let ceo = setup_ceo(&app).await;
    let (other, other_ceo) = other_tenant_ceo(&app, "boss@other.test").await;
    for c in [&ceo, &other_ceo] {
        let token = issue_token(&app).await;
        let r = c
            .post(
                "/api/crm/auth/meta/system-user-token",
                json!({"token": token}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let db = db(&app);
    let mine = meta_credential::Entity::find()
        .filter(meta_credential::Column::TenantId.ne(other))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let theirs = meta_credential::Entity::find()
        .filter(meta_credential::Column::TenantId.eq(other))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let mut am: meta_credential::ActiveModel = theirs.into();
    am.key_id = Set(mine.key_id.clone());
    am.nonce = Set(mine.nonce.clone());
    am.ciphertext = Set(mine.ciphertext.clone());
    am.update(&db).await.unwrap();
    // The other tenant now holds tenant A's sealed token: it cannot use it.
    let r = other_ceo.get("/api/crm/auth/meta/test-connection").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.body);
    let r = ceo.get("/api/crm/auth/meta/test-connection").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["ok"], true, "{:?}", r.body);
}

async fn setup_on(url: &str) -> Client {
    let mut c = client_for(url);
    let r = c
        .post(
            "/api/setup",
            json!({"tenant_name": "Acme", "currency": "USD", "timezone": "UTC",
                   "locale": "es", "name": "Carla CEO", "email": "ceo@acme.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    c.csrf = r.body["csrf_token"].as_str().map(str::to_owned);
    c
}

async fn login_on(url: &str) -> Client {
    let mut c = client_for(url);
    let r = c.login("ceo@acme.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    c
}

#[tokio::test]
async fn keys_rotate_keeps_every_credential_readable() {
    let sandbox = meta_sandbox::Sandbox::start(meta_sandbox::SandboxConfig {
        enable_control: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("crm-rotate-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let db_url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    let k1 = crm_core::vault::generate_key();
    let k2 = crm_core::vault::generate_key();
    let meta_args = |key: &str| -> Vec<String> {
        vec![
            "--master-key".into(),
            key.into(),
            "--meta-app-id".into(),
            sandbox.app_id().into(),
            "--meta-app-secret".into(),
            sandbox.app_secret().into(),
            "--meta-graph-url".into(),
            sandbox.base_url(),
            "--meta-dialog-url".into(),
            sandbox.base_url(),
        ]
    };

    // Connect (user token) and select a Lead Ads page (page token) under K1.
    let s1 = start_on(&db_url, &dir, &meta_args(&k1)).await.unwrap();
    let url1 = format!("http://{}", s1.addr);
    let ceo = setup_on(&url1).await;
    let auth = ceo.get("/api/crm/auth/meta/url").await.body["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        consent(&ceo, &auth, "continue")
            .await
            .ends_with("connected=1")
    );
    let pages = ceo.get("/api/crm/marketing/lead-pages").await;
    let page_id = pages.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = ceo
        .post(
            "/api/crm/marketing/lead-pages",
            json!({"page_ids": [page_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tenant: uuid::Uuid = ceo.get("/api/auth/me").await.body["tenant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    s1.shutdown().await;

    let ring1 = crm_core::vault::Keyring::from_base64(std::slice::from_ref(&k1)).unwrap();
    let ring2 = crm_core::vault::Keyring::from_base64(std::slice::from_ref(&k2)).unwrap();
    let conn = crm_db::connect(&db_url, 2).await.unwrap();
    let key_ids = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
        rows.iter()
            .map(|r| r.try_get::<String>("", "key_id").unwrap())
            .collect()
    };
    let before = key_ids(query(&conn, "SELECT key_id FROM meta_credentials").await);
    assert_eq!(before.len(), 2);
    assert!(before.iter().all(|k| k == ring1.current_id()));

    // `crm keys rotate` with the keyring NEW,OLD.
    use clap::Parser;
    let cli = crm_server::cli::Cli::try_parse_from([
        "crm".to_owned(),
        "keys".into(),
        "rotate".into(),
        "--database-url".into(),
        db_url.clone(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--master-keys".into(),
        format!("{k2},{k1}"),
    ])
    .unwrap();
    crm_server::cli::run(cli).await.unwrap();
    let after = key_ids(query(&conn, "SELECT key_id FROM meta_credentials").await);
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|k| k == ring2.current_id()), "{after:?}");
    let audit = query(
        &conn,
        "SELECT details FROM audit_log WHERE action = 'meta.credentials_rotated'",
    )
    .await;
    assert_eq!(audit.len(), 1);
    // Both credentials read with only the new key.
    let page_token =
        crm_core::services::meta_connection::page_token_for(&conn, &ring2, tenant, &page_id)
            .await
            .unwrap();
    assert!(!page_token.is_empty());
    assert!(
        crm_core::services::meta_connection::access_token_for(&conn, &ring1, tenant)
            .await
            .is_err()
    );

    // A server with only the new key works end to end.
    let s2 = start_on(&db_url, &dir, &meta_args(&k2)).await.unwrap();
    let ceo2 = login_on(&format!("http://{}", s2.addr)).await;
    let r = ceo2.get("/api/crm/auth/meta/test-connection").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["ok"], true, "{:?}", r.body);
    let st: Value = ceo2.get("/api/crm/marketing/token-status").await.body;
    assert_eq!(st["status"], "ok");
    assert_eq!(st["pages"][0]["id"], page_id.as_str());
    s2.shutdown().await;

    // The old key alone can no longer read them.
    let s3 = start_on(&db_url, &dir, &meta_args(&k1)).await.unwrap();
    let ceo3 = login_on(&format!("http://{}", s3.addr)).await;
    let r = ceo3.get("/api/crm/auth/meta/test-connection").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    s3.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn production_refuses_to_start_without_a_master_key() {
    let dir = std::env::temp_dir().join(format!("crm-prod-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let db_url = crm_db::testing::fresh_database_url(&dir).await.unwrap();
    let err = start_on(
        &db_url,
        &dir,
        &[
            "--production".into(),
            "--public-url".into(),
            "https://crm.example.com".into(),
        ],
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("CRM_MASTER_KEY"), "{err}");
    assert!(
        !crm_core::vault::dev_key_path(&dir).exists(),
        "no key generated"
    );
    // Development generates one into the data directory.
    let s = start_on(&db_url, &dir, &[]).await.unwrap();
    assert!(crm_core::vault::dev_key_path(&dir).exists());
    s.shutdown().await;
}
