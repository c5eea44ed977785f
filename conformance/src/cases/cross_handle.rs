//! Two handles on one store (`cross_process_watch`).

use super::util::{b, next_event, put_ev};
use crate::{Ctx, Harness, Outcome, require};

/// Contract row "watch" with `cross_process_watch`, and "put" (acknowledged writes are
/// visible): a second handle on the same store sees partitions and writes made through
/// the first, and the other way round.
pub async fn second_handle_sees_writes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(cx.caps.cross_process_watch, "cross_process_watch is false");
    let p = cx.partition("shared").await;
    let other = cx
        .second_handle()
        .await
        .expect("a second handle on the same store");
    assert!(
        other.partition_exists(&p).await.unwrap(),
        "the second handle does not see the partition"
    );
    cx.backend.put(&p, b"from1", b"1").await.unwrap();
    assert_eq!(other.get(&p, b"from1").await.unwrap(), Some(b("1")));
    other.put(&p, b"from2", b"2").await.unwrap();
    assert_eq!(cx.backend.get(&p, b"from2").await.unwrap(), Some(b("2")));
    other.delete(&p, b"from1").await.unwrap();
    assert_eq!(cx.backend.get(&p, b"from1").await.unwrap(), None);
    other.close().await.unwrap();
    assert_eq!(
        cx.backend.get(&p, b"from2").await.unwrap(),
        Some(b("2")),
        "closing one handle closed the other"
    );
    Ok(())
}

/// Contract row "watch" with `cross_process_watch`: a watch on one handle reports writes
/// made through another handle on the same store.
pub async fn second_handle_watch_sees_writes<H: Harness>(h: H) -> Outcome {
    let cx = Ctx::new(h).await;
    require!(cx.caps.cross_process_watch, "cross_process_watch is false");
    let p = cx.partition("shared_watch").await;
    let other = cx
        .second_handle()
        .await
        .expect("a second handle on the same store");
    let mut w = other.watch(&p, b"k").await.unwrap();
    cx.backend.put(&p, b"skip", b"0").await.unwrap();
    cx.backend.put(&p, b"k1", b"1").await.unwrap();
    assert_eq!(next_event(&mut w).await, put_ev("k1", "1"));
    let mut w1 = cx.backend.watch(&p, b"k").await.unwrap();
    other.put(&p, b"k2", b"2").await.unwrap();
    assert_eq!(next_event(&mut w1).await, put_ev("k2", "2"));
    assert_eq!(next_event(&mut w).await, put_ev("k2", "2"));
    Ok(())
}
