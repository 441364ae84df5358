use super::*;
use crate::types::Status;

/// An API-only node: validation and the language list work without a
/// sandbox, and a run says why it cannot happen here.
#[tokio::test]
async fn an_engine_without_sandbox_validates_and_refuses_runs_with_the_reason() {
    let engine = Engine::without_sandbox(EngineConfig::default(), "no root on this node".into());
    assert!(engine.sandbox_info().is_none());
    let lang = engine
        .catalog()
        .available()
        .first()
        .expect("a toolchain on this machine")
        .clone();
    let sub: Submission = serde_json::from_value(serde_json::json!({
        "language": lang.id,
        "files": [{"name": lang.default_file, "content": "x"}],
    }))
    .unwrap();
    engine.validate(&sub).expect("a valid submission");
    let bad = Submission {
        language: "no-such-language".into(),
        ..sub.clone()
    };
    assert!(engine.validate(&bad).is_err());
    let report = engine.execute(sub).await;
    assert_eq!(report.status, Status::InternalError, "{report:?}");
    let message = report.message.unwrap_or_default();
    assert!(message.contains("no root on this node"), "{message}");
}
