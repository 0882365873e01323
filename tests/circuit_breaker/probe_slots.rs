//! Half-open probe slots: at most `half_open_calls` probes at once, and a slot comes back
//! when its probe is ignored, dropped or hangs past the maximum wait.

use std::time::Duration;

use seawall::circuit_breaker::{CircuitBreakerLayer, State};
use seawall::{AsRejected, Outcome, Reason};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt};

use crate::common::*;
use crate::tripped;

#[tokio::test(start_paused = true)]
async fn an_ignored_probe_gives_its_slot_back() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .open_duration(secs(10))
        .half_open_calls(1)
        .classifier(|r: &Result<(), Err>| match r {
            Err(seawall::Error::Service(_)) => Outcome::Failure,
            Err(_) => Outcome::Ignored,
            Ok(()) => Outcome::Success,
        })
        .build()
        .unwrap();
    let mut plain = layer.layer(backend());
    let _ = call(&mut plain, FAIL).await;
    advance(secs(10)).await;
    // A probe whose result is ignored (here a rejection from a layer further in) frees
    // its slot without deciding anything.
    let mut refusing = layer.layer(tower::service_fn(|_: Req| async {
        Err::<(), Err>(seawall::Error::Rejected(seawall::Rejected::new(
            Reason::RateLimited,
            None,
        )))
    }));
    assert!(call(&mut refusing, OK).await.is_err());
    assert_eq!(layer.handle().state(), State::HalfOpen);
    call(&mut plain, OK)
        .await
        .expect("the freed slot admits a new probe");
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_at_most_the_probe_limit_at_once() {
    let (layer, svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(3),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            call(&mut svc, slow(1000, false)).await
        }));
    }
    tokio::task::yield_now().await;
    let mut admitted = 0;
    let mut saturated = 0;
    for task in tasks {
        match rejected(&task.await.unwrap()) {
            None => admitted += 1,
            Some(r) => {
                assert_eq!(r.reason(), Reason::HalfOpenSaturated);
                saturated += 1;
            }
        }
    }
    assert_eq!((admitted, saturated), (3, 17));
    assert_eq!(layer.handle().state(), State::Closed);
}

#[test]
fn half_open_admits_at_most_the_probe_limit_under_parallel_callers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let layer = CircuitBreakerLayer::builder()
            .confidence(None)
            .count_window(1)
            .open_duration(Duration::from_millis(1))
            .half_open_calls(5)
            .build()
            .unwrap();
        let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max_seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inner = {
            let (gate, in_flight, max_seen) = (gate.clone(), in_flight.clone(), max_seen.clone());
            tower::service_fn(move |fail: bool| {
                let (gate, in_flight, max_seen) =
                    (gate.clone(), in_flight.clone(), max_seen.clone());
                async move {
                    if fail {
                        return Err::<(), Err>(seawall::Error::Service(Boom));
                    }
                    let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    let _permit = gate.acquire().await.unwrap();
                    in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                }
            })
        };
        let mut svc = layer.layer(inner);
        let _ = svc.ready().await.unwrap().call(true).await;
        // Real time runs here (paused time needs a single thread). Each caller calls until
        // the open period has ended (the breaker's timer fires about 1 ms from now), then
        // is admitted as a probe or refused as one too many.
        let decided = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let mut svc = svc.clone();
            let decided = decided.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let mut future = Box::pin(svc.ready().await.unwrap().call(false));
                    let first =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx)))
                            .await;
                    let result = match first {
                        std::task::Poll::Ready(Err(e))
                            if e.as_rejected().map(|r| r.reason()) == Some(Reason::CircuitOpen) =>
                        {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        std::task::Poll::Ready(result) => {
                            decided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            result
                        }
                        std::task::Poll::Pending => {
                            decided.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            future.await
                        }
                    };
                    return result;
                }
            }));
        }
        // Every caller has been admitted or refused before any probe may finish.
        while decided.load(std::sync::atomic::Ordering::SeqCst) < 64
            || in_flight.load(std::sync::atomic::Ordering::SeqCst) < 5
        {
            tokio::task::yield_now().await;
        }
        gate.add_permits(64);
        let mut refused = 0;
        for task in tasks {
            refused += usize::from(task.await.unwrap().is_err());
        }
        assert_eq!(max_seen.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert_eq!(refused, 59);
    });
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_slot_back() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1),
    )
    .await;
    let hung = svc.ready().await.unwrap().call(slow(60_000, false));
    let result = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::HalfOpenSaturated)
    );
    drop(hung);
    call(&mut svc, OK)
        .await
        .expect("the freed slot admits a new probe");
    assert_eq!(layer.handle().state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn hung_probes_reopen_the_breaker_after_the_maximum_wait() {
    let (layer, mut svc) = tripped(
        CircuitBreakerLayer::builder()
            .confidence(None)
            .half_open_calls(1)
            .max_wait_in_half_open(secs(5)),
    )
    .await;
    let hung = tokio::spawn({
        let mut svc = svc.clone();
        async move { call(&mut svc, slow(3_600_000, false)).await }
    });
    tokio::task::yield_now().await;
    advance(secs(5)).await;
    let result = call(&mut svc, OK).await;
    assert_eq!(
        rejected(&result).map(|r| r.reason()),
        Some(Reason::CircuitOpen)
    );
    assert_eq!(layer.handle().state(), State::Open);
    hung.abort();
}

/// Against a dependency that never answers and no attempt timeout, probes of earlier
/// half-open periods keep their slots: across a minute of periods, never more than
/// `half_open_calls` probes are out at once.
#[tokio::test(start_paused = true)]
async fn hung_probes_keep_their_slots_across_half_open_periods() {
    let layer = CircuitBreakerLayer::builder()
        .confidence(None)
        .count_window(1)
        .half_open_calls(5)
        .open_duration(secs(1))
        .max_wait_in_half_open(secs(5))
        .build()
        .unwrap();
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hangs = {
        let reached = reached.clone();
        tower::service_fn(move |req: Req| {
            let first = reached.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if first && req.fail {
                    return Err(seawall::Error::Service(Boom));
                }
                std::future::pending::<Result<(), Err>>().await
            }
        })
    };
    let svc = layer.layer(hangs);
    call(&mut svc.clone(), FAIL).await.unwrap_err();
    let mut callers = Vec::new();
    for _ in 0..600 {
        let mut svc = svc.clone();
        callers.push(tokio::spawn(async move { call(&mut svc, OK).await }));
        advance(Duration::from_millis(100)).await;
    }
    let reached_now = reached.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        reached_now,
        1 + 5,
        "the failure that tripped it and 5 probes"
    );
    // Dropping the hung probes frees their slots for the next period.
    for caller in callers {
        caller.abort();
    }
    tokio::task::yield_now().await;
    advance(secs(60)).await;
    let mut svc = svc.clone();
    let probe = tokio::spawn(async move { call(&mut svc, OK).await });
    tokio::task::yield_now().await;
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 1 + 5 + 1);
    probe.abort();
}
