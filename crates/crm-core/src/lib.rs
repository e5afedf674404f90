//! crm-core
