//! HSM automation: WhatsApp template rules (Meta's submission checks,
//! placeholders, rendering) and the automation rule model with its pure
//! evaluation (triggers, conditions, bindings, quiet hours, caps). The
//! services that store and run them live in `services::{templates,
//! messaging, automation}`.

pub mod rule;
pub mod template;
