//! The CRM Ventas server: HTTP API, embedded web app, worker and CLI.

pub mod alloc;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod hsm_bench;
pub mod jobs_cli;
pub mod leads_cli;
pub mod mail;
pub mod maintenance;
pub mod marketing_cli;
pub mod meta;
pub mod otel;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod webhooks_bench;
pub mod worker;
