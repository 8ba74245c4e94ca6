//! Slack: how an alert looks in a channel, and the `chat.postMessage` call.
//!
//! - [`message`] renders an [`Alert`](crate::alert::Alert) as Block Kit blocks
//!   plus a complete plain `text` fallback. Every string that came from Okta is
//!   escaped and cut to Slack's limits there, and only there.
//! - [`client`] posts a message and sorts every failure into transient (try
//!   again later) or permanent (an operator must fix something).

pub mod client;
pub mod message;

pub use client::{Posted, SlackClient, SlackError};
pub use message::PostMessage;
