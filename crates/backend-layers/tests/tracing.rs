//! The tracing layer's promise: one `kv` span per call with backend, operation,
//! partition, key length and outcome (never the key); a scan's span stays open until its
//! stream ends and records how many items it yielded.
#![cfg(feature = "tracing")]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use backend_api::{Partition, ScanRange, StorageBackend};
use backend_layers::{Layer, TracingLayer};
use common::{Probe, part, rt};
use futures_util::StreamExt;
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as the test saw it: its fields, and whether it has closed.
#[derive(Clone, Debug, Default)]
struct Seen {
    fields: BTreeMap<String, String>,
    closed: bool,
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

/// Index of each span in `Spans`, kept in the span's extensions.
struct Index(usize);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut seen = Seen::default();
        seen.fields
            .insert("name".into(), attrs.metadata().name().into());
        attrs.record(&mut Fields(&mut seen.fields));
        let mut all = self.0.lock();
        all.push(seen);
        ctx.span(id)
            .unwrap()
            .extensions_mut()
            .insert(Index(all.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let i = span.extensions().get::<Index>().unwrap().0;
        values.record(&mut Fields(&mut self.0.lock()[i].fields));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let i = span.extensions().get::<Index>().unwrap().0;
        self.0.lock()[i].closed = true;
    }
}

fn traced(work: impl AsyncFnOnce(&dyn StorageBackend, Partition, &Spans)) -> Vec<Seen> {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        rt().block_on(async {
            let store = TracingLayer::new().layer(Probe::new().await);
            let p = part("orders");
            store.create_partition(&p).await.unwrap();
            work(&*store, p, &spans).await;
        })
    });
    spans.0.lock().clone()
}

fn field<'a>(span: &'a Seen, name: &str) -> &'a str {
    span.fields.get(name).map_or("", String::as_str)
}

#[test]
fn one_span_per_call_with_its_fields() {
    let spans = traced(async |s, p, _| {
        s.put(&p, b"secret-key", b"v").await.unwrap();
        s.get(&Partition::new("missing").unwrap(), b"k")
            .await
            .unwrap_err();
    });
    let ops: Vec<&str> = spans.iter().map(|s| field(s, "operation")).collect();
    assert_eq!(ops, ["create_partition", "put", "get"]);
    let put = &spans[1];
    assert_eq!(field(put, "name"), "kv");
    assert_eq!(field(put, "backend"), "probe");
    assert_eq!(field(put, "partition"), "orders");
    assert_eq!(field(put, "key_len"), "10");
    assert_eq!(field(put, "outcome"), "ok");
    assert!(put.closed);
    assert_eq!(field(&spans[2], "outcome"), "partition_not_found");
    for span in &spans {
        assert!(
            span.fields.values().all(|v| !v.contains("secret")),
            "key leaked: {span:?}"
        );
    }
}

#[test]
fn a_scan_span_lasts_until_the_stream_ends() {
    let spans = traced(async |s, p, spans| {
        for k in [b"a", b"b", b"c"] {
            s.put(&p, k, b"v").await.unwrap();
        }
        let mut scan = s.scan(&p, ScanRange::all()).await.unwrap();
        let open = |spans: &Spans| {
            spans
                .0
                .lock()
                .iter()
                .any(|s| field(s, "operation") == "scan" && !s.closed)
        };
        assert!(open(spans), "the scan span closed when the call returned");
        let mut n = 0;
        while let Some(item) = scan.next().await {
            item.unwrap();
            n += 1;
        }
        assert_eq!(n, 3);
        drop(scan);
        assert!(!open(spans), "the scan span outlived its stream");
        let mut early = s.scan(&p, ScanRange::all()).await.unwrap();
        early.next().await.unwrap().unwrap();
    });
    let scans: Vec<&Seen> = spans
        .iter()
        .filter(|s| field(s, "operation") == "scan")
        .collect();
    assert_eq!(scans.len(), 2);
    assert_eq!(
        (field(scans[0], "items"), field(scans[0], "outcome")),
        ("3", "ok")
    );
    assert_eq!(
        (field(scans[1], "items"), field(scans[1], "outcome")),
        ("1", "dropped")
    );
    assert!(scans.iter().all(|s| s.closed));
}
