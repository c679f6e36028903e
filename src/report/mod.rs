//! Renderings of a snapshot and its assessment: `status` for people and tools, `metrics`
//! for Prometheus.

pub mod metrics;
pub mod status;
