//! The engine-wide budget of write buffers.
//!
//! A writer that outgrows the inline threshold holds stripe buffers until it
//! finishes: the stripe filling, the stripe being encoded and written, its
//! encoded blocks and the shard files' staging buffers. Each such writer
//! takes one share of the budget ([`per_writer_bytes`]) as soon as it
//! outgrows the threshold and gives it back when it finishes or is dropped; the
//! stripe in flight carries the share while it runs. A writer that finds the
//! budget spent waits (the client's upload stalls under TCP flow control) and
//! gives up with [`EngineError::WriteBuffersBusy`] after the configured wait.
//! So memory for uploads stays bounded however many arrive at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{EngineError, Result};
use crate::types::EngineConfig;

/// Budget units are KiB, so that a `u32` count of permits covers any share.
const UNIT: usize = 1024;

/// A writer's share, held while it has stripe buffers.
pub(crate) type Share = OwnedSemaphorePermit;

/// Bytes one writer holds once it writes stripes (with stripes aligned by
/// `align_blocks`, up to k × unit more, under 0.1 % for SSE).
pub fn per_writer_bytes(config: &EngineConfig) -> usize {
    let stripe = config.stripe_size_bytes;
    let shards = config.data_shards + config.parity_shards;
    let block = stripe.div_ceil(config.data_shards.max(1));
    // Filling + in flight + its encoded blocks + one staging buffer per shard file.
    2 * stripe + shards * block + shards * crate::shard_out::STAGE_BYTES
}

pub(crate) struct WriteBudget {
    shares: Arc<Semaphore>,
    total_units: usize,
    per_writer_units: u32,
    wait: Duration,
    rejected: AtomicU64,
}

impl WriteBudget {
    pub fn new(config: &EngineConfig) -> WriteBudget {
        let per_writer = per_writer_bytes(config).div_ceil(UNIT);
        // At least one writer always fits.
        let total = config.write_buffer_bytes.div_ceil(UNIT).max(per_writer);
        WriteBudget {
            shares: Arc::new(Semaphore::new(total)),
            total_units: total,
            per_writer_units: u32::try_from(per_writer).unwrap_or(u32::MAX),
            wait: config.write_buffer_wait,
            rejected: AtomicU64::new(0),
        }
    }

    /// One writer's share, waiting for it at most the configured time.
    pub async fn acquire(&self) -> Result<Share> {
        let wanted = self.shares.clone().acquire_many_owned(self.per_writer_units);
        match tokio::time::timeout(self.wait, wanted).await {
            Ok(Ok(share)) => Ok(share),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                // The request's log line reports the refusal; metrics count them.
                tracing::debug!(
                    waited_ms = self.wait.as_millis() as u64,
                    limit_bytes = self.limit_bytes(),
                    "write buffers all in use: upload refused"
                );
                Err(EngineError::WriteBuffersBusy { waited_ms: self.wait.as_millis() as u64 })
            }
        }
    }

    pub fn limit_bytes(&self) -> usize {
        self.total_units * UNIT
    }

    pub fn in_use_bytes(&self) -> usize {
        self.total_units.saturating_sub(self.shares.available_permits()) * UNIT
    }

    /// Writers refused because the budget stayed spent for the whole wait.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}
