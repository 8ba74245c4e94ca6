//! Logging: text or JSON lines on standard error, filtered by `RUST_LOG`.
//!
//! Standard output is kept for alerts when no Slack token is set, so logs
//! never go there.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; the level defaults to `info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    // A second call (as in tests) keeps the first subscriber.
    drop(installed);
}

/// Sends panics through the log like any other error, with every value of
/// `secrets` replaced, so that a panic message can never print one.
pub fn redact_panics(secrets: Vec<String>) {
    let secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        let message = scrub(&message, &secrets);
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic = ?message, %location, "Panicked.");
    }));
}

/// `text` with every occurrence of every secret replaced by `[redacted]`.
fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "[redacted]")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_scrubbed_of_secrets() {
        let secrets = vec!["xoxb-123".to_owned(), "hook-secret".to_owned()];
        assert_eq!(
            scrub("bad token xoxb-123 for hook-secret, xoxb-123", &secrets),
            "bad token [redacted] for [redacted], [redacted]"
        );
    }
}
