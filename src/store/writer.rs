//! The single writer thread: every change to the database goes through it,
//! and the requests that wait together are committed together.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use rusqlite::{Connection, Transaction, params};
use tokio::sync::{Notify, oneshot};

use super::files::StoreFiles;
use super::{Accepted, DeliveredRecord, LogPosition, StoreError, to_millis};
use crate::alert::Alert;

/// Most requests folded into one transaction.
const MAX_GROUP: usize = 512;

/// One change to make.
#[derive(Debug)]
pub(super) enum Write {
    Accept {
        alerts: Vec<Alert>,
        deadline: i64,
        fold_window: i64,
    },
    Delivered {
        id: i64,
        record: DeliveredRecord,
        revision: i64,
        factors_sent: usize,
    },
    Retry {
        id: i64,
        attempts: u32,
        next_attempt_at: i64,
        error: String,
    },
    Dead {
        id: i64,
        attempts: u32,
        error: String,
        dead_at: i64,
    },
    Requeue {
        id: Option<i64>,
        deadline: i64,
    },
    Probe,
    LogPosition(LogPosition),
    HookFailures(Vec<(String, String)>),
}

/// What a change did.
#[derive(Debug)]
pub(super) enum Outcome {
    Accepted(Accepted),
    Changed(usize),
    /// The keys written for the first time.
    New(Vec<String>),
}

type Reply = oneshot::Sender<Result<Outcome, StoreError>>;

/// Handle to the writer thread; the thread ends when the handle is dropped.
#[derive(Debug)]
pub(super) struct Writer {
    requests: mpsc::Sender<(Write, Reply)>,
}

impl Writer {
    pub(super) fn spawn(
        db: Connection,
        files: StoreFiles,
        arrivals: Arc<Notify>,
    ) -> Result<Self, StoreError> {
        let (requests, queue) = mpsc::channel();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(db, files, queue, arrivals))
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        Ok(Self { requests })
    }

    pub(super) fn submit(&self, write: Write, reply: Reply) -> Result<(), StoreError> {
        self.requests
            .send((write, reply))
            .map_err(|_| StoreError::Closed)
    }
}

fn run(
    mut db: Connection,
    files: StoreFiles,
    queue: mpsc::Receiver<(Write, Reply)>,
    arrivals: Arc<Notify>,
) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }

        // What fails a group (a lock, a full disk, a lost file) fails each of
        // its requests alike, so all get the same answer, at once.
        let committed = files.check().and_then(|()| commit_group(&mut db, &group));
        let results: Vec<Result<Outcome, StoreError>> = match committed {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(e) => group.iter().map(|_| Err(e.clone())).collect(),
        };

        let woke = results.iter().any(|r| match r {
            Ok(Outcome::Accepted(accepted)) => accepted.new > 0,
            Ok(Outcome::Changed(rows)) => *rows > 0,
            Ok(Outcome::New(_)) => false,
            Err(_) => false,
        });
        for ((_, reply), result) in group.into_iter().zip(results) {
            let _ = reply.send(result);
        }
        if woke {
            arrivals.notify_one();
        }
    }
}

/// Stores `alert` under its event uuid, due at `due`; false when the uuid is
/// already stored.
pub(super) fn insert_alert(
    tx: &Transaction<'_>,
    alert: &Alert,
    now: i64,
    deadline: i64,
    due: i64,
) -> Result<bool, StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO alerts
            (event_uuid, alert, state, received_at, deadline_at, next_attempt_at)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5)",
    )?;
    Ok(insert.execute(params![
        alert.event_uuid,
        super::encode(alert)?,
        now,
        deadline,
        due
    ])? > 0)
}

/// Applies every request in one transaction; all commit or none do.
fn commit_group(db: &mut Connection, group: &[(Write, Reply)]) -> Result<Vec<Outcome>, StoreError> {
    let tx = db.transaction()?;
    let outcomes = group
        .iter()
        .map(|(write, _)| apply(&tx, write))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(outcomes)
}

fn apply(tx: &Transaction<'_>, write: &Write) -> Result<Outcome, StoreError> {
    let now = to_millis(std::time::SystemTime::now());
    match write {
        Write::Accept {
            alerts,
            deadline,
            fold_window,
        } => {
            let mut accepted = Accepted::default();
            for alert in alerts {
                let new = if alert.is_factor_removal() {
                    super::fold::fold(tx, alert, now, *deadline, *fold_window)?
                } else {
                    insert_alert(tx, alert, now, *deadline, now)?
                };
                if new {
                    accepted.new += 1;
                } else {
                    accepted.known += 1;
                }
            }
            Ok(Outcome::Accepted(accepted))
        }
        Write::Delivered {
            id,
            record,
            revision,
            factors_sent,
        } => {
            // Factors folded in while the alert was being sent go on as a
            // follow-up; the delivered alert keeps what was sent.
            let moved = super::fold::split_after_send(tx, *id, *factors_sent, now)?;
            let changed = tx.execute(
                "UPDATE alerts SET state = 'delivered', attempts = attempts + 1,
                    slack_channel = ?2, slack_ts = ?3, delivered_at = ?4, last_error = NULL
                 WHERE id = ?1",
                params![id, record.channel, record.ts, now],
            )?;
            if moved {
                tracing::info!(
                    revision,
                    "Factors removed during a send go on in a follow-up alert."
                );
            }
            Ok(Outcome::Changed(changed))
        }
        Write::Retry {
            id,
            attempts,
            next_attempt_at,
            error,
        } => Ok(Outcome::Changed(tx.execute(
            "UPDATE alerts SET attempts = ?2, next_attempt_at = ?3, last_error = ?4
             WHERE id = ?1 AND state = 'pending'",
            params![id, attempts, next_attempt_at, error],
        )?)),
        Write::Dead {
            id,
            attempts,
            error,
            dead_at,
        } => Ok(Outcome::Changed(tx.execute(
            "UPDATE alerts SET state = 'dead', attempts = ?2, last_error = ?3, dead_at = ?4
             WHERE id = ?1 AND state = 'pending'",
            params![id, attempts, error, dead_at],
        )?)),
        Write::Probe => Ok(Outcome::Changed(tx.execute(
            "INSERT OR REPLACE INTO health_probe (id, checked_at) VALUES (1, ?1)",
            params![now],
        )?)),
        Write::LogPosition(position) => Ok(Outcome::Changed(tx.execute(
            "INSERT OR REPLACE INTO log_position
                (id, reconciled_until, last_published, cursor, cursor_until, cursor_filter, updated_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                position.reconciled_until.map(to_millis),
                position.last_published,
                position.cursor,
                position.cursor_until.map(to_millis),
                position.cursor_filter,
                now
            ],
        )?)),
        Write::HookFailures(failures) => {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO hook_failures (uuid, published, recorded_at)
                 VALUES (?1, ?2, ?3)",
            )?;
            let mut new = Vec::new();
            for (uuid, published) in failures {
                if insert.execute(params![uuid, published, now])? > 0 {
                    new.push(uuid.clone());
                }
            }
            Ok(Outcome::New(new))
        }
        Write::Requeue { id, deadline } => Ok(Outcome::Changed(tx.execute(
            "UPDATE alerts SET state = 'pending', attempts = 0, next_attempt_at = ?2,
                deadline_at = ?3, dead_at = NULL
             WHERE state = 'dead' AND (?1 IS NULL OR id = ?1)",
            params![id, now, deadline],
        )?)),
    }
}
