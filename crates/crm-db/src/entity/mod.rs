//! SeaORM entities. One module per table.
pub mod api_token;
pub mod audit_log;
pub mod automation_rule;
pub mod automation_run;
pub mod hsm_setting;
pub mod job;
pub mod outbox;
pub mod session;
pub mod tenant;
pub mod user;
pub mod wa_message;
pub mod wa_template;
pub mod wa_template_event;
