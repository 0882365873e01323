//! Fallback: chosen by the error, bounded in time and in places, every use counted,
//! every dropped call giving its place back. Paused time.

use std::time::Duration;

use seawall::bulkhead::BulkheadLayer;
use seawall::circuit_breaker::CircuitBreakerLayer;
use seawall::fallback::{FallbackLayer, Reasons, Refusals};
use seawall::{Error, Reason};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

type E = Error<&'static str>;

fn failing()
-> impl tower::Service<(), Response = &'static str, Error = &'static str, Future: Send> + Clone {
    service_fn(|_: ()| async { Err::<&'static str, _>("503") })
}

#[tokio::test(start_paused = true)]
async fn refusals_are_answered_and_the_dependencys_own_errors_are_not() {
    let fallback = FallbackLayer::builder(Refusals, |_: &E| async { Ok::<_, E>("cached") })
        .build()
        .unwrap();
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let client = ServiceBuilder::new()
        .layer(fallback.clone())
        .layer(breaker.clone())
        .map_err(Error::Service)
        .service(failing());
    assert!(
        matches!(client.clone().oneshot(()).await, Err(Error::Service("503"))),
        "not a refusal"
    );
    breaker.handle().force_open();
    assert_eq!(client.oneshot(()).await.ok(), Some("cached"));
    assert_eq!(fallback.handle().used().answered, 1);
}

#[tokio::test(start_paused = true)]
async fn only_the_chosen_reasons_are_answered() {
    let fallback = FallbackLayer::builder(
        Reasons(|r: Reason| matches!(r, Reason::BulkheadFull { .. })),
        |_: &E| async { Ok::<_, E>("later") },
    )
    .build()
    .unwrap();
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    breaker.handle().force_open();
    let client = ServiceBuilder::new()
        .layer(fallback)
        .layer(breaker)
        .map_err(Error::Service)
        .service(failing());
    let refused = client.oneshot(()).await.unwrap_err();
    assert!(matches!(refused, Error::Rejected(r) if r.reason() == Reason::CircuitForcedOpen));

    // A full bulkhead (one place, no queue) is answered.
    let fallback = FallbackLayer::builder(
        Reasons(|r: Reason| matches!(r, Reason::BulkheadFull { .. })),
        |_: &E| async { Ok::<_, E>("later") },
    )
    .build()
    .unwrap();
    let bulkhead = BulkheadLayer::builder()
        .max_concurrent(1)
        .max_queued(0)
        .build()
        .unwrap();
    let slow = service_fn(|_: ()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, &'static str>("slow answer")
    });
    let client = ServiceBuilder::new()
        .layer(fallback)
        .layer(bulkhead)
        .map_err(Error::Service)
        .service(slow);
    let first = tokio::spawn(client.clone().oneshot(()));
    tokio::task::yield_now().await;
    assert_eq!(client.oneshot(()).await.ok(), Some("later"));
    assert_eq!(first.await.unwrap().ok(), Some("slow answer"));
}

#[tokio::test(start_paused = true)]
async fn a_fallback_past_its_time_limit_gives_the_original_error() {
    let fallback = FallbackLayer::builder(
        |_: &&str| true,
        |_: &&str| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, &str>("too late")
        },
    )
    .time_limit(Duration::from_millis(100))
    .build()
    .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(fallback.layer(failing()).oneshot(()).await, Err("503"));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    let used = fallback.handle().used();
    assert_eq!((used.timed_out, used.answered, used.running), (1, 0, 0));
}

/// One place: while a slow fallback runs, the next failure gets its own error; a
/// dropped call gives its place back.
#[tokio::test(start_paused = true)]
async fn beyond_the_cap_a_call_gets_its_own_error_and_a_dropped_one_frees_its_place() {
    let fallback = FallbackLayer::builder(
        |_: &&str| true,
        |_: &&str| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, &str>("fallback")
        },
    )
    .max_concurrent(1)
    .build()
    .unwrap();
    let client = fallback.layer(failing());
    let first = tokio::spawn(client.clone().oneshot(()));
    tokio::task::yield_now().await;
    assert_eq!(fallback.handle().used().running, 1);
    assert_eq!(
        client.clone().oneshot(()).await,
        Err("503"),
        "no place left"
    );
    assert_eq!(fallback.handle().used().over_cap, 1);
    first.abort();
    let _ = first.await;
    assert_eq!(
        fallback.handle().used().running,
        0,
        "the dropped call's place is back"
    );
    assert_eq!(client.oneshot(()).await, Ok("fallback"));
}

#[tokio::test(start_paused = true)]
async fn the_fallbacks_own_error_is_returned_as_it_is() {
    let fallback = FallbackLayer::builder(
        |_: &&str| true,
        |_: &&str| async { Err::<&str, _>("cache empty") },
    )
    .build()
    .unwrap();
    assert_eq!(
        fallback.layer(failing()).oneshot(()).await,
        Err("cache empty")
    );
}

#[test]
fn settings_out_of_range_are_named() {
    let err = FallbackLayer::builder(|_: &()| true, |_: &()| async { Ok::<u8, ()>(0) })
        .name("prices")
        .time_limit(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "prices.time_limit: 0ns is outside (0s, 365 days]"
    );
}

/// The last good response per key answers that key's refusals while young enough;
/// another key, or an old one, gets the refusal; new keys beyond the cap take the
/// oldest key's place.
#[tokio::test(start_paused = true)]
async fn a_stale_response_answers_its_keys_refusals_while_young_enough() {
    use seawall::fallback::StaleIfErrorLayer;
    let stale =
        StaleIfErrorLayer::new(|page: &u32| *page, Refusals, Duration::from_secs(60), 2).unwrap();
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let client = ServiceBuilder::new()
        .layer(stale.clone())
        .layer(breaker.clone())
        .map_err(Error::Service)
        .service(service_fn(
            |page: u32| async move { Ok::<_, &str>(page * 10) },
        ));
    assert_eq!(client.clone().oneshot(1).await.ok(), Some(10));
    assert_eq!(client.clone().oneshot(2).await.ok(), Some(20));
    breaker.handle().force_open();
    assert_eq!(
        client.clone().oneshot(1).await.ok(),
        Some(10),
        "stale, answered"
    );
    assert!(client.clone().oneshot(3).await.is_err(), "never seen");
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(client.clone().oneshot(1).await.is_err(), "too old");
    assert_eq!(stale.served(), 1);

    // Two keys kept at most: a third takes the oldest's place.
    breaker.handle().reset();
    for page in [4, 5, 6] {
        client.clone().oneshot(page).await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    breaker.handle().force_open();
    assert!(client.clone().oneshot(4).await.is_err(), "evicted");
    assert_eq!(client.oneshot(6).await.ok(), Some(60));
}

/// A refusal raised in `poll_ready` (a backpressure bulkhead's wait running out) is
/// answered like one raised by the call (review finding: it skipped the fallback).
#[tokio::test(start_paused = true)]
async fn a_refusal_from_poll_ready_is_answered_too() {
    use seawall::bulkhead::Mode;
    let fallback = FallbackLayer::builder(Refusals, |_: &E| async { Ok::<_, E>("cached") })
        .build()
        .unwrap();
    let bulkhead = BulkheadLayer::builder()
        .mode(Mode::Backpressure)
        .max_concurrent(1)
        .max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let slow = service_fn(|_: ()| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, &'static str>("slow")
    });
    let client = ServiceBuilder::new()
        .layer(fallback.clone())
        .layer(bulkhead)
        .map_err(Error::Service)
        .service(slow);
    let first = tokio::spawn(client.clone().oneshot(()));
    tokio::task::yield_now().await;
    assert_eq!(client.oneshot(()).await.ok(), Some("cached"));
    assert_eq!(fallback.handle().used().answered, 1);
    assert_eq!(first.await.unwrap().ok(), Some("slow"));
}

/// HTTP answers from a fallback say so: `marked` for a fallback, `mark_http` for the
/// stale cache.
#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn http_answers_from_a_fallback_carry_the_mark() {
    use seawall::fallback::{FromFallback, StaleIfErrorLayer, mark_http, marked};
    type R = http::Response<&'static str>;
    type HE = Error<&'static str>;
    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let client = ServiceBuilder::new()
        .layer(
            FallbackLayer::builder(
                Refusals,
                marked(|_: &HE| async { Ok::<R, HE>(http::Response::new("default")) }),
            )
            .build()
            .unwrap(),
        )
        .layer(
            StaleIfErrorLayer::new(|n: &u32| *n, Refusals, Duration::from_secs(60), 10)
                .unwrap()
                .mark(mark_http),
        )
        .layer(breaker.clone())
        .map_err(Error::Service)
        .service(service_fn(|_: u32| async {
            Ok::<R, &str>(http::Response::new("fresh"))
        }));
    let fresh = client.clone().oneshot(1).await.unwrap();
    assert!(fresh.extensions().get::<FromFallback>().is_none());
    breaker.handle().force_open();
    let stale = client.clone().oneshot(1).await.unwrap();
    assert_eq!(*stale.body(), "fresh");
    assert!(
        stale.extensions().get::<FromFallback>().is_some(),
        "stale, marked"
    );
    let default = client.oneshot(2).await.unwrap();
    assert_eq!(*default.body(), "default");
    assert!(
        default.extensions().get::<FromFallback>().is_some(),
        "default, marked"
    );
}
