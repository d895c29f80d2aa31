//! A committed dataset: its layout and manifest, the commit protocol, recovery from an
//! interrupted commit, verification and checksums, and reading a store back.

pub(crate) mod checksum;
pub(crate) mod commit;
pub(crate) mod manifest;
pub(crate) mod reader;
pub(crate) mod recover;
pub(crate) mod verify;
