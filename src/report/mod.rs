//! Renderings of a snapshot and its assessment: `status` for people and tools.

pub mod status;
