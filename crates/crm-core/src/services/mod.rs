//! Services: each public function is one use case, run in one transaction that
//! also writes its audit row (and outbox events where the domain has them).
pub mod accounts;
pub mod audit;
pub mod meta_connection;
pub mod page;

pub use page::{Cursor, Page};
