//! Coffer's access-control model and its evaluation, as AWS defines them:
//! policy documents (bucket and identity policies), ACLs, Object Ownership
//! and Block Public Access, and the one function that decides a request.
//!
//! Owns: parsing and validating policy JSON (`document`), condition operators
//! and keys (`condition`), wildcard, ARN and policy-variable matching
//! (`pattern`), principals (`principal`), the ACL model and canned ACLs
//! (`acl`), AWS's definition of "public" (`public`), and `evaluate`.
//!
//! Invariants: evaluation is a pure function of its inputs (no I/O, no clock:
//! the time arrives as the `aws:CurrentTime`/`aws:EpochTime` condition
//! values); an explicit Deny that matches can never be overridden (the only
//! exception is AWS's: the account root may always get, put and delete its
//! own buckets' policies); anything not explicitly allowed is denied.
//!
//! Must not depend on: HTTP, XML, the storage engine, an async runtime.

pub mod acl;
pub mod condition;
pub mod document;
pub mod evaluate;
pub mod pattern;
pub mod principal;
pub mod public;

pub use acl::{
    acl_permission_for, Acl, AclTarget, CannedAcl, Grant, Grantee, ObjectOwnership, Permission, PublicAccessBlock,
};
pub use condition::ConditionValues;
pub use document::{PolicyDocument, PolicyError};
pub use evaluate::{evaluate, Decision, Inputs, Request};
pub use principal::Principal;
