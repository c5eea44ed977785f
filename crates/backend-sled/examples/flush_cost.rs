//! What a durable `flush()` costs: raw sled (`insert` + `Db::flush`, which ends in
//! `sync_file_range` on Linux) against `SledBackend` (`put` + `flush()`, which adds an
//! fsync of sled's files and directories). One 100-byte write per flush, as the
//! benches' durable workload does.
//!
//! ```sh
//! cargo run --release -p backend-sled --example flush_cost -- [rounds] [dir]
//! ```

use std::time::{Duration, Instant};

use backend_api::{Partition, StorageBackend};
use backend_sled::{SledBackend, SledConfig};

#[tokio::main]
async fn main() -> backend_api::Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(500);
    let base = args
        .next()
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let value = [7u8; 100];
    for pass in 0..2 {
        let raw_dir = base.join(format!("flush-cost-raw-{pass}"));
        let ours_dir = base.join(format!("flush-cost-ours-{pass}"));
        let _ = std::fs::remove_dir_all(&raw_dir);
        let _ = std::fs::remove_dir_all(&ours_dir);

        let db = sled::Config::new()
            .path(&raw_dir)
            .flush_every_ms(None)
            .open()
            .expect("open raw sled");
        let started = Instant::now();
        for i in 0..rounds {
            db.insert(i.to_be_bytes(), &value[..]).expect("insert");
            db.flush().expect("flush");
        }
        let raw = started.elapsed();
        drop(db);

        let store = SledBackend::open(SledConfig::new(&ours_dir).flush_every_ms(None)).await?;
        let p = Partition::new("p")?;
        store.create_partition(&p).await?;
        let started = Instant::now();
        for i in 0..rounds {
            store.put(&p, &i.to_be_bytes(), &value).await?;
            store.flush().await?;
        }
        let ours = started.elapsed();
        store.close().await?;

        let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(rounds);
        println!(
            "pass {pass}: {rounds} rounds: raw sled insert+flush {:.0} us, SledBackend put+flush {:.0} us ({:.1}x)",
            per(raw),
            per(ours),
            per(ours) / per(raw)
        );
        let _ = std::fs::remove_dir_all(&raw_dir);
        let _ = std::fs::remove_dir_all(&ours_dir);
    }
    Ok(())
}
