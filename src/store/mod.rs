//! The outbox: where accepted alerts wait until they are delivered.
//!
//! The hook hands alerts to the [`Outbox`] and answers Okta as soon as the
//! outbox has taken them; the delivery worker takes them out through the
//! [`OutboxReceiver`]. This is the only hand-off between receiving and
//! delivering, so the two never wait on each other.
//!
//! Known gap: this outbox is a bounded queue in memory. Alerts still waiting
//! when the process stops are lost, and de-duplication does not outlive a
//! batch. A durable, de-duplicating store on the `store.path` file replaces
//! it behind this same interface.

use tokio::sync::mpsc;

use crate::alert::Alert;

/// Why the outbox did not take a batch of alerts.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The outbox holds as many alerts as it may.
    #[error("the outbox is full")]
    Full,
    /// The delivery worker is gone.
    #[error("the outbox is closed")]
    Closed,
}

/// The sending side of the outbox, shared by every request.
#[derive(Debug, Clone)]
pub struct Outbox {
    sender: mpsc::Sender<Alert>,
}

/// The receiving side of the outbox, owned by the delivery worker.
#[derive(Debug)]
pub struct OutboxReceiver {
    receiver: mpsc::Receiver<Alert>,
}

/// An outbox that holds at most `capacity` undelivered alerts.
pub fn outbox(capacity: usize) -> (Outbox, OutboxReceiver) {
    let (sender, receiver) = mpsc::channel(capacity);
    (Outbox { sender }, OutboxReceiver { receiver })
}

impl Outbox {
    /// Takes all of `alerts`, or none of them.
    pub fn accept(&self, alerts: Vec<Alert>) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let permits = self
            .sender
            .try_reserve_many(alerts.len())
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(()) => StoreError::Full,
                mpsc::error::TrySendError::Closed(()) => StoreError::Closed,
            })?;
        for (permit, alert) in permits.zip(alerts) {
            permit.send(alert);
        }
        Ok(())
    }
}

impl OutboxReceiver {
    /// The next alert to deliver; `None` once the outbox is closed and empty.
    pub async fn next(&mut self) -> Option<Alert> {
        self.receiver.recv().await
    }
}
