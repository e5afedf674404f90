//! `crm jobs …`: the dead-letter list of the job queue (jobs that failed for
//! good: a permanent error, the last attempt's error, or a lease that ran out
//! on the last attempt) and their replay.

use uuid::Uuid;

/// `crm jobs …` (operator commands on the job queue).
#[derive(Debug, clap::Subcommand)]
pub enum JobsCmd {
    /// List failed jobs, newest first.
    Failed(FailedArgs),
    /// Queue failed jobs again with a fresh set of attempts: one (`--id`) or
    /// every failed job of a kind (`--kind`). A running worker picks them up.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct FailedArgs {
    #[command(flatten)]
    pub db: crate::config::DbArgs,
    /// Only this job kind (e.g. `hsm.send`).
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub db: crate::config::DbArgs,
    /// One job id.
    #[arg(long, conflicts_with = "kind", required_unless_present = "kind")]
    pub id: Option<Uuid>,
    /// Every failed job of this kind.
    #[arg(long)]
    pub kind: Option<String>,
}

/// Runs a `crm jobs` command.
pub async fn run(cmd: JobsCmd) -> anyhow::Result<()> {
    match cmd {
        JobsCmd::Failed(a) => {
            let db = crm_db::connect(&a.db.database_url, 2).await?;
            crm_db::migrate(&db).await?;
            let rows = crm_db::jobs::failed(&db, a.kind.as_deref(), a.limit).await?;
            if rows.is_empty() {
                println!("no failed jobs");
            }
            for j in rows {
                let when = j
                    .finished_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{}  {}  {}  attempts {}/{}  {}",
                    j.id,
                    when,
                    j.kind,
                    j.attempts,
                    j.max_attempts,
                    j.last_error.unwrap_or_default()
                );
            }
        }
        JobsCmd::Replay(a) => {
            let db = crm_db::connect(&a.db.database_url, 2).await?;
            crm_db::migrate(&db).await?;
            let n = crm_db::jobs::replay(&db, a.id, a.kind.as_deref()).await?;
            println!("queued {n} failed job(s) again");
        }
    }
    Ok(())
}
