//! Folding: many `user.mfa.factor.deactivate` events, one alert.
//!
//! On Identity Engine an admin's reset arrives as one deactivation per factor
//! (three for Okta Verify alone), possibly over several deliveries, out of
//! order, and again when Okta redelivers. Each is recorded by its `uuid`, so
//! a redelivered one changes nothing, and joins the fold of its user and
//! transaction: one alert whose list of factors grows while it waits out the
//! window. Events without a transaction join the user's fold opened within
//! the window. Once the fold's alert has been tried, later events of it are
//! only recorded: the alert has gone.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{StoreError, decode, encode};
use crate::alert::Alert;

/// Records one deactivation and folds it into its alert; true when the event
/// was new.
pub(super) fn fold(
    tx: &Transaction<'_>,
    alert: &Alert,
    now: i64,
    deadline: i64,
    window: i64,
) -> Result<bool, StoreError> {
    let Some(user) = alert
        .user
        .as_ref()
        .and_then(|u| u.id.clone().or_else(|| u.login.clone()))
    else {
        // With no user to fold by, the event is an alert of its own.
        return super::writer::insert_alert(tx, alert, now, deadline, now);
    };
    let fold_key = match &alert.transaction_id {
        Some(transaction) => format!("fold:{user}:{transaction}"),
        None => open_window_fold(tx, &user, now)?
            .unwrap_or_else(|| format!("fold:{user}:window:{}", alert.event_uuid)),
    };

    let recorded = tx.execute(
        "INSERT OR IGNORE INTO folded_events (uuid, fold) VALUES (?1, ?2)",
        params![alert.event_uuid, fold_key],
    )?;
    if recorded == 0 {
        return Ok(false);
    }

    let existing = tx
        .query_row(
            "SELECT alert, state = 'pending' AND attempts = 0 FROM alerts WHERE event_uuid = ?1",
            params![fold_key],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?)),
        )
        .optional()?;
    match existing {
        None => {
            let mut folded = alert.clone();
            folded.event_uuid = fold_key.clone();
            tx.execute(
                "INSERT INTO alerts (event_uuid, alert, state, received_at, deadline_at,
                                     next_attempt_at, fold_user, fold_open_until)
                 VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?5)",
                params![
                    fold_key,
                    encode(&folded)?,
                    now,
                    deadline,
                    now + window,
                    user
                ],
            )?;
        }
        Some((json, true)) => {
            let mut folded = decode(&json)?;
            merge(&mut folded, alert);
            tx.execute(
                "UPDATE alerts SET alert = ?2 WHERE event_uuid = ?1",
                params![fold_key, encode(&folded)?],
            )?;
        }
        Some((_, false)) => {
            tracing::debug!(fold = %crate::text::Untrusted(&fold_key), "A deactivation came after its alert was sent; recorded only.");
        }
    }
    Ok(true)
}

/// The user's fold without a transaction that is still gathering events.
fn open_window_fold(
    tx: &Transaction<'_>,
    user: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT event_uuid FROM alerts
             WHERE fold_user = ?1 AND fold_open_until >= ?2 AND state = 'pending' AND attempts = 0
               AND event_uuid LIKE 'fold:%:window:%'
             ORDER BY id DESC LIMIT 1",
            params![user, now],
            |row| row.get(0),
        )
        .optional()?)
}

/// Adds what `event` says to the folded alert: its factor, and its time if
/// it is the earliest.
fn merge(folded: &mut Alert, event: &Alert) {
    for factor in &event.factors_removed {
        if !folded.factors_removed.contains(factor) {
            folded.factors_removed.push(factor.clone());
        }
    }
    if event.published < folded.published {
        folded.published = event.published.clone();
    }
}
