//! Conformance suite for the storage engine over three temporary zone
//! directories, with fault injection (deleted zones, corrupt and missing
//! shards, crashes before the commit, full disks, failed zones).

mod budget;
mod common;
mod faults;
mod listing;
mod multipart;
mod objects;
mod stored;
mod system;
