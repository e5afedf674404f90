//! meta-graph
