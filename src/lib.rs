//! `okta-mfa-notifier` receives Okta event hooks and posts one Slack alert for
//! each MFA reset it finds.
//!
//! The path of one Okta event through the crate, module by module:
//!
//! 1. [`http`]: the public endpoint authenticates the request and reads its body;
//! 2. [`okta`]: the body is parsed as an event-hook delivery of System Log events;
//! 3. [`selection`]: events of the watched types become [`alert::Alert`]s;
//! 4. [`store`]: the alerts are handed to the outbox and Okta gets its answer;
//! 5. [`delivery`]: a background worker takes each alert out of the outbox;
//! 6. [`slack`]: the alert is rendered and posted with `chat.postMessage`.
//!
//! Events the hook never delivered take a second way in: [`backfill`] reads
//! them from the Okta System Log and hands them to the same selection and
//! store (step 3), so nothing is alerted twice.
//!
//! Around that path: [`config`] reads the settings; [`service`] wires the
//! parts together and stops them in order; [`admin`] serves the probes and
//! [`metrics`]; [`telemetry`] sets up the logs and [`text`] keeps untrusted
//! strings harmless in them; [`cli`] is the command line behind the binary.

pub mod admin;
pub mod alert;
pub mod backfill;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod http;
pub mod metrics;
pub mod okta;
pub mod selection;
pub mod service;
pub mod slack;
pub mod store;
pub mod telemetry;
pub mod text;
