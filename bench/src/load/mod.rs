//! `coffer-load`, an S3 load generator: workers with one keep-alive HTTP/1.1
//! connection each send SigV4-signed requests to any S3 endpoint and record
//! latency, throughput and errors. Object content is derived from the key
//! ([`content`]) so sampled GET bodies are verified without remembering
//! what was written.

pub mod client;
pub mod content;
pub mod ops;
pub mod run;
pub mod stats;
pub mod units;

/// An S3 operation the load generator measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Put,
    Get,
    Head,
    Delete,
    List,
    MultipartPut,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
            Op::Head => "HEAD",
            Op::Delete => "DELETE",
            Op::List => "LIST",
            Op::MultipartPut => "MULTIPART-PUT",
        }
    }
}
