//! Measurements of a run: a latency histogram (`hdrhistogram`), byte and
//! error counts per operation, merged over the workers into a [`Report`]
//! printed as a table or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::units::human_bytes;
use super::Op;

/// One worker's (or the merged) figures for one operation.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency of successful operations, microseconds.
    pub latency_us: Histogram<u64>,
    pub bytes: u64,
    pub errors: u64,
}

impl OpStats {
    fn new() -> OpStats {
        // 1 µs .. 1 h, 3 significant digits; values above are clamped.
        let latency_us = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid");
        OpStats { latency_us, bytes: 0, errors: 0 }
    }
}

/// Everything one worker measured.
#[derive(Debug, Default)]
pub struct Stats {
    pub ops: BTreeMap<Op, OpStats>,
    /// Error label (`GET 404 NoSuchKey`, `PUT connect: ...`) → count.
    pub errors: BTreeMap<String, u64>,
    pub verified: u64,
    /// Mixed runs: GET/HEAD answered 404 because a concurrent DELETE removed
    /// the key after it was picked (not counted as errors).
    pub deleted_during_read: u64,
}

impl Stats {
    pub fn success(&mut self, op: Op, latency: Duration, bytes: u64) {
        let s = self.ops.entry(op).or_insert_with(OpStats::new);
        s.latency_us.saturating_record((latency.as_micros() as u64).max(1));
        s.bytes += bytes;
    }

    pub fn error(&mut self, op: Op, label: &str) {
        self.ops.entry(op).or_insert_with(OpStats::new).errors += 1;
        *self.errors.entry(format!("{} {label}", op.name())).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Stats) {
        for (op, s) in other.ops {
            let mine = self.ops.entry(op).or_insert_with(OpStats::new);
            // Both histograms have the same bounds, so adding cannot fail.
            let _ = mine.latency_us.add(&s.latency_us);
            mine.bytes += s.bytes;
            mine.errors += s.errors;
        }
        for (label, n) in other.errors {
            *self.errors.entry(label).or_insert(0) += n;
        }
        self.verified += other.verified;
        self.deleted_during_read += other.deleted_during_read;
    }

    pub fn report(&self, elapsed: Duration, config: RunInfo) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let row = |name: &str, s: &OpStats| {
            let ms = |us: u64| us as f64 / 1000.0;
            let ops = s.latency_us.len();
            OpReport {
                op: name.to_string(),
                ops,
                errors: s.errors,
                ops_per_sec: ops as f64 / secs,
                mib_per_sec: s.bytes as f64 / secs / (1024.0 * 1024.0),
                bytes: s.bytes,
                latency_ms: Latency {
                    mean: s.latency_us.mean() / 1000.0,
                    p50: ms(s.latency_us.value_at_quantile(0.50)),
                    p90: ms(s.latency_us.value_at_quantile(0.90)),
                    p99: ms(s.latency_us.value_at_quantile(0.99)),
                    max: ms(s.latency_us.max()),
                },
            }
        };
        let mut ops: Vec<OpReport> = self.ops.iter().map(|(op, s)| row(op.name(), s)).collect();
        if self.ops.len() > 1 {
            let mut total = OpStats::new();
            for s in self.ops.values() {
                let _ = total.latency_us.add(&s.latency_us);
                total.bytes += s.bytes;
                total.errors += s.errors;
            }
            ops.push(row("TOTAL", &total));
        }
        Report {
            config,
            elapsed_secs: secs,
            operations: ops,
            errors: self.errors.clone(),
            total_errors: self.errors.values().sum(),
            verified_gets: self.verified,
            deleted_during_read: self.deleted_during_read,
        }
    }
}

/// What was run (echoed in the report).
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub endpoint: String,
    pub bucket: String,
    pub workload: String,
    pub size: String,
    pub concurrency: usize,
    pub prefill: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: String,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub mib_per_sec: f64,
    pub bytes: u64,
    pub latency_ms: Latency,
}

/// The final result of a run; `--json` prints it as is.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub config: RunInfo,
    pub elapsed_secs: f64,
    pub operations: Vec<OpReport>,
    pub errors: BTreeMap<String, u64>,
    pub total_errors: u64,
    /// GET bodies compared byte for byte with the content that was PUT.
    pub verified_gets: u64,
    /// Mixed runs: reads of keys a concurrent DELETE removed (404, not errors).
    pub deleted_during_read: u64,
}

impl Report {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} on {} (bucket {}), size {}, concurrency {}, {:.1} s, prefill {}",
            c.workload, c.endpoint, c.bucket, c.size, c.concurrency, self.elapsed_secs, c.prefill
        );
        let _ = writeln!(
            out,
            "{:<14} {:>9} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "op", "ops", "ops/s", "throughput", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
        );
        for r in &self.operations {
            let _ = writeln!(
                out,
                "{:<14} {:>9} {:>10.1} {:>10}/s {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
                r.op,
                r.ops,
                r.ops_per_sec,
                human_bytes(r.mib_per_sec * 1024.0 * 1024.0),
                r.latency_ms.p50,
                r.latency_ms.p90,
                r.latency_ms.p99,
                r.latency_ms.max,
                r.errors
            );
        }
        let _ = writeln!(out, "verified GET bodies: {}", self.verified_gets);
        if self.deleted_during_read > 0 {
            let _ = writeln!(out, "reads of keys deleted concurrently (404, not errors): {}", self.deleted_during_read);
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "errors:");
            for (label, n) in &self.errors {
                let _ = writeln!(out, "  {n:>8}  {label}");
            }
        }
        out
    }
}
