//! Okta: what Okta sends and how to point people back to it.
//!
//! - [`delivery`] parses an event-hook request body (the envelope) and hands out
//!   its System Log events one at a time, so that one odd event never spoils
//!   the rest of its batch.
//! - [`event`] is the lenient `LogEvent` model: only `uuid`, `published` and
//!   `eventType` are required; every other field may be absent, `null`, or of
//!   an unexpected type, and is then treated as unknown.
//! - [`console`] builds Admin Console links from `okta.org_url`.
//! - [`api`] asks the management API which factors a user still has.
//! - [`syslog`] reads the System Log API page by page, for back-fill.

pub mod api;
pub mod console;
pub mod delivery;
pub mod event;
pub mod syslog;

pub use api::OktaApi;
pub use console::AdminConsole;
pub use delivery::{Delivery, DeliveryError};
pub use event::LogEvent;
pub use syslog::SystemLog;
