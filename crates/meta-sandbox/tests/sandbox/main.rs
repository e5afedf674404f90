//! End-to-end tests of the Meta sandbox over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod capi;
mod common;
mod leads;
mod marketing;
mod misc;
mod oauth;
mod params;
mod whatsapp;
