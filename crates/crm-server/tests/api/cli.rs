//! The admin commands work non-interactively for scripts.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::*;

pub(crate) fn crm(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CRM_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_and_user_commands_script_cleanly() {
    let dir = TempDir(std::env::temp_dir().join(format!("crm-cli-{}", uuid::Uuid::new_v4())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let url = crm_db::testing::fresh_database_url(&dir.0).await.unwrap();
    let (ok, out, err) = crm(
        &[
            "tenant",
            "create",
            "--database-url",
            &url,
            "--name",
            "Scripted",
            "--currency",
            "ARS",
        ],
        None,
    );
    assert!(ok, "{err}");
    let tenant = out.trim().to_owned();
    assert!(
        uuid::Uuid::parse_str(&tenant).is_ok(),
        "prints the tenant id: {out}"
    );

    let (ok, out, err) = crm(
        &[
            "user",
            "create",
            "--database-url",
            &url,
            "--tenant",
            &tenant,
            "--email",
            "boss@scripted.test",
            "--role",
            "ceo",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{err}");
    assert!(
        uuid::Uuid::parse_str(out.trim()).is_ok(),
        "prints the user id: {out}"
    );

    // The password came from stdin: the user can sign in with it.
    let app = spawn_app_on(&url, &dir).await;
    let mut c = Client::new(&app);
    let r = c.login("boss@scripted.test", PASSWORD).await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tenant"]["currency"], "ARS");

    let (ok, _, err) = crm(
        &[
            "user",
            "create",
            "--database-url",
            &url,
            "--tenant",
            &tenant,
            "--email",
            "x@scripted.test",
            "--role",
            "wizard",
        ],
        Some("whatever-long\n"),
    );
    assert!(!ok);
    assert!(err.contains("not a role"), "{err}");
    let (ok, _, err) = crm(
        &[
            "user",
            "create",
            "--database-url",
            &url,
            "--tenant",
            &tenant,
            "--email",
            "y@scripted.test",
            "--role",
            "seller",
        ],
        Some("short\n"),
    );
    assert!(!ok);
    assert!(err.contains("at least 10 characters"), "{err}");
}

#[tokio::test]
async fn backup_makes_a_consistent_sqlite_copy() {
    let app = spawn_app().await;
    setup_ceo(&app).await;
    let url = app.database_url.clone();
    let out = app.data_dir().join("backup/copy.db");
    let (ok, stdout, err) = crm(
        &[
            "backup",
            "--database-url",
            &url,
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    if crm_db::testing::backend() == "postgres" {
        assert!(!ok);
        assert!(err.contains("pg_dump"), "{err}");
        return;
    }
    assert!(ok, "{err}");
    assert!(stdout.contains("backup written"));
    let copy = crm_db::connect(&format!("sqlite://{}", out.display()), 1)
        .await
        .unwrap();
    use sea_orm::EntityTrait;
    let users = crm_db::entity::user::Entity::find()
        .all(&copy)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email, "ceo@acme.test");
    let (ok, _, err) = crm(
        &[
            "backup",
            "--database-url",
            &url,
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(!ok && err.contains("already exists"), "{err}");
}
