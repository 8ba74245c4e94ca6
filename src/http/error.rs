//! The hook's error answers: short reasons for 4xx, nothing internal for 5xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a hook request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The secret header is missing or wrong.
    #[error("unauthorized")]
    Unauthorized,
    /// A verification request without the challenge header.
    #[error("missing x-okta-verification-challenge header")]
    MissingChallenge,
    /// The challenge header is not visible ASCII.
    #[error("invalid x-okta-verification-challenge header")]
    InvalidChallenge,
    /// The body is not declared as JSON, or declared in a charset other
    /// than UTF-8.
    #[error("content type must be application/json, in UTF-8")]
    UnsupportedMediaType,
    /// The body is larger than `server.max_body_bytes`.
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body could not be read from the connection.
    #[error("cannot read the body")]
    UnreadableBody,
    /// The body is not an Okta event-hook delivery.
    #[error("{0}")]
    BadDelivery(String),
    /// The alerts could not be stored; Okta should try again.
    #[error("cannot store the alerts now; try again")]
    Unavailable,
}

impl HookError {
    /// The `outcome` label of the request metric.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "too_large",
            Self::Unavailable => "unavailable",
            Self::MissingChallenge
            | Self::InvalidChallenge
            | Self::UnreadableBody
            | Self::BadDelivery(_) => "bad_request",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MissingChallenge
            | Self::InvalidChallenge
            | Self::UnreadableBody
            | Self::BadDelivery(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for HookError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            // Nothing that would help someone guess the secret.
            Self::Unauthorized => status.into_response(),
            other => (status, format!("{other}\n")).into_response(),
        }
    }
}
