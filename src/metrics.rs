//! Prometheus metrics served on the admin listener at `/metrics`.
//!
//! Request metrics are recorded by the S3 accept path as each request ends;
//! storage gauges (zone state, free space, degraded objects, scrub progress)
//! are refreshed from the engine and the scrubber when the page is scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::ops::{zone_state_code, Ops};
use storage_engine::Engine;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    op: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ZoneLabels {
    zone: String,
}

type HistogramFamily = Family<OpLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric Coffer exports, plus the registry that renders them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    bytes_in: Counter,
    bytes_out: Counter,
    /// Connections the S3 listener serves now, and its limit (`--max-connections`).
    pub s3_connections_open: Gauge,
    pub s3_connections_limit: Gauge,
    degraded_objects: Gauge,
    shards_repaired: Counter,
    shards_repaired_seen: AtomicU64,
    degraded_reads: Counter,
    degraded_reads_seen: AtomicU64,
    write_buffers: BufferMetrics,
    read_buffers: BufferMetrics,
    objects_stored: Gauge,
    object_versions_stored: Gauge,
    bytes_stored: Gauge,
    scrub_objects_checked: Gauge,
    scrub_running: Gauge,
    scrub_progress_objects: Gauge,
    scrub_passes: Gauge,
    scrub_last_finished: Gauge,
    scrub_unrecoverable: Gauge,
    zone_state: Family<ZoneLabels, Gauge>,
    zone_free_bytes: Family<ZoneLabels, Gauge>,
    zone_capacity_bytes: Family<ZoneLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("coffer");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "S3 requests by operation and HTTP status", requests.clone());
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("request_duration_seconds", "S3 request latency by operation", latency.clone());
        let bytes_in = Counter::default();
        registry.register("bytes_received", "Request body bytes announced by Content-Length", bytes_in.clone());
        let bytes_out = Counter::default();
        registry.register("bytes_sent", "Response body bytes announced by Content-Length", bytes_out.clone());
        let s3_connections_open = Gauge::default();
        registry.register(
            "s3_connections_open",
            "Client connections the S3 listener serves now",
            s3_connections_open.clone(),
        );
        let s3_connections_limit = Gauge::default();
        registry.register(
            "s3_connections_limit",
            "Client connections the S3 listener serves at once (--max-connections)",
            s3_connections_limit.clone(),
        );
        let degraded_objects = Gauge::default();
        registry.register(
            "degraded_objects",
            "Chunks known to be missing shards and queued for repair",
            degraded_objects.clone(),
        );
        let shards_repaired = Counter::default();
        registry.register("shards_repaired", "Shard files rewritten by heal and scrub", shards_repaired.clone());
        let degraded_reads = Counter::default();
        registry.register("degraded_reads", "Stripe reads that needed reconstruction", degraded_reads.clone());
        let write_buffers = BufferMetrics::register(&mut registry, "write", "uploads", "--write-buffer-mib");
        let read_buffers = BufferMetrics::register(&mut registry, "read", "downloads", "--read-buffer-mib");
        let objects_stored = Gauge::default();
        registry.register("objects_stored", "Current objects (latest versions) stored", objects_stored.clone());
        let object_versions_stored = Gauge::default();
        registry.register(
            "object_versions_stored",
            "Older object versions and delete markers stored",
            object_versions_stored.clone(),
        );
        let bytes_stored = Gauge::default();
        registry.register(
            "bytes_stored",
            "Data bytes stored (objects, older versions, parts of uploads in progress; before erasure coding)",
            bytes_stored.clone(),
        );
        let scrub_objects_checked = Gauge::default();
        registry.register(
            "scrub_objects_checked",
            "Objects verified by the last finished scrub pass",
            scrub_objects_checked.clone(),
        );
        let scrub_running = Gauge::default();
        registry.register("scrub_running", "1 while a scrub pass runs", scrub_running.clone());
        let scrub_progress_objects = Gauge::default();
        registry.register(
            "scrub_progress_objects",
            "Objects verified so far by the scrub pass under way (kept across restarts; 0 between passes)",
            scrub_progress_objects.clone(),
        );
        let scrub_passes = Gauge::default();
        registry.register("scrub_passes", "Scrub passes finished since start", scrub_passes.clone());
        let scrub_last_finished = Gauge::default();
        registry.register(
            "scrub_last_finished_timestamp_seconds",
            "Unix time the last scrub pass finished (0 = never)",
            scrub_last_finished.clone(),
        );
        let scrub_unrecoverable = Gauge::default();
        registry.register(
            "scrub_unrecoverable_objects",
            "Objects the last scrub pass could not repair",
            scrub_unrecoverable.clone(),
        );
        let zone_state = Family::<ZoneLabels, Gauge>::default();
        registry.register("zone_state", "Zone state: 0 online, 1 rebuilding, 2 missing/failed", zone_state.clone());
        let zone_free_bytes = Family::<ZoneLabels, Gauge>::default();
        registry.register("zone_free_bytes", "Free bytes on the zone's filesystem", zone_free_bytes.clone());
        let zone_capacity_bytes = Family::<ZoneLabels, Gauge>::default();
        registry.register("zone_capacity_bytes", "Size of the zone's filesystem", zone_capacity_bytes.clone());
        Metrics {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            s3_connections_open,
            s3_connections_limit,
            degraded_objects,
            shards_repaired,
            shards_repaired_seen: AtomicU64::new(0),
            degraded_reads,
            degraded_reads_seen: AtomicU64::new(0),
            write_buffers,
            read_buffers,
            objects_stored,
            object_versions_stored,
            bytes_stored,
            scrub_objects_checked,
            scrub_running,
            scrub_progress_objects,
            scrub_passes,
            scrub_last_finished,
            scrub_unrecoverable,
            zone_state,
            zone_free_bytes,
            zone_capacity_bytes,
        }
    }

    /// Records one finished S3 request.
    pub fn observe_request(&self, op: &str, status: u16, elapsed: Duration, bytes_in: u64, bytes_out: u64) {
        self.requests.get_or_create(&RequestLabels { op: op.to_string(), status }).inc();
        self.latency.get_or_create(&OpLabels { op: op.to_string() }).observe(elapsed.as_secs_f64());
        self.bytes_in.inc_by(bytes_in);
        self.bytes_out.inc_by(bytes_out);
    }

    /// Refreshes the storage gauges and renders the exposition text.
    pub fn render(&self, engine: &Engine, ops: &Ops) -> String {
        let stats = engine.stats();
        self.degraded_objects.set(stats.degraded_objects() as i64);
        advance(&self.shards_repaired, &self.shards_repaired_seen, stats.shards_repaired);
        advance(&self.degraded_reads, &self.degraded_reads_seen, stats.degraded_reads);
        self.write_buffers.set(
            stats.write_buffers_in_use_bytes,
            stats.write_buffers_limit_bytes,
            stats.writes_refused_busy,
        );
        self.read_buffers.set(
            stats.read_buffers_in_use_bytes,
            stats.read_buffers_limit_bytes,
            stats.reads_refused_busy,
        );
        for z in &stats.zones {
            let labels = ZoneLabels { zone: format!("az{}", z.zone + 1) };
            self.zone_state.get_or_create(&labels).set(zone_state_code(&z.state));
            if let Some((capacity, free)) = crate::ops::disk_space(&z.dir) {
                self.zone_free_bytes.get_or_create(&labels).set(free as i64);
                self.zone_capacity_bytes.get_or_create(&labels).set(capacity as i64);
            }
        }
        let scrub = ops.scrub_snapshot();
        self.scrub_running.set(i64::from(scrub.running));
        self.scrub_passes.set(scrub.passes as i64);
        self.scrub_progress_objects.set(scrub.progress.as_ref().map_or(0, |p| p.objects_checked as i64));
        if let Some(last) = &scrub.last {
            self.scrub_objects_checked.set(last.objects_checked as i64);
            self.scrub_last_finished.set((last.finished_unix_ms / 1000) as i64);
            self.scrub_unrecoverable.set(last.unrecoverable as i64);
        }
        self.objects_stored.set(stats.stored.objects as i64);
        self.object_versions_stored.set(stats.stored.versions as i64);
        self.bytes_stored.set(stats.stored.bytes as i64);
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        text
    }
}

/// One stripe-buffer budget (`side` = write or read): shares in use, the
/// limit, and the requests it refused.
struct BufferMetrics {
    in_use: Gauge,
    limit: Gauge,
    refused: Counter,
    refused_seen: AtomicU64,
}

impl BufferMetrics {
    fn register(registry: &mut Registry, side: &str, requests: &str, flag: &str) -> BufferMetrics {
        let metrics = BufferMetrics {
            in_use: Gauge::default(),
            limit: Gauge::default(),
            refused: Counter::default(),
            refused_seen: AtomicU64::new(0),
        };
        registry.register(
            format!("{side}_buffers_in_use_bytes"),
            format!("Stripe-buffer shares held by {requests} now"),
            metrics.in_use.clone(),
        );
        registry.register(
            format!("{side}_buffers_limit_bytes"),
            format!("Stripe buffers all {requests} together may hold ({flag})"),
            metrics.limit.clone(),
        );
        let mut who = requests.to_string();
        who[..1].make_ascii_uppercase();
        registry.register(
            format!("{requests}_refused_busy"),
            format!("{who} answered 503 SlowDown after waiting for {side} buffers"),
            metrics.refused.clone(),
        );
        metrics
    }

    fn set(&self, in_use_bytes: usize, limit_bytes: usize, refused: u64) {
        self.in_use.set(in_use_bytes as i64);
        self.limit.set(limit_bytes as i64);
        advance(&self.refused, &self.refused_seen, refused);
    }
}

/// Adds to `counter` what the engine's cumulative `now` gained since the last scrape.
fn advance(counter: &Counter, seen: &AtomicU64, now: u64) {
    let before = seen.swap(now, Ordering::Relaxed);
    if now > before {
        counter.inc_by(now - before);
    }
}
