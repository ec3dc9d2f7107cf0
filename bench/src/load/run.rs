//! Running a workload: optional bucket creation and prefill (not measured),
//! then `concurrency` workers until the duration or operation count is used
//! up, with a progress bar, and the merged [`Report`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::client::{Conn, Target};
use super::content::{object_key, prefill_key};
use super::ops;
use super::stats::{Report, RunInfo, Stats};
use super::Op;

/// Which operations the workers send.
#[derive(Debug, Clone)]
pub enum Workload {
    Single(Op),
    /// Weighted choice per operation.
    Mixed(Vec<(Op, u32)>),
}

/// Object sizes of PUTs (and prefill).
#[derive(Debug, Clone, Copy)]
pub enum SizeSpec {
    Fixed(u64),
    /// Log-uniform between the bounds, so small and large sizes are equally
    /// represented per order of magnitude.
    Range(u64, u64),
}

impl SizeSpec {
    fn sample(self, rng: &mut StdRng) -> u64 {
        match self {
            SizeSpec::Fixed(n) => n,
            SizeSpec::Range(min, max) => {
                let (lo, hi) = ((min.max(1) as f64).ln(), (max.max(1) as f64).ln());
                let v = (lo + rng.random::<f64>() * (hi - lo)).exp().round() as u64;
                v.clamp(min, max)
            }
        }
    }
}

/// When the measured phase ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    Duration(Duration),
    Ops(u64),
}

pub struct Config {
    pub target: Arc<Target>,
    pub info: RunInfo,
    pub workload: Workload,
    pub size: SizeSpec,
    pub concurrency: usize,
    pub stop: Stop,
    pub prefill: u64,
    /// Instead of (or before) prefilling, put every key under `list_prefix`
    /// into the pool (objects an earlier coffer-load run wrote).
    pub existing: bool,
    /// Workers of the prefill phase.
    pub prefill_concurrency: usize,
    /// Prefill keys spread over this many directories `pre/dNNNNNN/` (0: none).
    pub prefill_dirs: u64,
    pub verify_fraction: f64,
    pub part_size: u64,
    pub list_prefix: String,
    pub list_delimiter: Option<String>,
    /// Keys are written under `<key_prefix>/...`.
    pub key_prefix: String,
    pub progress: bool,
}

/// State shared by the workers.
struct Shared {
    /// Keys that exist (prefilled or PUT during the run): GET/HEAD pick from
    /// them, DELETE removes them.
    pool: Mutex<Vec<String>>,
    done: AtomicU64,
    errors: AtomicU64,
    /// Operations left (operation-count mode).
    remaining: AtomicU64,
    deadline: Option<Instant>,
}

impl Shared {
    fn take_ticket(&self) -> bool {
        if let Some(deadline) = self.deadline {
            return Instant::now() < deadline;
        }
        self.remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }

    fn pick(&self, rng: &mut StdRng, remove: bool) -> Option<String> {
        let mut pool = self.pool.lock().ok()?;
        if pool.is_empty() {
            return None;
        }
        let i = rng.random_range(0..pool.len());
        Some(if remove { pool.swap_remove(i) } else { pool[i].clone() })
    }

    fn contains(&self, key: &str) -> bool {
        self.pool.lock().map(|pool| pool.iter().any(|k| k == key)).unwrap_or(false)
    }

    fn add(&self, key: String) {
        if let Ok(mut pool) = self.pool.lock() {
            pool.push(key);
        }
    }
}

fn progress_bar(enabled: bool, len: u64, template: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Creates the bucket if missing, prefills, runs the workload.
pub async fn run(cfg: Config) -> Result<Report, String> {
    let cfg = Arc::new(cfg);
    let mut conn = Conn::new(Arc::clone(&cfg.target));
    ops::create_bucket(&mut conn).await?;

    let shared = Arc::new(Shared {
        pool: Mutex::new(Vec::new()),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        remaining: AtomicU64::new(cfg.prefill),
        deadline: None,
    });
    if cfg.existing {
        let keys = ops::list_keys(&mut conn, &cfg.list_prefix).await?;
        if keys.is_empty() {
            return Err(format!("--existing: no object under prefix {:?}", cfg.list_prefix));
        }
        if let Ok(mut pool) = shared.pool.lock() {
            pool.extend(keys);
        }
    }
    if cfg.prefill > 0 {
        prefill(&cfg, &shared).await?;
    }

    let (deadline, remaining) = match cfg.stop {
        Stop::Duration(d) => (Some(Instant::now() + d), 0),
        Stop::Ops(n) => (None, n),
    };
    let pool = std::mem::take(&mut *shared.pool.lock().map_err(|_| "key pool poisoned")?);
    let shared = Arc::new(Shared {
        pool: Mutex::new(pool),
        done: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        remaining: AtomicU64::new(remaining),
        deadline,
    });
    let bar = match cfg.stop {
        Stop::Duration(d) => {
            progress_bar(cfg.progress, d.as_secs().max(1), "{elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}")
        }
        Stop::Ops(n) => progress_bar(cfg.progress, n, "{elapsed_precise} [{bar:40}] {pos}/{len} ops  {msg}"),
    };
    let start = Instant::now();
    let ticker = {
        let (shared, bar, stop) = (Arc::clone(&shared), bar.clone(), cfg.stop);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let done = shared.done.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64();
                bar.set_position(match stop {
                    Stop::Duration(_) => secs as u64,
                    Stop::Ops(_) => done,
                });
                bar.set_message(format!(
                    "{:.0} ops/s, {} errors",
                    done as f64 / secs.max(1e-3),
                    shared.errors.load(Ordering::Relaxed)
                ));
            }
        })
    };
    let mut workers = Vec::with_capacity(cfg.concurrency);
    for w in 0..cfg.concurrency {
        workers.push(tokio::spawn(worker(Arc::clone(&cfg), Arc::clone(&shared), w)));
    }
    let mut stats = Stats::default();
    for handle in workers {
        stats.merge(handle.await.map_err(|e| format!("worker failed: {e}"))?);
    }
    let elapsed = start.elapsed();
    ticker.abort();
    bar.finish_and_clear();
    Ok(stats.report(elapsed, cfg.info.clone()))
}

/// PUTs `cfg.prefill` objects with `prefill_concurrency` workers (not measured).
async fn prefill(cfg: &Arc<Config>, shared: &Arc<Shared>) -> Result<(), String> {
    let bar = progress_bar(cfg.progress, cfg.prefill, "prefill {elapsed_precise} [{bar:40}] {pos}/{len}");
    let mut tasks = Vec::new();
    for w in 0..cfg.prefill_concurrency.max(1) {
        let (cfg, shared, bar) = (Arc::clone(cfg), Arc::clone(shared), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(Arc::clone(&cfg.target));
            let mut rng = StdRng::from_os_rng();
            let workers = cfg.prefill_concurrency.max(1) as u64;
            let mut seq = 0u64;
            let mut first_error = None;
            while shared.take_ticket() {
                let size = cfg.size.sample(&mut rng);
                let key = prefill_key(&cfg.key_prefix, cfg.prefill_dirs, workers, size, w, seq);
                seq += 1;
                match ops::put(&mut conn, &key, size).await {
                    Ok(_) => shared.add(key),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
                bar.inc(1);
            }
            first_error
        }));
    }
    let mut errors = Vec::new();
    for t in tasks {
        if let Some(e) = t.await.map_err(|e| format!("prefill worker failed: {e}"))? {
            errors.push(e);
        }
    }
    bar.finish_and_clear();
    if let Some(e) = errors.first() {
        return Err(format!("prefill failed ({} workers saw errors), first: PUT {e}", errors.len()));
    }
    Ok(())
}

fn choose(workload: &Workload, rng: &mut StdRng) -> Op {
    match workload {
        Workload::Single(op) => *op,
        Workload::Mixed(mix) => {
            let total: u32 = mix.iter().map(|(_, w)| w).sum();
            let mut x = rng.random_range(0..total.max(1));
            for (op, w) in mix {
                if x < *w {
                    return *op;
                }
                x -= w;
            }
            mix.last().map(|(op, _)| *op).unwrap_or(Op::Put)
        }
    }
}

async fn worker(cfg: Arc<Config>, shared: Arc<Shared>, w: usize) -> Stats {
    let mut conn = Conn::new(Arc::clone(&cfg.target));
    let mut rng = StdRng::from_os_rng();
    let mut stats = Stats::default();
    let prefix = format!("{}/run", cfg.key_prefix);
    let mut seq = 0u64;
    let mixed = matches!(cfg.workload, Workload::Mixed(_));
    while shared.take_ticket() {
        let mut op = choose(&cfg.workload, &mut rng);
        let mut key = None;
        if matches!(op, Op::Get | Op::Head | Op::Delete) {
            key = shared.pick(&mut rng, op == Op::Delete);
            if key.is_none() {
                if !mixed {
                    break; // Nothing left to read or delete.
                }
                op = Op::Put;
            }
        }
        let key = match key {
            Some(k) => k,
            None => {
                let size = cfg.size.sample(&mut rng);
                seq += 1;
                object_key(&prefix, size, w, seq)
            }
        };
        let size = super::content::size_from_key(&key).unwrap_or(0);
        let started = Instant::now();
        let result = match op {
            Op::Put => ops::put(&mut conn, &key, size).await,
            Op::MultipartPut => ops::multipart_put(&mut conn, &key, size, cfg.part_size).await,
            Op::Get => {
                let verify = rng.random::<f64>() < cfg.verify_fraction;
                ops::get(&mut conn, &key, verify).await.map(|(n, verified)| {
                    stats.verified += u64::from(verified);
                    n
                })
            }
            Op::Head => ops::head(&mut conn, &key).await,
            Op::Delete => ops::delete(&mut conn, &key).await,
            Op::List => ops::list(&mut conn, &cfg.list_prefix, cfg.list_delimiter.as_deref()).await,
        };
        let latency = started.elapsed();
        match result {
            Ok(bytes) => {
                stats.success(op, latency, bytes);
                if matches!(op, Op::Put | Op::MultipartPut) {
                    shared.add(key);
                }
            }
            // In a mix, a DELETE may remove the key between our pick and the
            // read: not an error if the key has left the pool meanwhile.
            Err(label)
                if mixed && matches!(op, Op::Get | Op::Head) && label.starts_with("404") && !shared.contains(&key) =>
            {
                stats.deleted_during_read += 1;
            }
            Err(label) => {
                stats.error(op, &label);
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    stats
}
