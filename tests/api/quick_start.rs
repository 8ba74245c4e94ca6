//! The README's quick start, run as a new user would: the binary with the
//! shipped example configuration, and the shipped example delivery.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{RunningBinary, example};

#[tokio::test]
async fn the_example_delivery_is_printed_by_the_service() {
    let mut service = RunningBinary::start(&[]).await;
    assert!(
        service
            .startup_logs
            .iter()
            .any(|l| l.contains("No slack.bot_token is set")),
        "the service warns that alerts go to standard output"
    );

    let response = service.post(example("01-admin-reset-all.json")).await;
    assert_eq!(response.status(), 200);

    let stdout = service.child.stdout.take().expect("stdout");
    let line = tokio::time::timeout(
        Duration::from_secs(10),
        BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("an alert is printed")
    .expect("stdout")
    .expect("a line");
    let request: Value = serde_json::from_str(&line).expect("one JSON object per line");
    let text = request["text"].as_str().expect("text");
    assert!(text.contains("had all MFA factors reset by"), "{text}");
    assert!(
        text.contains("Tomás Berg") && text.contains("Amara Lindqvist"),
        "{text}"
    );
    assert!(request["blocks"].as_array().is_some_and(|b| !b.is_empty()));

    let exit = service.terminate(Duration::from_secs(10)).await;
    assert!(exit.success(), "SIGTERM gives exit 0, got {exit}");
    let logs = service.remaining_stderr().await;
    assert!(
        logs.iter().any(|l| l.contains("Received SIGTERM")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn an_invalid_address_stops_the_start_naming_the_key() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(["--config", &format!("{root}/config/example.toml"), "serve"])
        .env("OKTA_MFA_NOTIFIER__SERVER__LISTEN", "256.0.0.1:1")
        .output();
    let output = output.expect("runs");
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.listen"));
}
