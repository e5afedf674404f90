//! `crm rollups rebuild [--tenant ID|NAME]`: recomputes the Marketing Hub
//! rollups from raw data (see `crm_core::services::rollups`), and
//! `crm bench marketing`: the Marketing Hub benchmark.

use std::time::Instant;

use clap::{Args, Subcommand};
use crm_core::services::rollups;
use crm_db::entity::tenant;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::config::DbArgs;

#[derive(Debug, Subcommand)]
pub enum RollupsCmd {
    /// Recompute the Marketing Hub rollups from raw data (leads,
    /// opportunities, sales, synced insights, FX rates) with the same code the
    /// incremental path runs. Safe while the server runs; numbers are
    /// incomplete until it finishes.
    Rebuild(RebuildArgs),
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Only this tenant (its id or its exact name); default every tenant.
    #[arg(long)]
    pub tenant: Option<String>,
}

pub async fn run_rollups(cmd: RollupsCmd) -> anyhow::Result<()> {
    let RollupsCmd::Rebuild(a) = cmd;
    let db = crm_db::connect(&a.db.database_url, a.db.db_max_connections).await?;
    crm_db::migrate(&db).await?;
    let mut q = tenant::Entity::find().order_by_asc(tenant::Column::CreatedAt);
    if let Some(t) = a.tenant.as_deref() {
        q = match t.parse::<uuid::Uuid>() {
            Ok(id) => q.filter(tenant::Column::Id.eq(id)),
            Err(_) => q.filter(tenant::Column::Name.eq(t)),
        };
    }
    let tenants = q.all(&db).await?;
    if tenants.is_empty() {
        anyhow::bail!(
            "no tenant matches {}",
            a.tenant.as_deref().unwrap_or("(any)")
        );
    }
    for t in tenants {
        let start = Instant::now();
        let r = rollups::rebuild(&db, t.id).await?;
        println!(
            "{} ({}): {} Meta-attributed leads, {} facts, {} days in {:.2} s",
            t.name,
            t.id,
            r.leads,
            r.facts,
            r.days,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
