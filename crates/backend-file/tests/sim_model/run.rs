//! Runs a case's steps on a store over a [`SimDisk`] and the model side by side; after
//! every power cut reopens the store, reads everything back and checks it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use backend_api::{CasOutcome, Error, KeyRange, Operation, PutOptions, StorageBackend};
use backend_file::io::sim::{CrashOptions, Rng, SimDisk};
use backend_file::{FileBackend, FileConfig, SyncPolicy};

use super::model::{KEYS, Model, key};
use super::readback::{observe, partition};
use super::stats::Stats;
use super::steps::{BatchOp, Case, Expect, Step, Ttl};

/// How a call ended.
pub enum Outcome<T> {
    /// It answered `Ok`.
    Acked(T),
    /// It failed: a power cut or an injected failure, its effect unknown.
    Unknown,
}

/// A store on a simulated disk, with its model.
pub struct Run {
    /// The disk.
    pub disk: SimDisk,
    /// The store's directory on the disk.
    pub dir: PathBuf,
    policy: SyncPolicy,
    auto_merge: bool,
    /// The open store (none between a cut and the reopen).
    pub store: Option<FileBackend>,
    /// The model.
    pub model: Model,
    rng: Rng,
    /// What was explored.
    pub stats: Stats,
    /// Failures not caused by a power cut are expected (fault tests) rather than bugs.
    pub faults_expected: bool,
    /// Those failures, in order (fault tests).
    pub errors: Vec<Error>,
    /// A write answered `Poisoned` since the store was opened: every later write must.
    pub poisoned: bool,
}

/// `Always` for 0 and 1, `Never` for 2, `EveryMs(2)` for 3.
pub fn policy(n: u8) -> SyncPolicy {
    match n {
        0 | 1 => SyncPolicy::Always,
        2 => SyncPolicy::Never,
        _ => SyncPolicy::EveryMs(2),
    }
}

impl Run {
    /// Opens a new store in `dir` (a path on the simulated disk) on a fresh disk.
    pub async fn start(seed: u64, policy: SyncPolicy, auto_merge: bool, dir: &Path) -> Self {
        let mut run = Run::new(SimDisk::new(seed), seed, policy, auto_merge, dir);
        let store = FileBackend::open(run.config()).await;
        run.store = Some(store.unwrap_or_else(|e| panic!("open on a fresh disk: {e}")));
        run
    }

    /// A run on `disk` with no store open yet.
    pub fn new(disk: SimDisk, seed: u64, policy: SyncPolicy, auto_merge: bool, dir: &Path) -> Self {
        let mut rng = Rng::new(seed ^ 0x5EED);
        disk.set_crash_options(crash_options(&mut rng));
        Run {
            disk,
            dir: dir.to_path_buf(),
            policy,
            auto_merge,
            store: None,
            model: Model::new(format!("{seed:x}")),
            rng,
            stats: Stats::default(),
            faults_expected: false,
            errors: Vec::new(),
            poisoned: false,
        }
    }

    /// The configuration: this disk, tiny files (rotation every few writes), merges
    /// only on `compact` unless automatic merges are on.
    pub fn config(&self) -> FileConfig {
        let cfg = FileConfig::new(&self.dir)
            .with_vfs(self.disk.vfs())
            .sync_policy(self.policy)
            .max_file_size(4096);
        if self.auto_merge {
            cfg.merge_trigger(Some(0.3)).merge_min_bytes(8192)
        } else {
            cfg.merge_trigger(None)
        }
    }

    fn durable_on_ack(&self) -> bool {
        self.policy == SyncPolicy::Always
    }

    fn store(&self) -> &FileBackend {
        self.store.as_ref().expect("a store is open")
    }

    /// Classifies a result: an error is a finding unless a cut or an expected failure
    /// explains it.
    ///
    /// With `faults_expected`, a write (anything but `close`) that succeeds after one
    /// answered `Poisoned` is a finding: a poisoned store refuses writes until reopened.
    pub fn outcome<T>(
        &mut self,
        what: &str,
        r: backend_api::Result<T>,
    ) -> Result<Outcome<T>, String> {
        match r {
            Ok(_) if self.poisoned && what != "close" => Err(format!(
                "{what} succeeded after a write answered Poisoned (before any reopen)"
            )),
            Ok(v) => Ok(Outcome::Acked(v)),
            Err(_) if self.disk.is_off() => {
                self.stats.in_flight += 1;
                Ok(Outcome::Unknown)
            }
            // The partition's own creation failed: not an answer to an I/O failure.
            Err(Error::PartitionNotFound(_)) if self.faults_expected && self.model.uncertain => {
                Ok(Outcome::Unknown)
            }
            Err(e) if self.faults_expected => {
                self.stats.in_flight += 1;
                if matches!(e, Error::Poisoned { .. }) && what != "close" {
                    self.poisoned = true;
                }
                self.errors.push(e);
                Ok(Outcome::Unknown)
            }
            Err(e) => Err(format!("{what}: unexpected error: {e}")),
        }
    }

    /// Runs a whole case: its steps, then a final power cut and check.
    pub async fn case(c: &Case, dir: &Path) -> Result<Stats, String> {
        let mut run = Run::start(c.seed, policy(c.policy), c.auto_merge, dir).await;
        for (i, s) in c.steps.iter().enumerate() {
            if let Err(e) = run.step(s).await {
                return Err(format!(
                    "step {i} ({s:?}), seed {:#x}: {e}{}",
                    c.seed,
                    run.trace()
                ));
            }
        }
        if let Err(e) = run.finish().await {
            return Err(format!("final cut, seed {:#x}: {e}{}", c.seed, run.trace()));
        }
        Ok(run.stats)
    }

    /// The disk calls of the last two power-on periods, for a failure message
    /// (`KV_TRACE=1`; the last 60 calls otherwise).
    pub fn trace(&self) -> String {
        let t = self.disk.trace();
        let keep = if std::env::var("KV_TRACE").is_ok() {
            t.len()
        } else {
            60
        };
        let lines: Vec<String> = t[t.len().saturating_sub(keep)..]
            .iter()
            .map(|c| {
                let name = c.path.file_name().map(|n| n.to_string_lossy().into_owned());
                format!(
                    "  #{} {:?} {}{}",
                    c.index,
                    c.kind,
                    name.unwrap_or_default(),
                    c.fault.map(|f| format!(" -> {f:?}")).unwrap_or_default()
                )
            })
            .collect();
        format!("\nlast disk calls:\n{}", lines.join("\n"))
    }

    /// Cuts the power, reopens and checks, then drops the store.
    pub async fn finish(&mut self) -> Result<(), String> {
        self.disk.cut_now();
        self.crash().await?;
        self.store = None;
        Ok(())
    }

    /// Runs one step (reopening first if the power is off).
    pub async fn step(&mut self, s: &Step) -> Result<(), String> {
        if self.disk.is_off() {
            self.crash().await?;
        }
        self.stats.steps += 1;
        match *s {
            Step::Put { p, k, pad, ttl } => {
                if !self.model.exists(p) {
                    return Ok(());
                }
                let v = self.model.fresh_value(pad);
                let part = partition(p);
                let r = match ttl {
                    Ttl::None => self.store().put(&part, &key(k), &v).await,
                    Ttl::Hour => {
                        let o = PutOptions::with_ttl(Duration::from_secs(3600));
                        self.store().put_with(&part, &key(k), &v, o).await
                    }
                    Ttl::Zero => {
                        let o = PutOptions::with_ttl(Duration::ZERO);
                        self.store().put_with(&part, &key(k), &v, o).await
                    }
                };
                let value = (!matches!(ttl, Ttl::Zero)).then_some(v);
                self.record_write(s, r, |m, durable| m.write(p, k, value, durable))
            }
            Step::Delete { p, k } => {
                if !self.model.exists(p) {
                    return Ok(());
                }
                let r = self.store().delete(&partition(p), &key(k)).await;
                self.record_write(s, r, |m, durable| m.write(p, k, None, durable))
            }
            Step::Batch(ref ops) => self.batch(s, ops).await,
            Step::Cas {
                p,
                k,
                expect,
                delete,
                pad,
            } => self.cas(s, p, k, expect, delete, pad).await,
            Step::Create(p) => {
                let existed = self.model.exists(p);
                let r = self.store().create_partition(&partition(p)).await;
                if existed {
                    return self.outcome("create_partition", r).map(|_| ());
                }
                self.record_write(s, r, |m, durable| m.partition(p, true, durable))
            }
            Step::Drop(p) => {
                if !self.model.exists(p) {
                    return Ok(());
                }
                let r = self.store().drop_partition(&partition(p)).await;
                self.record_write(s, r, |m, durable| m.partition(p, false, durable))
            }
            Step::Flush => {
                let r = self.store().flush().await;
                if let Outcome::Acked(()) = self.outcome("flush", r)? {
                    self.model.all_durable();
                }
                Ok(())
            }
            Step::Compact(p) => {
                if !self.model.exists(p) {
                    return Ok(());
                }
                let r = self.store().compact(&partition(p)).await;
                self.outcome("compact", r).map(|_| ())
            }
            Step::Reopen => self.reopen().await,
            Step::Cut(n) => {
                self.disk.cut_at_call(self.disk.calls() + n);
                Ok(())
            }
        }
    }

    /// Records a write's outcome in the model: durable on ack under `Always`, unknown
    /// (and the model uncertain) on failure.
    fn record_write(
        &mut self,
        s: &Step,
        r: backend_api::Result<()>,
        apply: impl FnOnce(&mut Model, bool),
    ) -> Result<(), String> {
        let ack = self.durable_on_ack();
        match self.outcome(&format!("{s:?}"), r)? {
            Outcome::Acked(()) => apply(&mut self.model, ack),
            Outcome::Unknown => self.model.unknown(|m| apply(m, false)),
        }
        Ok(())
    }

    async fn batch(&mut self, s: &Step, ops: &[BatchOp]) -> Result<(), String> {
        let mut values: std::collections::BTreeMap<(usize, usize), Option<Vec<u8>>> =
            Default::default();
        let mut operations = Vec::new();
        for op in ops {
            let p = match *op {
                BatchOp::Put { p, .. } | BatchOp::Delete { p, .. } | BatchOp::Range { p, .. } => p,
            };
            if !self.model.exists(p) {
                continue;
            }
            let part = partition(p);
            match *op {
                BatchOp::Put { k, pad, .. } => {
                    let v = self.model.fresh_value(pad);
                    operations.push(Operation::put(&part, key(k), v.clone()));
                    values.insert((p, k), Some(v));
                }
                BatchOp::Delete { k, .. } => {
                    operations.push(Operation::delete(&part, key(k)));
                    values.insert((p, k), None);
                }
                BatchOp::Range { from, len, .. } => {
                    let range = KeyRange::between(key(from), key(from + len));
                    operations.push(Operation::delete_range(&part, range));
                    for k in from..(from + len).min(KEYS) {
                        values.insert((p, k), None);
                    }
                }
            }
        }
        if operations.is_empty() {
            return Ok(());
        }
        let r = self.store().batch(operations).await;
        let writes: Vec<_> = values.into_iter().map(|((p, k), v)| (p, k, v)).collect();
        self.record_write(s, r, |m, durable| m.batch(writes, durable))
    }

    async fn cas(
        &mut self,
        s: &Step,
        p: usize,
        k: usize,
        expect: Expect,
        delete: bool,
        pad: usize,
    ) -> Result<(), String> {
        if !self.model.exists(p) {
            return Ok(());
        }
        let current = self.model.current(p, k).map(<[u8]>::to_vec);
        let expected = match expect {
            Expect::Current => current.clone(),
            Expect::Absent => None,
            Expect::Wrong => Some(b"never written".to_vec()),
        };
        let new = (!delete).then(|| self.model.fresh_value(pad));
        let r = self
            .store()
            .compare_and_swap(&partition(p), &key(k), expected.as_deref(), new.as_deref())
            .await;
        let ack = self.durable_on_ack();
        match self.outcome("compare_and_swap", r)? {
            Outcome::Acked(outcome) => {
                let predicted = if current == expected {
                    CasOutcome::Swapped
                } else {
                    CasOutcome::Mismatch {
                        current: current.map(Into::into),
                    }
                };
                if !self.model.uncertain && outcome != predicted {
                    return Err(format!(
                        "{s:?}: got {outcome:?}, the model says {predicted:?}"
                    ));
                }
                if outcome == CasOutcome::Swapped {
                    self.model.write(p, k, new, ack);
                }
            }
            Outcome::Unknown => self.model.unknown(|m| m.write(p, k, new, false)),
        }
        Ok(())
    }

    /// Close, reopen, and check: exactly the model's contents if nothing is uncertain.
    async fn reopen(&mut self) -> Result<(), String> {
        let r = self.store().close().await;
        match self.outcome("close", r)? {
            Outcome::Acked(()) => self.model.all_durable(),
            Outcome::Unknown => {}
        }
        self.store = None;
        if self.disk.is_off() {
            return self.crash().await;
        }
        let mut opened = FileBackend::open(self.config()).await;
        if let Err(e) = opened {
            if self.disk.is_off() {
                return self.crash().await;
            }
            if !self.faults_expected {
                return Err(format!("reopen after a clean close: {e}"));
            }
            // The injected failure struck the open: it fails once, so open again.
            self.errors.push(e);
            opened = FileBackend::open(self.config()).await;
        }
        let store = opened.map_err(|e| format!("reopen: {e}"))?;
        self.poisoned = false;
        let mut seen = observe(&store).await;
        if let Err(e) = &seen {
            if self.disk.is_off() {
                return self.crash().await;
            }
            if !self.faults_expected {
                return Err(format!("reading after a clean reopen: {e}"));
            }
            // The injected failure struck a read: it fails once, so read again.
            self.errors
                .push(Error::io(&self.dir, std::io::Error::other(e.clone())));
            seen = observe(&store).await;
        }
        let seen = seen.map_err(|e| format!("reading after a reopen: {e}"))?;
        if !self.model.uncertain && seen != self.model.expected() {
            return Err(format!(
                "after a clean close and reopen the store holds {seen:?}, the model {:?}",
                self.model.expected()
            ));
        }
        self.model.check(&seen)?;
        // After a failure what reads back may still not be durable: keep the history.
        if !self.model.uncertain {
            self.model.reset(&seen);
        }
        self.stats.clean_reopens += 1;
        self.store = Some(store);
        Ok(())
    }

    /// After a power cut: power back on (new random crash options; sometimes another
    /// cut armed inside recovery), reopen, read everything, check against the model,
    /// start the model again from what is there.
    pub async fn crash(&mut self) -> Result<(), String> {
        self.store = None;
        loop {
            self.disk.restart();
            self.disk.set_crash_options(crash_options(&mut self.rng));
            if self.rng.below(4) == 0 {
                let at = self.disk.calls() + self.rng.below(30);
                self.disk.cut_at_call(at);
            }
            let store = match FileBackend::open(self.config()).await {
                Ok(s) => s,
                Err(_) if self.disk.is_off() => {
                    self.stats.cuts_in_recovery += 1;
                    continue;
                }
                Err(e) => return Err(format!("open after a power cut: {e}")),
            };
            let seen = match observe(&store).await {
                Ok(seen) => seen,
                Err(_) if self.disk.is_off() => {
                    self.stats.cuts_in_recovery += 1;
                    continue;
                }
                Err(e) => return Err(format!("reading after a power cut: {e}")),
            };
            self.model.check(&seen)?;
            self.model.reset(&seen);
            let r = store.recovery_report();
            self.stats.torn_tails += r.truncated.len() as u64;
            self.stats.merges_finished += u64::from(r.merge_finished);
            self.stats.hints_rejected += r.hints_rejected.len() as u64;
            self.stats.crash_points += 1;
            self.store = Some(store);
            return Ok(());
        }
    }
}

/// Random crash options, reordering across files (a newer file's unsynced writes
/// surviving an older file's lost ones) included; `KV_REORDER=0` turns reordering off
/// (one global prefix of the unsynced writes survives).
pub fn crash_options(rng: &mut Rng) -> CrashOptions {
    let mut o = CrashOptions::random(rng);
    o.reorder &= std::env::var("KV_REORDER").map_or(true, |v| v != "0");
    o
}
