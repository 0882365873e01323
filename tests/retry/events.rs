//! Events: one per retry.

use tower::{Layer, ServiceExt};

use crate::common;
use crate::{MS, Scripted, fails_until, plain};

#[tokio::test(start_paused = true)]
async fn each_retry_emits_one_event_with_attempt_delay_and_reason() {
    let recorder = common::Recorder::default();
    let _guard = recorder.install();
    let inner = Scripted::new(fails_until(2));
    plain(5, 7 * MS)
        .build()
        .unwrap()
        .layer(inner)
        .oneshot(0)
        .await
        .unwrap();
    let retries: Vec<_> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "seawall::retry" && e.field("message") == Some("retrying"))
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0].field("seawall.attempt"), Some("2"));
    assert_eq!(retries[1].field("seawall.attempt"), Some("3"));
    assert_eq!(retries[0].field("delay_ms"), Some("7"));
    assert!(retries[0].field("seawall.reason").is_some());
}
