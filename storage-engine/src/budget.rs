//! The engine-wide budgets of stripe buffers: one for writers, one for readers.
//!
//! A writer that outgrows the inline threshold holds stripe buffers until it
//! finishes: the stripe filling, the stripe being encoded and written, its
//! encoded blocks and the shard files' staging buffers. A reader of
//! erasure-coded data holds the stripe it read (with the parity blocks when
//! it reconstructs) until the client has taken its pieces. Each takes one
//! share of its budget ([`per_writer_bytes`], [`per_reader_bytes`]): a writer
//! as soon as it outgrows the threshold, a reader when it is opened, so that
//! a refusal comes before any response. The share goes back when the writer
//! finishes or the reader is dropped; a writer's stripe in flight carries it
//! while it runs. One who finds the budget spent waits (an upload stalls under
//! TCP flow control) and gives up with [`EngineError::WriteBuffersBusy`] or
//! [`EngineError::ReadBuffersBusy`] after the configured wait. So memory for
//! stripes stays bounded however many requests arrive at once.
//!
//! A copy holds a read share while it waits for a write share; nothing waits
//! for a read share while holding a write share, and every wait times out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{EngineError, Result};
use crate::types::EngineConfig;

/// Budget units are KiB, so that a `u32` count of permits covers any share.
const UNIT: usize = 1024;

/// One writer's or reader's share, held while it has stripe buffers.
pub(crate) type Share = OwnedSemaphorePermit;

/// One data block of the configured stripe.
fn block_bytes(config: &EngineConfig) -> usize {
    config.stripe_size_bytes.div_ceil(config.data_shards.max(1))
}

/// Bytes one writer holds once it writes stripes (with stripes aligned by
/// `align_blocks`, up to k × unit more, under 0.1 % for SSE).
pub fn per_writer_bytes(config: &EngineConfig) -> usize {
    let stripe = config.stripe_size_bytes;
    let shards = config.data_shards + config.parity_shards;
    // Filling + in flight + its encoded blocks + one staging buffer per shard file.
    2 * stripe + shards * block_bytes(config) + shards * crate::shard_out::STAGE_BYTES
}

/// Bytes one reader of erasure-coded data holds: a stripe's data and parity
/// blocks (parity only while it reconstructs; the spare part covers the last
/// piece of the previous stripe still queued to the client). Objects written
/// with another stripe size count as the configured one.
pub fn per_reader_bytes(config: &EngineConfig) -> usize {
    (config.data_shards + config.parity_shards) * block_bytes(config)
}

/// Who draws on a budget: it decides the refusal.
#[derive(Debug, Clone, Copy)]
enum Side {
    Writers,
    Readers,
}

pub(crate) struct Budget {
    side: Side,
    shares: Arc<Semaphore>,
    total_units: usize,
    per_share_units: u32,
    wait: Duration,
    rejected: AtomicU64,
}

impl Budget {
    pub fn for_writers(config: &EngineConfig) -> Budget {
        Budget::new(Side::Writers, per_writer_bytes(config), config.write_buffer_bytes, config.buffer_wait)
    }

    pub fn for_readers(config: &EngineConfig) -> Budget {
        Budget::new(Side::Readers, per_reader_bytes(config), config.read_buffer_bytes, config.buffer_wait)
    }

    fn new(side: Side, per_share_bytes: usize, limit_bytes: usize, wait: Duration) -> Budget {
        let per_share = per_share_bytes.div_ceil(UNIT);
        // At least one share always fits.
        let total = limit_bytes.div_ceil(UNIT).max(per_share);
        Budget {
            side,
            shares: Arc::new(Semaphore::new(total)),
            total_units: total,
            per_share_units: u32::try_from(per_share).unwrap_or(u32::MAX),
            wait,
            rejected: AtomicU64::new(0),
        }
    }

    /// One share, waiting for it at most the configured time.
    pub async fn acquire(&self) -> Result<Share> {
        let wanted = self.shares.clone().acquire_many_owned(self.per_share_units);
        match tokio::time::timeout(self.wait, wanted).await {
            Ok(Ok(share)) => Ok(share),
            // The semaphore is never closed.
            Ok(Err(_)) | Err(_) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                let waited_ms = self.wait.as_millis() as u64;
                // The request's log line reports the refusal; metrics count them.
                tracing::debug!(side = ?self.side, waited_ms, limit_bytes = self.limit_bytes(), "stripe buffers all in use: refused");
                Err(match self.side {
                    Side::Writers => EngineError::WriteBuffersBusy { waited_ms },
                    Side::Readers => EngineError::ReadBuffersBusy { waited_ms },
                })
            }
        }
    }

    pub fn limit_bytes(&self) -> usize {
        self.total_units * UNIT
    }

    pub fn in_use_bytes(&self) -> usize {
        self.total_units.saturating_sub(self.shares.available_permits()) * UNIT
    }

    /// Requests refused because the budget stayed spent for the whole wait.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}
