//! A small workload through the default layer stack over backend-mem, exporting its
//! traces (one line per closed span, to stderr) and its metrics (Prometheus text format,
//! to stdout, as a scrape endpoint would serve them).
//!
//! ```sh
//! cargo run -p backend-layers --example observe
//! ```

use std::sync::Arc;

use backend_api::{Operation, Partition, ScanRange, StorageBackend};
use backend_layers::{LayerStack, NamespaceLayer};
use backend_mem::{MemBackend, MemConfig};
use futures_util::StreamExt;
use metrics_exporter_prometheus::PrometheusBuilder;
use tracing_subscriber::fmt::format::FmtSpan;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Exporters first: the metrics layer registers its handles with the recorder in
    // force at the first call.
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();

    let bare: Arc<dyn StorageBackend> = Arc::new(MemBackend::open(MemConfig::default()).await?);
    let store = LayerStack::recommended()
        .namespace(NamespaceLayer::new("demo")?)
        .wrap(bare);

    let orders = Partition::new("orders")?;
    store.create_partition(&orders).await?;
    for i in 0..20u32 {
        store
            .put(&orders, format!("order:{i:03}").as_bytes(), b"pending")
            .await?;
    }
    for i in 0..50u32 {
        store
            .get(&orders, format!("order:{:03}", i % 25).as_bytes())
            .await?;
    }
    store
        .batch(vec![
            Operation::put(&orders, "order:000", "shipped"),
            Operation::delete(&orders, "order:001"),
        ])
        .await?;
    let mut scan = store.scan(&orders, ScanRange::prefix("order:00")).await?;
    while let Some(item) = scan.next().await {
        item?;
    }
    drop(scan);
    let missing = Partition::new("nowhere")?;
    let _ = store.get(&missing, b"k").await; // counted as a partition_not_found error
    let status = store.status().await?;
    eprintln!(
        "cache: {} hits, {} misses",
        status["cache.hits"], status["cache.misses"]
    );
    store.close().await?;

    println!("{}", prometheus.render());
    Ok(())
}
