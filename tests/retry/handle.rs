//! The handle: limits read and changed while the layer runs.

use std::time::Duration;

use seawall::pipeline::StandardPipeline;
use seawall::retry::{Hint, RetryLayer};
use tower::{BoxError, Layer, ServiceExt};

use crate::common;
use crate::{MS, Scripted, always_fails, plain};

#[tokio::test(start_paused = true)]
async fn raising_max_attempts_reaches_services_made_before_the_change() {
    let layer = plain(2, MS).build().unwrap();
    let inner = Scripted::new(always_fails);
    let service = layer.layer(inner.clone());
    layer.handle().set_max_attempts(4).unwrap();
    assert!(service.oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_of_one_turns_retries_off() {
    let layer = plain(3, MS).build().unwrap();
    layer.handle().set_max_attempts(1).unwrap();
    let inner = Scripted::new(always_fails);
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_running_call_keeps_the_max_attempts_it_started_with() {
    let layer = plain(3, 10 * MS).build().unwrap();
    let inner = Scripted::new(always_fails);
    let call = tokio::spawn(layer.layer(inner.clone()).oneshot(0));
    tokio::time::sleep(5 * MS).await; // the first attempt failed; its retry sleeps
    layer.handle().set_max_attempts(1).unwrap();
    assert!(call.await.unwrap().is_err());
    assert_eq!(inner.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_set_live_stops_retries_whose_delay_would_end_past_it_and_none_lifts_it() {
    let layer = plain(5, 100 * MS).build().unwrap();
    let handle = layer.handle();
    handle
        .set_max_elapsed(Some(Duration::from_millis(250)))
        .unwrap();
    let inner = Scripted::new(always_fails);
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.times(), [Duration::ZERO, 100 * MS, 200 * MS]);

    handle.set_max_elapsed(None).unwrap();
    let inner = Scripted::new(always_fails);
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn max_hint_changed_live_decides_whether_a_long_hint_is_waited_for() {
    let asks_20s = |_: &Result<u32, BoxError>| Hint::After(Duration::from_secs(20));
    let layer = plain(2, MS).hints(asks_20s).build().unwrap();
    let inner = Scripted::new(always_fails);
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 1, "20 s is above the default 10 s");

    layer
        .handle()
        .set_max_hint(Duration::from_secs(30))
        .unwrap();
    let inner = Scripted::new(always_fails);
    assert!(layer.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.times(), [Duration::ZERO, Duration::from_secs(20)]);
}

#[test]
fn a_refused_change_gives_builds_error_and_keeps_the_old_value() {
    let handle = RetryLayer::builder().build().unwrap().handle();
    let build_error = |builder: seawall::retry::Builder| builder.build().unwrap_err().to_string();

    let refused = handle.set_max_attempts(101).unwrap_err();
    let built = build_error(RetryLayer::builder().max_attempts(101));
    assert_eq!(refused.to_string(), built);
    assert_eq!(handle.max_attempts(), 3);

    let refused = handle.set_max_elapsed(Some(Duration::ZERO)).unwrap_err();
    let built = build_error(RetryLayer::builder().max_elapsed(Duration::ZERO));
    assert_eq!(refused.to_string(), built);
    assert_eq!(handle.max_elapsed(), None);

    let week_and_a_bit = Duration::from_secs(7 * 86_400 + 1);
    let refused = handle.set_max_hint(week_and_a_bit).unwrap_err();
    let built = build_error(RetryLayer::builder().max_hint(week_and_a_bit));
    assert_eq!(refused.to_string(), built);
    assert_eq!(handle.max_hint(), Duration::from_secs(10));
}

#[test]
fn each_change_and_each_refusal_emits_one_event_naming_the_setting() {
    let recorder = common::Recorder::default();
    let _guard = recorder.install();
    let handle = RetryLayer::builder()
        .name("payments")
        .build()
        .unwrap()
        .handle();
    handle.set_max_attempts(5).unwrap();
    handle
        .set_max_elapsed(Some(Duration::from_secs(2)))
        .unwrap();
    handle
        .set_max_hint(Duration::from_secs(8 * 86_400))
        .unwrap_err();
    let events: Vec<_> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "seawall::retry")
        .collect();
    assert_eq!(events.len(), 3);
    let [attempts, elapsed, hint] = &events[..] else {
        unreachable!()
    };
    assert_eq!(attempts.field("message"), Some("retry setting changed"));
    assert_eq!(attempts.field("seawall.name"), Some("payments"));
    assert_eq!(attempts.field("setting"), Some("max_attempts"));
    assert_eq!(
        (attempts.field("from"), attempts.field("to")),
        (Some("3"), Some("5"))
    );
    assert_eq!(
        (elapsed.field("from"), elapsed.field("to")),
        (Some("none"), Some("2s"))
    );
    assert_eq!(
        hint.field("message"),
        Some("retry setting change refused; setting kept")
    );
    assert_eq!(hint.field("setting"), Some("max_hint"));
    assert!(hint.field("error").unwrap().starts_with("retry.max_hint: "));
}

#[tokio::test(start_paused = true)]
async fn the_standard_pipelines_retry_handle_changes_its_retry() {
    let pipeline = StandardPipeline::builder().build().unwrap();
    pipeline.retry().set_max_attempts(1).unwrap();
    let inner = Scripted::new(always_fails);
    assert!(pipeline.layer(inner.clone()).oneshot(0).await.is_err());
    assert_eq!(inner.calls(), 1);
    assert_eq!(pipeline.retry().name(), "standard");
}
