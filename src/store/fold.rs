//! Folding: many `user.mfa.factor.deactivate` events, one alert.
//!
//! On Identity Engine an admin's reset arrives as one deactivation per factor
//! (three for Okta Verify alone), possibly over several deliveries, out of
//! order, and again when Okta redelivers. Each is recorded by its `uuid`, so
//! a redelivered one changes nothing, and joins the fold of its user, actor
//! and transaction: one alert whose list of factors grows while it waits out
//! the window. Events without a transaction join the fold of the same user
//! and actor opened within the window.
//!
//! A fold stays open until it is delivered. An event that comes later, or
//! while the alert is being sent, is not dropped: it opens a follow-up alert
//! ("N more factors removed"), and [`split_after_send`] moves factors merged
//! during a send into one.

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
    let principal = &alert.actor.principal;
    let actor = principal
        .id
        .clone()
        .or_else(|| principal.login.clone())
        .unwrap_or_else(|| "-".to_owned());
    let base = match &alert.transaction_id {
        Some(transaction) => format!("fold:{user}:{actor}:{transaction}"),
        None => format!("fold:{user}:{actor}:window"),
    };

    let recorded = tx.execute(
        "INSERT OR IGNORE INTO folded_events (uuid, fold) VALUES (?1, ?2)",
        params![alert.event_uuid, base],
    )?;
    if recorded == 0 {
        return Ok(false);
    }

    let open = tx
        .query_row(
            "SELECT id, alert FROM alerts
             WHERE fold_base = ?1 AND state = 'pending' AND (?2 OR fold_open_until >= ?3)
             ORDER BY id DESC LIMIT 1",
            params![base, alert.transaction_id.is_some(), now],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
        )
        .optional()?;
    if let Some((id, json)) = open {
        let mut folded = decode(&json)?;
        merge(&mut folded, alert);
        tx.execute(
            "UPDATE alerts SET alert = ?2, revision = revision + 1 WHERE id = ?1",
            params![id, encode(&folded)?],
        )?;
        return Ok(true);
    }

    let earlier: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE fold_base = ?1)",
        params![base],
        |row| row.get(0),
    )?;
    let key = if alert.transaction_id.is_some() && !earlier {
        base.clone()
    } else {
        format!("{base}:{}", alert.event_uuid)
    };
    let mut folded = alert.clone();
    folded.event_uuid = key.clone();
    folded.follow_up = earlier;
    insert_fold(tx, &folded, &base, now, deadline, now + window)?;
    Ok(true)
}

/// After a fold's alert was sent with `sent` factors, moves the factors that
/// joined it during the send (its revision moved on) into a follow-up alert,
/// due at once. Returns whether there were any.
pub(super) fn split_after_send(
    tx: &Transaction<'_>,
    id: i64,
    sent: usize,
    now: i64,
) -> Result<bool, StoreError> {
    let Some((json, base, deadline)) = tx
        .query_row(
            "SELECT alert, fold_base, deadline_at FROM alerts WHERE id = ?1 AND state = 'pending'",
            params![id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(false);
    };
    let mut stored = decode(&json)?;
    let (Some(base), true) = (base, stored.factors_removed.len() > sent) else {
        return Ok(false);
    };
    let mut more = stored.clone();
    more.factors_removed = stored.factors_removed.split_off(sent);
    more.event_uuid = format!("{base}:more:{id}:{now}");
    more.follow_up = true;
    tx.execute(
        "UPDATE alerts SET alert = ?2 WHERE id = ?1",
        params![id, encode(&stored)?],
    )?;
    insert_fold(tx, &more, &base, now, deadline, now)?;
    Ok(true)
}

fn insert_fold(
    tx: &Transaction<'_>,
    folded: &Alert,
    base: &str,
    now: i64,
    deadline: i64,
    due: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO alerts (event_uuid, alert, state, received_at, deadline_at,
                             next_attempt_at, fold_base, fold_open_until)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?5)",
        params![folded.event_uuid, encode(folded)?, now, deadline, due, base],
    )?;
    Ok(())
}

/// Adds what `event` says to the folded alert: its factor (one entry per
/// event, so two keys of the same kind count as two), and its time if it is
/// the earliest.
fn merge(folded: &mut Alert, event: &Alert) {
    folded
        .factors_removed
        .extend(event.factors_removed.iter().cloned());
    if event.published < folded.published {
        folded.published = event.published.clone();
    }
}
