//! Services: each public function is one use case, run in one transaction that
//! also writes its audit row (and outbox events where the domain has them).
pub mod accounts;
pub mod audit;
pub mod erasure;
pub mod import;
pub mod leads;
pub mod meta_connection;
pub mod page;
pub mod passwords;
pub mod phone;
pub mod pipeline;
pub mod sales;
pub mod sessions;
pub mod timeline;

pub use page::{Cursor, Page};
pub mod attribution;
pub mod automation;
pub mod capi;
pub mod fx;
pub mod lead_forms;
pub mod marketing;
pub mod marketing_cache;
pub mod marketing_scan;
pub mod messaging;
pub mod pacing;
pub mod read_log;
pub mod rollups;
pub mod send_review;
pub mod sync;
pub mod templates;
pub mod webhooks;
