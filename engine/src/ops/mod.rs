//! Whole operations built on the rest: convert, transfer (put/get) and download.

pub(crate) mod convert;
pub(crate) mod download;
pub(crate) mod transfer;
