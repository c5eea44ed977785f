//! Grove-style: a grow-only counter incremented concurrently by several tasks, through
//! one or more handles, ends exactly at the sum.
//!
//! ```sh
//! cargo run -p seeds --example gcounter                      # mem://, one handle
//! cargo run -p seeds --example gcounter -- redis://127.0.0.1:6379/0 redis://127.0.0.1:6379/0
//! ```
//!
//! Each argument is a backend URL opened as one handle (default `mem://`); pass the
//! same server URL twice for two handles on one store. Eight tasks, spread over the
//! handles, each increment their own replica 100 times, saving through
//! `GroupStore::merge`: a compare-and-swap loop around the counter's join, so no
//! increment is lost whichever handle or task writes.

use std::sync::Arc;

use backend_api::{Error, Result, StorageBackend};
use seeds::crdt::{GCounter, GroupStore};

const TASKS: u64 = 8;
const INCREMENTS: u64 = 100;

#[tokio::main]
async fn main() {
    let mut urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        urls.push("mem://".into());
    }
    if let Err(e) = run(&urls).await {
        eprintln!("gcounter: {e}");
        std::process::exit(1);
    }
}

async fn run(urls: &[String]) -> Result<()> {
    let group = format!("counter/views/{}", std::process::id());
    let mut stores = Vec::new();
    for url in urls {
        let backend: Arc<dyn StorageBackend> =
            backend_url::open(url)
                .await
                .map_err(|e| Error::InvalidConfig {
                    detail: e.to_string(),
                    source: Some(Box::new(e)),
                })?;
        stores.push(Arc::new(
            GroupStore::<GCounter>::open(backend, "grove").await?,
        ));
    }
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = stores[t as usize % stores.len()].clone();
            let group = group.clone();
            tokio::spawn(async move {
                let mut local = GCounter::default();
                for _ in 0..INCREMENTS {
                    local.increment(&format!("task{t}"), 1);
                    store.merge(&group, &local, GCounter::join).await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| Error::InvalidConfig {
            detail: format!("a task failed: {e}"),
            source: Some(Box::new(e)),
        })??;
    }
    let total = stores[0].load(&group).await?.map_or(0, |c| c.value());
    println!(
        "{TASKS} tasks x {INCREMENTS} increments over {} handle(s): counter = {total}",
        stores.len()
    );
    assert_eq!(total, TASKS * INCREMENTS, "no increment lost");
    for store in &stores {
        store.delete(&group).await?;
        store.close().await?;
    }
    Ok(())
}
