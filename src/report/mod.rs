//! Renderings of a snapshot and its assessment: `status` for people and tools, `metrics`
//! for Prometheus, `doctor` for the recovery procedure.

pub mod doctor;
pub mod metrics;
pub mod status;
