//! meta-sandbox
