//! The store: an embedded SQLite database that holds every accepted alert
//! until Slack has it, and remembers each event `uuid` for good.
//!
//! It is the durable outbox between the hook and the delivery worker:
//!
//! - [`Store::accept`] commits a batch of alerts before the hook answers 200;
//!   an event already stored counts as stored, so Okta's redeliveries and
//!   replays never make a second alert, across restarts too.
//! - [`Store::next_pending`] gives the worker the alert due soonest; the
//!   worker then records the outcome: delivered (with Slack's channel and
//!   `ts`), to be retried at a later time, or dead.
//! - Dead letters stay until an operator sends them again.
//!
//! All writes go through one writer thread that commits whatever requests
//! are waiting in a single transaction, so concurrent deliveries share one
//! `fsync` (`synchronous = FULL`: a commit survives power loss). Reads use a
//! connection of their own; WAL mode lets them run beside the writer and
//! beside other processes such as `okta-mfa-notifier dead-letters`.

mod files;
mod fold;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{Notify, oneshot};

use crate::alert::Alert;
use writer::{Write, Writer};

/// How long a statement waits for a lock held by another connection; short,
/// so that a locked store still lets the hook answer within Okta's 3 s.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed: disk full, file locked, file unreadable, ….
    #[error("store failed: {0}")]
    Database(String),
    /// The writer thread is gone.
    #[error("the store is closed")]
    Closed,
    /// The requested alert does not exist or is not a dead letter.
    #[error("no dead letter with id {0}")]
    NotDead(i64),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// How long accepted alerts wait: for delivery at most, and, for factor
/// deactivations, for the rest of their fold.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// After this long undelivered, an alert becomes a dead letter.
    pub max_age: Duration,
    /// How long a fold of deactivations gathers events before it is sent.
    pub fold_window: Duration,
}

impl Timing {
    /// The timing the settings ask for.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            max_age: settings.delivery.max_age(),
            fold_window: Duration::from_secs(settings.okta.deactivation_window_secs),
        }
    }
}

/// What [`Store::accept`] did with a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Alerts stored for the first time.
    pub new: usize,
    /// Alerts whose event was already stored.
    pub known: usize,
}

/// An alert waiting for delivery.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id; the id shown to operators.
    pub id: i64,
    /// The alert as accepted.
    pub alert: Alert,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the next attempt may start.
    pub next_attempt_at: SystemTime,
    /// When delivery gives up and the alert becomes a dead letter.
    pub deadline: SystemTime,
    /// Changes of a fold since it was read; a send covers this revision.
    pub revision: i64,
}

/// The outcome of one delivery attempt, as the store records it.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// Slack has the alert, as read at `revision` with `factors_sent`
    /// factors; factors folded into it meanwhile go on as a follow-up.
    Delivered {
        /// Row id.
        id: i64,
        /// Where Slack put it.
        record: DeliveredRecord,
        /// The fold revision the send covered.
        revision: i64,
        /// How many factors the sent alert listed.
        factors_sent: usize,
    },
    /// The attempt failed; try again at `next_attempt_at`.
    Retry {
        /// Row id.
        id: i64,
        /// Attempts made so far.
        attempts: u32,
        /// When to try again.
        next_attempt_at: SystemTime,
        /// Why it failed.
        error: String,
    },
    /// The alert is given up: it becomes a dead letter.
    Dead {
        /// Row id.
        id: i64,
        /// Attempts made.
        attempts: u32,
        /// Why it was given up.
        error: String,
    },
}

/// An alert that could not be delivered.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Row id, for `dead-letters retry ID`.
    pub id: i64,
    /// The alert as accepted.
    pub alert: Alert,
    /// Delivery attempts made.
    pub attempts: u32,
    /// Why it was given up.
    pub error: String,
    /// When it was given up.
    pub dead_at: SystemTime,
}

/// The alerts not delivered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Alerts waiting for delivery.
    pub pending: i64,
    /// Dead letters.
    pub dead: i64,
    /// When the oldest waiting alert was accepted.
    pub oldest_pending: Option<SystemTime>,
}

/// How far the System Log has been read for events the hook missed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPosition {
    /// Every event published before this was looked for (less the margin
    /// read again each time).
    pub reconciled_until: Option<SystemTime>,
    /// The newest `published` seen in the System Log, as Okta wrote it.
    pub last_published: Option<String>,
    /// The next page of a reading that has not finished.
    pub cursor: Option<String>,
    /// Where that unfinished reading ends.
    pub cursor_until: Option<SystemTime>,
    /// The filter of that reading; a cursor for other event types is not
    /// resumed.
    pub cursor_filter: Option<String>,
}

/// Where a delivered alert is in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRecord {
    /// Slack channel ID.
    pub channel: String,
    /// Slack message timestamp.
    pub ts: String,
}

/// Proof that this process is the one service using a store: two services
/// sending from one store would each send every alert. Held until dropped;
/// the operating system releases it when the process ends, however it ends.
#[derive(Debug)]
pub struct ServiceLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl ServiceLock {
    /// Locks `<store path>.lock`, or says which store is already in use.
    pub fn acquire(store_path: &Path) -> Result<Self, StoreError> {
        let path = PathBuf::from(format!("{}.lock", store_path.display()));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Database(format!(
                "another okta-mfa-notifier service is using the store {} ({} is locked); \
                 run one service per store",
                store_path.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Database(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }
}

/// Handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Writer,
    reader: Mutex<Connection>,
    arrivals: Arc<Notify>,
    _lock: Option<ServiceLock>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, for a command
    /// that works beside the running service.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, None)
    }

    /// Opens the database at `path` for the service that delivers from it:
    /// takes the [`ServiceLock`], which the store then holds and watches.
    pub fn open_for_service(path: &Path) -> Result<Self, StoreError> {
        let lock = ServiceLock::acquire(path)?;
        Self::open_with(path, Some(lock))
    }

    fn open_with(path: &Path, lock: Option<ServiceLock>) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Database(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let writer_connection = connect(path)?;
        migrate(&writer_connection)?;
        let reader = connect(path)?;
        let lock_file = lock.as_ref().map(|l| l.path.clone());
        let files = files::StoreFiles::opened(path, lock_file)?;
        let arrivals = Arc::new(Notify::new());
        let writer = Writer::spawn(writer_connection, files, Arc::clone(&arrivals))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                reader: Mutex::new(reader),
                arrivals,
                _lock: lock,
            }),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits `alerts`; each must be delivered within `max_age`.
    pub async fn accept(&self, alerts: Vec<Alert>, timing: Timing) -> Result<Accepted, StoreError> {
        if alerts.is_empty() {
            return Ok(Accepted::default());
        }
        let deadline = to_millis(SystemTime::now() + timing.max_age);
        let fold_window = i64::try_from(timing.fold_window.as_millis()).unwrap_or(i64::MAX);
        let write = Write::Accept {
            alerts,
            deadline,
            fold_window,
        };
        match self.write(write).await? {
            writer::Outcome::Accepted(accepted) => Ok(accepted),
            writer::Outcome::Changed(_) | writer::Outcome::New(_) => Ok(Accepted::default()),
        }
    }

    /// Records the outcome of one delivery attempt.
    pub async fn record_attempt(&self, outcome: &AttemptOutcome) -> Result<(), StoreError> {
        let write = match outcome.clone() {
            AttemptOutcome::Delivered {
                id,
                record,
                revision,
                factors_sent,
            } => Write::Delivered {
                id,
                record,
                revision,
                factors_sent,
            },
            AttemptOutcome::Retry {
                id,
                attempts,
                next_attempt_at,
                error,
            } => Write::Retry {
                id,
                attempts,
                next_attempt_at: to_millis(next_attempt_at),
                error,
            },
            AttemptOutcome::Dead {
                id,
                attempts,
                error,
            } => Write::Dead {
                id,
                attempts,
                error,
                dead_at: to_millis(SystemTime::now()),
            },
        };
        self.write(write).await.map(drop)
    }

    /// Sends dead letter `id` (or every dead letter when `None`) again, with
    /// a fresh `max_age`. Returns how many were requeued.
    pub async fn requeue(&self, id: Option<i64>, max_age: Duration) -> Result<usize, StoreError> {
        let deadline = to_millis(SystemTime::now() + max_age);
        match self.write(Write::Requeue { id, deadline }).await? {
            writer::Outcome::Changed(0) if id.is_some() => {
                Err(StoreError::NotDead(id.unwrap_or(0)))
            }
            writer::Outcome::Changed(n) => Ok(n),
            writer::Outcome::Accepted(_) | writer::Outcome::New(_) => Ok(0),
        }
    }

    /// Commits a small write, to prove the store can take alerts now.
    pub async fn probe(&self) -> Result<(), StoreError> {
        self.write(Write::Probe).await.map(drop)
    }

    /// How many alerts wait for delivery, and how many are dead letters.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.backlog().await.map(|b| (b.pending, b.dead))
    }

    /// The alerts not delivered yet, counted.
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        self.read(|db| {
            Ok(db.query_row(
                "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'dead'), 0),
                        MIN(CASE WHEN state = 'pending' THEN received_at END)
                 FROM alerts",
                [],
                |row| {
                    Ok(Backlog {
                        pending: row.get(0)?,
                        dead: row.get(1)?,
                        oldest_pending: row.get::<_, Option<i64>>(2)?.map(from_millis),
                    })
                },
            )?)
        })
        .await
    }

    /// The undelivered alert due soonest, if any.
    pub async fn next_pending(&self) -> Result<Option<Pending>, StoreError> {
        self.read(|db| {
            db.query_row(
                "SELECT id, alert, attempts, next_attempt_at, deadline_at, revision FROM alerts
                 WHERE state = 'pending' ORDER BY next_attempt_at, id LIMIT 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, u32>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                },
            )
            .optional()?
            .map(|(id, alert, attempts, next, deadline, revision)| {
                Ok(Pending {
                    id,
                    alert: decode(&alert)?,
                    attempts,
                    next_attempt_at: from_millis(next),
                    deadline: from_millis(deadline),
                    revision,
                })
            })
            .transpose()
        })
        .await
    }

    /// Every dead letter, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(|db| {
            let mut statement = db.prepare(
                "SELECT id, alert, attempts, COALESCE(last_error, ''), COALESCE(dead_at, 0)
                 FROM alerts WHERE state = 'dead' ORDER BY id",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?;
            let mut letters = Vec::new();
            for row in rows {
                let (id, alert, attempts, error, dead_at) = row?;
                letters.push(DeadLetter {
                    id,
                    alert: decode(&alert)?,
                    attempts,
                    error,
                    dead_at: from_millis(dead_at),
                });
            }
            Ok(letters)
        })
        .await
    }

    /// Where the alert for event `uuid` was delivered, once it was.
    pub async fn delivered_record(
        &self,
        uuid: &str,
    ) -> Result<Option<DeliveredRecord>, StoreError> {
        let uuid = uuid.to_owned();
        self.read(move |db| {
            Ok(db
                .query_row(
                    "SELECT slack_channel, slack_ts FROM alerts
                     WHERE event_uuid = ?1 AND state = 'delivered'",
                    params![uuid],
                    |row| {
                        Ok(DeliveredRecord {
                            channel: row.get(0)?,
                            ts: row.get(1)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Which of `uuids` the store already holds, as an alert's event or as
    /// an event folded into one.
    pub async fn known_events(
        &self,
        uuids: Vec<String>,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        self.read(move |db| {
            let mut statement = db.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM alerts WHERE event_uuid = ?1)
                     OR EXISTS (SELECT 1 FROM folded_events WHERE uuid = ?1)",
            )?;
            let mut known = std::collections::HashSet::new();
            for uuid in uuids {
                if statement.query_row(params![uuid], |row| row.get::<_, bool>(0))? {
                    known.insert(uuid);
                }
            }
            Ok(known)
        })
        .await
    }

    /// How far the System Log has been read, if it ever was.
    pub async fn log_position(&self) -> Result<Option<LogPosition>, StoreError> {
        self.read(|db| {
            Ok(db
                .query_row(
                    "SELECT reconciled_until, last_published, cursor, cursor_until, cursor_filter
                     FROM log_position WHERE id = 1",
                    [],
                    |row| {
                        Ok(LogPosition {
                            reconciled_until: row.get::<_, Option<i64>>(0)?.map(from_millis),
                            last_published: row.get(1)?,
                            cursor: row.get(2)?,
                            cursor_until: row.get::<_, Option<i64>>(3)?.map(from_millis),
                            cursor_filter: row.get(4)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Records how far the System Log has been read.
    pub async fn save_log_position(&self, position: LogPosition) -> Result<(), StoreError> {
        self.write(Write::LogPosition(position)).await.map(drop)
    }

    /// Records hook delivery failures Okta reported, by event uuid and time;
    /// returns those not recorded before.
    pub async fn record_hook_failures(
        &self,
        failures: Vec<(String, String)>,
    ) -> Result<Vec<String>, StoreError> {
        if failures.is_empty() {
            return Ok(Vec::new());
        }
        match self.write(Write::HookFailures(failures)).await? {
            writer::Outcome::New(uuids) => Ok(uuids),
            _ => Ok(Vec::new()),
        }
    }

    /// Completes when new alerts may be waiting (or spuriously).
    pub async fn arrivals(&self) {
        self.inner.arrivals.notified().await;
    }

    async fn write(&self, write: Write) -> Result<writer::Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner.writer.submit(write, reply)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let db = inner
                .reader
                .lock()
                .map_err(|_| StoreError::Database("reader lock poisoned".into()))?;
            query(&db)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    db.busy_timeout(BUSY_TIMEOUT)?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    Ok(db)
}

/// Brings a database file to the schema this code writes; `PRAGMA
/// user_version` holds the version a file has (3 now).
fn migrate(db: &Connection) -> Result<(), StoreError> {
    let version: i64 = db.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version < 1 {
        create_base_schema(db)?;
    }
    if version < 2 {
        // Folding of factor deactivations into one alert; all or nothing.
        db.execute_batch(
            "BEGIN;
             ALTER TABLE alerts ADD COLUMN fold_base TEXT;
             ALTER TABLE alerts ADD COLUMN fold_open_until INTEGER;
             ALTER TABLE alerts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
             CREATE INDEX IF NOT EXISTS alerts_fold ON alerts (fold_base, state);
             CREATE TABLE IF NOT EXISTS folded_events (
                 uuid TEXT PRIMARY KEY,
                 fold TEXT NOT NULL
             );
             PRAGMA user_version = 2;
             COMMIT;",
        )?;
    }
    if version < 3 {
        // Back-fill from the System Log: how far it is read, and the hook
        // delivery failures Okta reported there.
        db.execute_batch(
            "BEGIN;
             CREATE TABLE IF NOT EXISTS log_position (
                 id               INTEGER PRIMARY KEY CHECK (id = 1),
                 reconciled_until INTEGER,
                 last_published   TEXT,
                 cursor           TEXT,
                 cursor_until     INTEGER,
                 cursor_filter    TEXT,
                 updated_at       INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS hook_failures (
                 uuid        TEXT PRIMARY KEY,
                 published   TEXT NOT NULL,
                 recorded_at INTEGER NOT NULL
             );
             PRAGMA user_version = 3;
             COMMIT;",
        )?;
    }
    Ok(())
}

fn create_base_schema(db: &Connection) -> Result<(), StoreError> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS alerts (
            id              INTEGER PRIMARY KEY,
            event_uuid      TEXT NOT NULL UNIQUE,
            alert           TEXT NOT NULL,
            state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
            received_at     INTEGER NOT NULL,
            deadline_at     INTEGER NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            last_error      TEXT,
            slack_channel   TEXT,
            slack_ts        TEXT,
            delivered_at    INTEGER,
            dead_at         INTEGER
        );
        CREATE INDEX IF NOT EXISTS alerts_pending ON alerts (state, next_attempt_at);
        CREATE TABLE IF NOT EXISTS health_probe (
            id         INTEGER PRIMARY KEY CHECK (id = 1),
            checked_at INTEGER NOT NULL
        );",
    )?;
    Ok(())
}

fn encode(alert: &Alert) -> Result<String, StoreError> {
    serde_json::to_string(alert)
        .map_err(|e| StoreError::Database(format!("cannot encode an alert: {e}")))
}

fn decode(text: &str) -> Result<Alert, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("unreadable alert: {e}")))
}

/// Milliseconds since the Unix epoch.
fn to_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{ActorKind, ActorSummary, Person, Source};

    fn alert(uuid: &str) -> Alert {
        Alert {
            event_uuid: uuid.into(),
            event_type: "user.mfa.factor.reset_all".into(),
            published: "2026-10-24T08:42:17Z".into(),
            display_message: None,
            user: None,
            actor: ActorSummary {
                kind: ActorKind::Unknown,
                principal: Person::default(),
                okta_type: None,
                api_token_id: None,
                client_app_id: None,
            },
            source: Source::default(),
            outcome: None,
            outcome_reason: None,
            transaction_id: None,
            test: false,
            factors_removed: Vec::new(),
            follow_up: false,
            factors_remaining: None,
            recovered: None,
        }
    }

    const DAY: Timing = Timing {
        max_age: Duration::from_secs(86_400),
        fold_window: Duration::from_secs(5),
    };

    #[tokio::test]
    async fn events_are_stored_once_even_after_reopening() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("nested/store.db");
        let store = Store::open(&path).expect("open");
        let first = store
            .accept(vec![alert("a"), alert("b"), alert("a")], DAY)
            .await;
        assert_eq!(first.expect("accept"), Accepted { new: 2, known: 1 });
        drop(store);

        let store = Store::open(&path).expect("reopen");
        let again = store
            .accept(vec![alert("b"), alert("c")], DAY)
            .await
            .expect("accept");
        assert_eq!(again, Accepted { new: 1, known: 1 });
    }

    #[tokio::test]
    async fn a_store_of_the_first_schema_is_upgraded_in_place() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("old.db");
        {
            let old = Connection::open(&path).expect("open");
            create_base_schema(&old).expect("first schema");
            old.execute(
                "INSERT INTO alerts (event_uuid, alert, state, received_at, deadline_at, next_attempt_at)
                 VALUES ('kept', ?1, 'delivered', 0, 0, 0)",
                params![encode(&alert("kept")).expect("json")],
            )
            .expect("row");
        }
        let store = Store::open(&path).expect("upgraded");
        let again = store
            .accept(vec![alert("kept")], DAY)
            .await
            .expect("accept");
        assert_eq!(
            again,
            Accepted { new: 0, known: 1 },
            "old rows still de-duplicate"
        );
        let mut removal = alert("deactivation-1");
        removal.event_type = crate::alert::FACTOR_DEACTIVATED.into();
        removal.factors_removed = vec!["Okta Verify (OKTA_SOFT_TOKEN)".into()];
        removal.user = Some(Person {
            id: Some("00uUpgraded".into()),
            ..Person::default()
        });
        removal.transaction_id = Some("tx-upgraded".into());
        let folded = store.accept(vec![removal], DAY).await.expect("fold");
        assert_eq!(folded.new, 1);
        drop(store);
        let reopened = Store::open(&path).expect("reopened at the new version");
        drop(reopened);
    }

    #[tokio::test]
    async fn the_system_log_position_and_hook_failures_are_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.db");
        let store = Store::open(&path).expect("open");
        assert_eq!(store.log_position().await.expect("read"), None);
        let position = LogPosition {
            reconciled_until: Some(UNIX_EPOCH + Duration::from_millis(1_796_000_000_123)),
            last_published: Some("2026-11-30T00:53:19.000Z".into()),
            cursor: Some("https://acme.okta.com/api/v1/logs?after=1_2".into()),
            cursor_until: Some(UNIX_EPOCH + Duration::from_secs(1_796_000_100)),
            cursor_filter: Some("user.mfa.factor.reset_all".into()),
        };
        store
            .save_log_position(position.clone())
            .await
            .expect("save");
        let failures = |uuids: &[&str]| {
            uuids
                .iter()
                .map(|u| ((*u).to_owned(), "2026-11-30T00:00:00Z".to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            store
                .record_hook_failures(failures(&["f1", "f2"]))
                .await
                .expect("record"),
            ["f1", "f2"]
        );
        drop(store);

        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.log_position().await.expect("read"), Some(position));
        assert_eq!(
            store
                .record_hook_failures(failures(&["f2", "f3"]))
                .await
                .expect("record"),
            ["f3"],
            "a failure read twice counts once"
        );
    }

    #[tokio::test]
    async fn an_alert_moves_from_pending_to_delivered() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        store.accept(vec![alert("a")], DAY).await.expect("accept");

        let pending = store
            .next_pending()
            .await
            .expect("read")
            .expect("one pending");
        assert_eq!(
            (pending.alert.event_uuid.as_str(), pending.attempts),
            ("a", 0)
        );
        let record = DeliveredRecord {
            channel: "C1".into(),
            ts: "1.2".into(),
        };
        store
            .record_attempt(&AttemptOutcome::Delivered {
                id: pending.id,
                record: record.clone(),
                revision: pending.revision,
                factors_sent: 0,
            })
            .await
            .expect("mark");

        assert!(store.next_pending().await.expect("read").is_none());
        assert_eq!(
            store.delivered_record("a").await.expect("read"),
            Some(record)
        );
    }

    #[tokio::test]
    async fn retries_are_scheduled_and_dead_letters_requeued() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        store
            .accept(vec![alert("a"), alert("b")], DAY)
            .await
            .expect("accept");

        let a = store.next_pending().await.expect("read").expect("a");
        let later = SystemTime::now() + Duration::from_secs(60);
        store
            .record_attempt(&AttemptOutcome::Retry {
                id: a.id,
                attempts: 1,
                next_attempt_at: later,
                error: "HTTP 500".into(),
            })
            .await
            .expect("retry");
        let b = store
            .next_pending()
            .await
            .expect("read")
            .expect("b is due first now");
        assert_eq!(b.alert.event_uuid, "b");

        store
            .record_attempt(&AttemptOutcome::Dead {
                id: b.id,
                attempts: 1,
                error: "channel_not_found".into(),
            })
            .await
            .expect("dead");
        let dead = store.dead_letters().await.expect("list");
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].id, dead[0].error.as_str()),
            (b.id, "channel_not_found")
        );

        assert!(matches!(
            store.requeue(Some(a.id), DAY.max_age).await,
            Err(StoreError::NotDead(_))
        ));
        assert_eq!(
            store
                .requeue(Some(b.id), DAY.max_age)
                .await
                .expect("requeue"),
            1
        );
        assert!(store.dead_letters().await.expect("list").is_empty());
        let due = store.next_pending().await.expect("read").expect("b again");
        assert_eq!((due.alert.event_uuid.as_str(), due.attempts), ("b", 0));
    }
}
