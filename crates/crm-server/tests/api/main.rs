#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One integration-test binary: every test starts the real server on port 0
//! with a fresh database (SQLite, or PostgreSQL when CRM_TEST_DATABASE_URL
//! names a server).

mod helpers;
mod meta_support;
mod smtp_sink;

mod account;
mod anonymous;
mod audit;
mod auth;
mod cli;
mod contract;
mod demo;
mod erasure;
mod hsm_api;
mod hsm_exactly_once;
mod import;
mod isolation;
mod job_fencing;
mod lead_forms;
mod leads;
mod load_guards;
mod marketing_hub;
mod meta_assets;
mod meta_health;
mod meta_oauth;
mod meta_vault;
mod pipeline;
mod production;
mod sales;
mod security;
mod send_review;
mod team;
mod tokens;
mod webhooks_inbox;
