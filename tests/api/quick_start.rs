//! The README's quick start, run as a new user would: the binary with the
//! shipped example configuration, and the shipped example delivery.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::example;

#[tokio::test]
async fn the_example_delivery_is_printed_by_the_service() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").port()
    };
    let store = tempfile::tempdir().expect("temp dir");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut service = Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
        .args(["--config", &format!("{root}/config/example.toml")])
        .env(
            "OKTA_MFA_NOTIFIER__SERVER__LISTEN",
            format!("127.0.0.1:{port}"),
        )
        .env(
            "OKTA_MFA_NOTIFIER__STORE__PATH",
            store.path().join("quick-start.db"),
        )
        .env_remove("OKTA_MFA_NOTIFIER_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");

    let mut errors = BufReader::new(service.stderr.take().expect("stderr")).lines();
    let mut warned = false;
    loop {
        let line = tokio::time::timeout(Duration::from_secs(20), errors.next_line())
            .await
            .expect("the service logs its start")
            .expect("stderr")
            .expect("the service is running");
        warned |= line.contains("No slack.bot_token is set");
        if line.contains("Listening for Okta event hooks") {
            break;
        }
    }
    assert!(
        warned,
        "the service warns that alerts go to standard output"
    );

    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/okta/event-hook"))
        .header("Authorization", "example-secret-change-me")
        .header("Content-Type", "application/json")
        .body(example("01-admin-reset-all.json"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    let mut output = BufReader::new(service.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), output.next_line())
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

    let pid = nix::unistd::Pid::from_raw(service.id().expect("pid") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
    let exit = tokio::time::timeout(Duration::from_secs(10), service.wait())
        .await
        .expect("stops within 10 s")
        .expect("exit status");
    assert!(exit.success(), "SIGTERM gives exit 0, got {exit}");
}
