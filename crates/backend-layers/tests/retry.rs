//! The retry layer's promise: a transient error (Unavailable, Timeout) of an idempotent
//! call is retried until it succeeds or attempts run out; a non-transient error is
//! answered at once; CAS, conditional batches and drops are never retried.

mod common;

use std::time::Duration;

use backend_api::{Check, Error, Operation};
use backend_layers::{Layer, RetryLayer, TimeoutLayer};
use common::{Fail, Probe, part, rt};

fn retry() -> RetryLayer {
    RetryLayer::new()
        .max_attempts(4)
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
}

#[test]
fn transient_errors_of_idempotent_calls_are_retried() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = retry().layer(probe.clone());
        let p = part("r");
        store.create_partition(&p).await.unwrap();
        for fail in [Fail::Unavailable, Fail::Timeout] {
            probe.take_calls();
            probe.fail_next(3, fail);
            store
                .put(&p, b"k", b"v")
                .await
                .expect("the 4th attempt succeeds");
            assert_eq!(probe.count("put"), 4);
        }
        probe.take_calls();
        probe.fail_next(4, Fail::Unavailable);
        assert!(matches!(
            store.get(&p, b"k").await,
            Err(Error::Unavailable { .. })
        ));
        assert_eq!(probe.count("get"), 4, "gave up after max_attempts");
        probe.take_calls();
        probe.fail_next(1, Fail::Unavailable);
        store
            .batch(vec![Operation::put(&p, "b", "1")])
            .await
            .unwrap();
        assert_eq!(probe.count("batch"), 2);
    });
}

#[test]
fn non_transient_errors_are_not_retried() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = retry().layer(probe.clone());
        let p = part("r");
        store.create_partition(&p).await.unwrap();
        probe.take_calls();
        probe.fail_next(1, Fail::Backend);
        assert!(matches!(
            store.get(&p, b"k").await,
            Err(Error::Backend { .. })
        ));
        assert_eq!(probe.count("get"), 1);
        assert!(matches!(
            store.get(&p, b"").await,
            Err(Error::InvalidKey { .. })
        ));
        assert_eq!(probe.count("get"), 2);
    });
}

#[test]
fn conditional_writes_are_never_retried_blindly() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store = retry().layer(probe.clone());
        let p = part("r");
        store.create_partition(&p).await.unwrap();
        probe.take_calls();
        probe.fail_next(1, Fail::Timeout);
        let cas = store.compare_and_swap(&p, b"k", None, Some(b"v")).await;
        assert!(
            matches!(cas, Err(Error::Timeout { .. })),
            "the caller gets the Timeout: {cas:?}"
        );
        probe.fail_next(1, Fail::Unavailable);
        let cb = store
            .conditional_batch(
                vec![Check::absent(&p, "k")],
                vec![Operation::put(&p, "k", "v")],
            )
            .await;
        assert!(matches!(cb, Err(Error::Unavailable { .. })), "{cb:?}");
        probe.fail_next(1, Fail::Unavailable);
        assert!(store.drop_partition(&p).await.is_err());
        assert_eq!(
            probe.take_calls(),
            ["compare_and_swap", "conditional_batch", "drop_partition"],
            "each was tried exactly once"
        );
    });
}

#[test]
fn a_hung_attempt_ends_by_the_inner_timeout_and_is_retried() {
    rt().block_on(async {
        let probe = Probe::new().await;
        let store =
            retry().layer(TimeoutLayer::new(Duration::from_millis(40)).layer(probe.clone()));
        let p = part("r");
        store.create_partition(&p).await.unwrap();
        probe.take_calls();
        probe.hang_next(2);
        assert_eq!(store.get(&p, b"k").await.unwrap(), None);
        assert_eq!(probe.count("get"), 3);
    });
}
