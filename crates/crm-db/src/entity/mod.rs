//! SeaORM entities. One module per table.
pub mod api_token;
pub mod audit_log;
pub mod job;
pub mod outbox;
pub mod session;
pub mod tenant;
pub mod user;
