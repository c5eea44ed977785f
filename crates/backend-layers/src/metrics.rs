//! Metrics through the `metrics` facade (Prometheus, StatsD, OpenTelemetry exporters).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use backend_api::{Result, StorageBackend, Stream, WatchEvent, WatchStream};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder, Unit};

use crate::around::{Around, Layered, Run};
use crate::layer::Layer;
use crate::op::{BoxFut, Call, Op, Reply, ScanItem, ScanStream, error_kind};

/// Calls completed (successful or not). Labels: `backend`, `operation` (+ `partition`).
pub const OPERATIONS: &str = "kv_operations_total";
/// Calls that answered an error. Labels: `backend`, `operation`, `kind` (+ `partition`).
pub const ERRORS: &str = "kv_operation_errors_total";
/// Call latency in seconds, a histogram. Labels: `backend`, `operation` (+ `partition`).
pub const DURATION: &str = "kv_operation_duration_seconds";
/// Value bytes handed back by successful reads (scans: keys and values). Labels:
/// `backend`, `operation` (+ `partition`).
pub const READ_BYTES: &str = "kv_read_bytes_total";
/// Key and value bytes of successful writes. Labels: `backend`, `operation` (+
/// `partition`).
pub const WRITTEN_BYTES: &str = "kv_written_bytes_total";
/// Items yielded by scan streams (`scan` and `scan_entries`). Labels: `backend` (+
/// `partition`).
pub const SCAN_ITEMS: &str = "kv_scan_items_total";
/// Events yielded by watch streams. Labels: `backend` (+ `partition`).
pub const WATCH_EVENTS: &str = "kv_watch_events_total";
/// Events a watcher missed because it fell behind (the sum of `Lagged(n)`): the watch
/// lag. Labels: `backend` (+ `partition`).
pub const WATCH_LAGGED: &str = "kv_watch_lagged_events_total";

/// Records every call through the [`metrics`] facade, into whatever recorder the
/// application installed. With none installed (the facade's zero-sized no-op recorder
/// in force) the layer hands back the inner call untouched, at a cost of a few ns; a
/// zero-sized recorder of your own is taken for that no-op too.
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `kv_operations_total` | counter | backend, operation |
/// | `kv_operation_errors_total` | counter | backend, operation, kind |
/// | `kv_operation_duration_seconds` | histogram | backend, operation |
/// | `kv_read_bytes_total`, `kv_written_bytes_total` | counter | backend, operation |
/// | `kv_scan_items_total`, `kv_watch_events_total`, `kv_watch_lagged_events_total` | counter | backend |
///
/// `backend` is the wrapped backend's name, `operation` the method
/// ([`Op::name`]), `kind` the error's kind ([`error_kind`](crate::error_kind)). With
/// [`partition_label`](MetricsLayer::partition_label) every metric also gets a
/// `partition` label (bounded by the number of partitions; costs a label allocation per
/// call). Keys are never labels: they are unbounded.
///
/// Handles are registered once per operation with the recorder in force at the first
/// call and reused while that recorder stays in force (install the recorder before the
/// first call for the fast path; calls under another recorder, e.g. a test's local one,
/// still record, through a slower lookup). A scan's items and bytes are recorded as the
/// stream is read; its latency is that of the call that opened it. Applied twice, calls
/// are counted twice.
#[derive(Clone, Debug, Default)]
pub struct MetricsLayer {
    partition_labels: bool,
}

impl MetricsLayer {
    /// Metrics labelled by backend and operation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also label every metric with the partition name.
    pub fn partition_label(mut self) -> Self {
        self.partition_labels = true;
        self
    }
}

impl Layer for MetricsLayer {
    fn layer(&self, inner: Arc<dyn StorageBackend>) -> Arc<dyn StorageBackend> {
        describe();
        let meter = Meter {
            clock: quanta::Clock::new(),
            backend: inner.name(),
            partition_labels: self.partition_labels,
            slots: std::array::from_fn(|_| OnceLock::new()),
        };
        Arc::new(Layered::new(inner, Arc::new(meter)))
    }
}

fn describe() {
    metrics::describe_counter!(OPERATIONS, "Storage calls completed");
    metrics::describe_counter!(ERRORS, "Storage calls that answered an error, by kind");
    metrics::describe_histogram!(DURATION, Unit::Seconds, "Storage call latency");
    metrics::describe_counter!(READ_BYTES, Unit::Bytes, "Bytes read from storage");
    metrics::describe_counter!(WRITTEN_BYTES, Unit::Bytes, "Bytes written to storage");
    metrics::describe_counter!(SCAN_ITEMS, "Items yielded by scans and entry scans");
    metrics::describe_counter!(WATCH_EVENTS, "Events yielded by watches");
    metrics::describe_counter!(WATCH_LAGGED, "Events missed by lagging watchers");
}

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The registered handles of one operation.
struct Handles {
    ops: Counter,
    duration: Histogram,
    read: Counter,
    written: Counter,
}

impl Handles {
    fn register(recorder: &dyn Recorder, labels: &[Label]) -> Self {
        let key = |name: &'static str| Key::from_parts(name, labels.to_vec());
        Handles {
            ops: recorder.register_counter(&key(OPERATIONS), &METADATA),
            duration: recorder.register_histogram(&key(DURATION), &METADATA),
            read: recorder.register_counter(&key(READ_BYTES), &METADATA),
            written: recorder.register_counter(&key(WRITTEN_BYTES), &METADATA),
        }
    }
}

/// Handles registered with one recorder, identified by its address.
struct Cached {
    recorder: usize,
    handles: Handles,
}

fn recorder_id(recorder: &dyn Recorder) -> usize {
    std::ptr::from_ref(recorder).cast::<()>() as usize
}

/// The per-backend state: its name and the handles of each operation.
struct Meter {
    /// TSC-based where the CPU allows: a few ns per reading instead of a system call.
    clock: quanta::Clock,
    backend: &'static str,
    partition_labels: bool,
    slots: [OnceLock<Cached>; Op::COUNT],
}

impl Meter {
    fn labels(&self, op: Option<Op>, call: &Call<'_>) -> Vec<Label> {
        let mut labels = vec![Label::from_static_parts("backend", self.backend)];
        if let Some(op) = op {
            labels.push(Label::from_static_parts("operation", op.name()));
        }
        if self.partition_labels
            && let Some(p) = call.partition
        {
            labels.push(Label::new("partition", p.name().to_owned()));
        }
        labels
    }

    /// Runs `f` with the handles of `call`'s operation under the recorder in force.
    fn with_handles<R>(&self, call: &Call<'_>, f: impl FnOnce(&Handles) -> R) -> R {
        metrics::with_recorder(|recorder| {
            if self.partition_labels && call.partition.is_some() {
                return f(&Handles::register(
                    recorder,
                    &self.labels(Some(call.op), call),
                ));
            }
            let id = recorder_id(recorder);
            let slot = &self.slots[call.op.index()];
            let cached = slot.get_or_init(|| Cached {
                recorder: id,
                handles: Handles::register(recorder, &self.labels(Some(call.op), call)),
            });
            if cached.recorder == id {
                f(&cached.handles)
            } else {
                f(&Handles::register(
                    recorder,
                    &self.labels(Some(call.op), call),
                ))
            }
        })
    }

    fn record<T: Reply>(&self, call: &Call<'_>, started: u64, result: &Result<T>) {
        let elapsed = self.clock.delta_as_nanos(started, self.clock.raw()) as f64 * 1e-9;
        self.with_handles(call, |h| {
            h.ops.increment(1);
            h.duration.record(elapsed);
            if let Ok(reply) = result {
                let read = reply.bytes_read();
                if read > 0 {
                    h.read.increment(read);
                }
                if call.bytes_written > 0 {
                    h.written.increment(call.bytes_written);
                }
            }
        });
        if let Err(error) = result {
            let mut labels = self.labels(Some(call.op), call);
            labels.push(Label::from_static_parts("kind", error_kind(error)));
            metrics::with_recorder(|r| {
                r.register_counter(&Key::from_parts(ERRORS, labels), &METADATA)
                    .increment(1)
            });
        }
    }

    async fn measure<'a, T: Reply, R: Run<'a, T>>(&self, call: Call<'a>, run: R) -> Result<T> {
        let started = self.clock.raw();
        let result = run.run().await;
        self.record(&call, started, &result);
        result
    }

    /// A counter for a stream's metric, labelled like the stream's call minus the
    /// operation.
    fn stream_counter(&self, name: &'static str, call: &Call<'_>) -> Counter {
        let key = Key::from_parts(name, self.labels(None, call));
        metrics::with_recorder(|r| r.register_counter(&key, &METADATA))
    }
}

/// False when the recorder in force is zero-sized: the facade's no-op recorder when
/// none is installed (a recorder that stores anything has a size).
fn recording() -> bool {
    metrics::with_recorder(|recorder| std::mem::size_of_val(recorder) != 0)
}

impl Around for Meter {
    fn call<'a, T: Reply, R: Run<'a, T>>(&'a self, call: Call<'a>, run: R) -> BoxFut<'a, T> {
        if !recording() {
            return run.run();
        }
        Box::pin(self.measure(call, run))
    }

    fn scan<'a, I: ScanItem, R: Run<'a, ScanStream<I>>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, ScanStream<I>> {
        if !recording() {
            return run.run();
        }
        Box::pin(async move {
            let stream = self.measure(call, run).await?;
            let read = self.with_handles(&call, |h| h.read.clone());
            Ok(Box::pin(CountedScan {
                inner: stream,
                items: self.stream_counter(SCAN_ITEMS, &call),
                read,
            }) as ScanStream<I>)
        })
    }

    fn watch<'a, R: Run<'a, WatchStream>>(
        &'a self,
        call: Call<'a>,
        run: R,
    ) -> BoxFut<'a, WatchStream> {
        if !recording() {
            return run.run();
        }
        Box::pin(async move {
            let stream = self.measure(call, run).await?;
            Ok(Box::pin(CountedWatch {
                inner: stream,
                events: self.stream_counter(WATCH_EVENTS, &call),
                lagged: self.stream_counter(WATCH_LAGGED, &call),
            }) as WatchStream)
        })
    }
}

/// Counts a scan's items and their key and value bytes as they are read.
struct CountedScan<I> {
    inner: ScanStream<I>,
    items: Counter,
    read: Counter,
}

impl<I: ScanItem> Stream for CountedScan<I> {
    type Item = Result<I>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(item))) = &poll {
            self.items.increment(1);
            self.read.increment(item.bytes());
        }
        poll
    }
}

/// Counts a watch's events and what it missed.
struct CountedWatch {
    inner: WatchStream,
    events: Counter,
    lagged: Counter,
}

impl Stream for CountedWatch {
    type Item = <WatchStream as Stream>::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.inner.as_mut().poll_next(cx);
        match &poll {
            Poll::Ready(Some(Ok(WatchEvent::Lagged(n)))) => self.lagged.increment(*n),
            Poll::Ready(Some(Ok(_))) => self.events.increment(1),
            _ => {}
        }
        poll
    }
}
