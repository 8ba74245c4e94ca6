//! Delivery: the background worker that takes alerts out of the outbox and
//! sends them to their destination.
//!
//! With a Slack bot token the destination is a channel; without one each alert
//! is printed to standard output as the JSON body of the `chat.postMessage`
//! call that would have been made, one object per line. Requests to the hook
//! never wait for this worker.
//!
//! Known gap: a failed post is logged and not tried again; retries with
//! backoff, pacing and dead letters come with the durable outbox.

use std::io::Write;

use crate::alert::Alert;
use crate::okta::AdminConsole;
use crate::slack::{PostMessage, SlackClient, SlackError, message};
use crate::store::OutboxReceiver;

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A Slack channel.
    Slack {
        /// Client holding the bot token.
        client: SlackClient,
        /// Channel ID.
        channel: String,
    },
    /// Standard output, one `chat.postMessage` body per line.
    Stdout {
        /// Channel ID written into each body; may be empty.
        channel: String,
    },
}

/// Sends every alert the outbox yields until it is closed and empty.
pub async fn run(
    mut outbox: OutboxReceiver,
    destination: Destination,
    console: Option<AdminConsole>,
) {
    while let Some(alert) = outbox.next().await {
        deliver(&alert, &destination, console.as_ref()).await;
    }
    tracing::debug!("Delivery worker stopped.");
}

async fn deliver(alert: &Alert, destination: &Destination, console: Option<&AdminConsole>) {
    match destination {
        Destination::Stdout { channel } => {
            let message = message::render(alert, channel, console);
            print_line(&message);
            tracing::info!(event_uuid = %alert.event_uuid, "Alert printed.");
        }
        Destination::Slack { client, channel } => {
            let message = message::render(alert, channel, console);
            match post(client, &message).await {
                Ok(posted) => tracing::info!(
                    event_uuid = %alert.event_uuid,
                    channel = %posted.channel,
                    ts = %posted.ts,
                    "Alert delivered."
                ),
                Err(error) => tracing::error!(
                    event_uuid = %alert.event_uuid,
                    channel = %channel,
                    error = %error,
                    remedy = error.remedy(),
                    "Alert not delivered."
                ),
            }
        }
    }
}

/// Posts `message`, and once more without blocks if Slack refuses the layout.
async fn post(
    client: &SlackClient,
    message: &PostMessage,
) -> Result<crate::slack::Posted, SlackError> {
    match client.post_message(message).await {
        Err(SlackError::InvalidPayload { code }) => {
            tracing::warn!(error = %code, "Slack refused the alert layout; sending it as plain text.");
            client.post_message(&message.text_only()).await
        }
        other => other,
    }
}

fn print_line(message: &PostMessage) {
    let line = match serde_json::to_string(message) {
        Ok(line) => line,
        Err(e) => {
            tracing::error!(error = %e, "Cannot encode an alert for standard output.");
            return;
        }
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        tracing::error!(error = %e, "Cannot write an alert to standard output.");
    }
}
