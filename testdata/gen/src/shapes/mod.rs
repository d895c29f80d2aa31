//! The record shapes the generator writes, one module each.

pub(crate) mod orders;
