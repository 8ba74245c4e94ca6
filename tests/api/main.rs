//! End-to-end tests: the service on a real port, Slack stood in by wiremock.

mod helpers;

mod backfill;
mod bad_input;
mod deliveries;
mod durability;
mod hostile;
mod identity_engine;
mod operations;
mod quick_start;
mod slack_client;
mod verification;
