//! The Marketing Hub read cache.
//!
//! A Marketing Hub answer is a pure function of the tenant's rollups, synced
//! structure and sync state, the query and the tenant's day. Every write to
//! those bumps the tenant's read version in the same transaction
//! ([`crm_db::rollups::bump_version`]), so an answer computed at version `v`
//! on day `d` is the right answer for as long as the version is `v` and the
//! tenant's day is `d`. A view then costs one indexed read (the version, and
//! whether rollup marks are pending) instead of the range sums.
//!
//! The version lives in the database, so several servers each keep their own
//! cache and still never serve an answer older than the last committed
//! change. Permission checks happen on every request, hit or miss, and every
//! view is counted for the audit log in memory ([`super::read_log`]): a hit
//! writes nothing to the database.
//!
//! An answer is kept once, behind an `Arc`, with its JSON body serialized on
//! the first request that needs it (and gzip-compressed on the first that
//! accepts gzip): a repeated view neither copies, re-serializes nor
//! re-compresses the rows (500 campaigns are a few hundred kilobytes).

use std::any::Any;
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Serialize;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::marketing::ReadAudit;
use super::read_log::ReadLog;
use super::rollups;
use crate::roles::Permission;
use crate::{CoreError, TenantCtx};

/// A Marketing Hub answer as the cache holds it: shared, with its JSON body
/// serialized at most once. Derefs to the answer.
pub struct Cached<T> {
    value: Arc<T>,
    body: Arc<OnceLock<Bytes>>,
    gzip: Arc<OnceLock<Bytes>>,
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Cached {
            value: Arc::clone(&self.value),
            body: Arc::clone(&self.body),
            gzip: Arc::clone(&self.gzip),
        }
    }
}

impl<T> Deref for Cached<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T> Cached<T> {
    fn new(value: T) -> Self {
        Cached {
            value: Arc::new(value),
            body: Arc::new(OnceLock::new()),
            gzip: Arc::new(OnceLock::new()),
        }
    }

    /// The answer itself (copied only when another holder still shares it).
    pub fn into_inner(self) -> T
    where
        T: Clone,
    {
        Arc::unwrap_or_clone(self.value)
    }
}

impl<T: Serialize> Cached<T> {
    /// The answer as a JSON body, serialized by the first caller.
    pub fn json(&self) -> Result<Bytes, CoreError> {
        if let Some(b) = self.body.get() {
            return Ok(b.clone());
        }
        let b = Bytes::from(
            serde_json::to_vec(&*self.value)
                .map_err(|e| CoreError::Internal(format!("serializing an answer: {e}")))?,
        );
        // Two first requests may race: both bodies are equal, one is kept.
        Ok(self.body.get_or_init(|| b).clone())
    }

    /// The JSON body gzip-compressed, compressed by the first caller: a
    /// repeated view is sent compressed at no cost.
    pub fn json_gzip(&self) -> Result<Bytes, CoreError> {
        use std::io::Write;
        if let Some(b) = self.gzip.get() {
            return Ok(b.clone());
        }
        let plain = self.json()?;
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(plain.len() / 4),
            // The fastest level: JSON still shrinks several times, and a
            // miss (the first view after a change) pays little for it.
            flate2::Compression::fast(),
        );
        enc.write_all(&plain)
            .and_then(|()| enc.finish())
            .map(|z| self.gzip.get_or_init(|| Bytes::from(z)).clone())
            .map_err(|e| CoreError::Internal(format!("compressing an answer: {e}")))
    }
}

#[derive(Clone)]
struct Entry {
    version: i64,
    tz: Tz,
    today: NaiveDate,
    read: ReadAudit,
    value: Arc<dyn Any + Send + Sync>,
}

/// Counters since start (for `/api/health` style diagnostics and tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

pub struct ReadCache {
    entries: quick_cache::sync::Cache<(Uuid, String), Entry>,
    /// Where each view is counted for the audit log (flushed in the
    /// background as coalesced rows).
    reads: Arc<ReadLog>,
    enabled: bool,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl ReadCache {
    /// A cache of up to `capacity` answers (0 disables caching: every view
    /// is computed, as `crm serve --marketing-cache 0` does).
    pub fn new(capacity: usize) -> Self {
        ReadCache {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            reads: Arc::new(ReadLog::new()),
            enabled: capacity > 0,
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// The log the views are counted in (the server flushes it).
    pub fn read_log(&self) -> &Arc<ReadLog> {
        &self.reads
    }

    pub fn stats(&self) -> CacheStats {
        use std::sync::atomic::Ordering::Relaxed;
        CacheStats {
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
        }
    }

    /// The answer for `key` at the tenant's current version, computed by
    /// `compute` when there is none. Pending rollup marks are cleared first
    /// (read-your-writes), which bumps the version.
    pub async fn get_or_compute<T, F, Fut>(
        &self,
        db: &DatabaseConnection,
        ctx: &TenantCtx,
        key: String,
        compute: F,
    ) -> Result<Cached<T>, CoreError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, ReadAudit), CoreError>>,
    {
        use std::sync::atomic::Ordering::Relaxed;
        ctx.require(Permission::MarketingRead)?;
        let (mut version, dirty) = crm_db::rollups::read_state(db, ctx.tenant_id).await?;
        if dirty {
            rollups::refresh(db, ctx.tenant_id).await?;
            version = crm_db::rollups::read_state(db, ctx.tenant_id).await?.0;
        }
        let k = (ctx.tenant_id, key);
        if self.enabled
            && let Some(e) = self.entries.get(&k)
            && e.version == version
            && Utc::now().with_timezone(&e.tz).date_naive() == e.today
            && let Some(v) = e.value.downcast_ref::<Cached<T>>()
        {
            let v = v.clone();
            self.hits.fetch_add(1, Relaxed);
            ::metrics::counter!("crm_marketing_cache_requests_total", "result" => "hit")
                .increment(1);
            e.read.count(&self.reads, ctx);
            return Ok(v);
        }
        self.misses.fetch_add(1, Relaxed);
        ::metrics::counter!("crm_marketing_cache_requests_total", "result" => "miss").increment(1);
        // `version` was read before computing: if a change commits while the
        // answer is computed, the entry is stored under the older version and
        // is never served.
        let (v, read) = compute().await?;
        let v = Cached::new(v);
        if self.enabled {
            self.entries.insert(
                k,
                Entry {
                    version,
                    tz: read.tz,
                    today: read.today,
                    read: read.clone(),
                    value: Arc::new(v.clone()),
                },
            );
        }
        read.count(&self.reads, ctx);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize)]
    struct Answer {
        n: u32,
        name: String,
    }

    #[test]
    fn the_body_is_serialized_once_and_shared_by_every_holder() {
        let a = Cached::new(Answer {
            n: 7,
            name: "Campaña".into(),
        });
        let b = a.clone();
        let first = a.json().unwrap();
        let second = b.json().unwrap();
        assert_eq!(&first[..], r#"{"n":7,"name":"Campaña"}"#.as_bytes());
        // The same buffer, not an equal copy.
        assert_eq!(first.as_ptr(), second.as_ptr());
        assert_eq!(b.n, 7);
        drop(a);
        assert_eq!(
            b.into_inner(),
            Answer {
                n: 7,
                name: "Campaña".into()
            }
        );
    }
}
