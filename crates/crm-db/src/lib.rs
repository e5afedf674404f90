//! crm-db
