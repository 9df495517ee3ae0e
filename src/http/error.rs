//! Errors of the HTTP API as `application/problem+json` (RFC 9457).
//!
//! Owns [`ApiError`] and the one `match` that gives each variant its status and stable `type`
//! slug (the list in the module docs of `http` and in `docs/openapi.yaml`). Must not touch:
//! the outbox. Used by every route and extractor; a store failure is logged here and never
//! shown in a body.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::outbox::MessageState;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait after a 503 `overloaded`.
pub const RETRY_AFTER_SECS: u32 = 5;

/// Everything the API can answer with instead of success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (syntax error or truncated).
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A field has the wrong type, is missing, or its value is not allowed.
    #[error("{field}: {detail}")]
    InvalidField {
        /// The field (`to`, `messages[2].priority`, `Idempotency-Key`).
        field: String,
        /// What is wrong and what is allowed.
        detail: String,
    },
    /// The body is of the wrong shape as a whole (an array where an object belongs).
    #[error("{0}")]
    InvalidBody(String),
    /// A field the API does not know (typos are rejected, not ignored).
    #[error("unknown field {field:?}")]
    UnknownField {
        /// The field.
        field: String,
    },
    /// `text` is empty.
    #[error("text is empty")]
    EmptyText,
    /// `text` needs more segments than allowed.
    #[error("text needs {segments} segments; at most {max} are allowed")]
    TextTooLong {
        /// Segments the text needs (at least).
        segments: usize,
        /// The configured maximum.
        max: usize,
    },
    /// `to` is not a valid mobile number.
    #[error("{0}")]
    InvalidPhone(String),
    /// `carrier` names no configured carrier.
    #[error("no carrier named {0:?}")]
    UnknownCarrier(String),
    /// The `Idempotency-Key` was used with another body.
    #[error("this Idempotency-Key was used with a different body")]
    IdempotencyConflict,
    /// No token, or not a known one.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The outbox backlog is at its high-water mark.
    #[error("the outbox holds {backlog} unfinished messages; try again later")]
    Overloaded {
        /// Messages not yet terminal.
        backlog: u64,
    },
    /// No such message (or not the caller's), or no such route.
    #[error("not found")]
    NotFound,
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Cancel asked for a message no longer queued.
    #[error("message is {0}; only queued messages can be cancelled")]
    NotCancellable(MessageState),
    /// The body is larger than `max_body`.
    #[error("the body is larger than {max} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The body is not `application/json`.
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body did not arrive within `request_timeout`.
    #[error("the request body did not arrive in time")]
    Timeout,
    /// The store failed. The cause is logged, never sent.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The body of an error (RFC 9457 members plus `field`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable slug.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Fixed short text for the slug.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// The field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// The one mapping from variant to status, slug and title.
    pub fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON"),
            Self::InvalidField { .. } | Self::InvalidBody(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
            ),
            Self::UnknownField { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-field",
                "Unknown field",
            ),
            Self::EmptyText => (StatusCode::UNPROCESSABLE_ENTITY, "empty-text", "Empty text"),
            Self::TextTooLong { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "text-too-long",
                "Text too long",
            ),
            Self::InvalidPhone(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-phone",
                "Invalid phone number",
            ),
            Self::UnknownCarrier(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-carrier",
                "Unknown carrier",
            ),
            Self::IdempotencyConflict => (
                StatusCode::CONFLICT,
                "idempotency-conflict",
                "Idempotency key reused",
            ),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Overloaded { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "overloaded", "Overloaded")
            }
            Self::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::NotCancellable(_) => (StatusCode::CONFLICT, "not-cancellable", "Not cancellable"),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Timeout => (StatusCode::REQUEST_TIMEOUT, "timeout", "Request timeout"),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "Store unavailable",
            ),
        }
    }

    /// The field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidField { field, .. } | Self::UnknownField { field } => Some(field),
            Self::EmptyText | Self::TextTooLong { .. } => Some("text"),
            Self::InvalidPhone(_) => Some("to"),
            Self::UnknownCarrier(_) => Some("carrier"),
            _ => None,
        }
    }

    /// The problem body. A store failure's cause stays out of it.
    pub fn problem(&self) -> Problem {
        let (status, kind, title) = self.kind();
        let detail = match self {
            Self::Unavailable(_) => "the message store is unavailable; try again later".to_owned(),
            other => other.to_string(),
        };
        Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            field: self.field().map(str::to_owned),
        }
    }
}

/// Every problem `type` slug the API can answer with, each once, in the order of the variants.
///
/// Built from [`ApiError::kind`] over one value of each variant, so it cannot drift from the
/// one `match`; `docs/openapi.yaml` lists the same set (checked by the integration tests).
pub fn all_problem_types() -> &'static [&'static str] {
    static TYPES: OnceLock<Vec<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = Vec::new();
        for e in one_of_each() {
            let kind = e.kind().1;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        types
    })
}

/// The HTTP status sent with a problem `type` slug, if the API has that slug.
pub fn problem_status(kind: &str) -> Option<StatusCode> {
    one_of_each()
        .into_iter()
        .map(|e| e.kind())
        .find(|(_, k, _)| *k == kind)
        .map(|(status, _, _)| status)
}

/// One value of each variant of [`ApiError`]. Adding a variant breaks the build in
/// [`variant_index`] until it gets an arm there and a value here (the unit test checks both).
fn one_of_each() -> Vec<ApiError> {
    vec![
        ApiError::InvalidJson(String::new()),
        ApiError::InvalidField {
            field: String::new(),
            detail: String::new(),
        },
        ApiError::InvalidBody(String::new()),
        ApiError::UnknownField {
            field: String::new(),
        },
        ApiError::EmptyText,
        ApiError::TextTooLong {
            segments: 0,
            max: 0,
        },
        ApiError::InvalidPhone(String::new()),
        ApiError::UnknownCarrier(String::new()),
        ApiError::IdempotencyConflict,
        ApiError::Unauthorized,
        ApiError::Overloaded { backlog: 0 },
        ApiError::NotFound,
        ApiError::MethodNotAllowed,
        ApiError::NotCancellable(MessageState::Delivered),
        ApiError::PayloadTooLarge { max: 0 },
        ApiError::UnsupportedMediaType,
        ApiError::Timeout,
        ApiError::Unavailable(String::new()),
    ]
}

/// The position of `e`'s variant in [`one_of_each`]: an exhaustive `match`, no wildcard.
#[cfg_attr(not(test), allow(dead_code))]
fn variant_index(e: &ApiError) -> usize {
    match e {
        ApiError::InvalidJson(_) => 0,
        ApiError::InvalidField { .. } => 1,
        ApiError::InvalidBody(_) => 2,
        ApiError::UnknownField { .. } => 3,
        ApiError::EmptyText => 4,
        ApiError::TextTooLong { .. } => 5,
        ApiError::InvalidPhone(_) => 6,
        ApiError::UnknownCarrier(_) => 7,
        ApiError::IdempotencyConflict => 8,
        ApiError::Unauthorized => 9,
        ApiError::Overloaded { .. } => 10,
        ApiError::NotFound => 11,
        ApiError::MethodNotAllowed => 12,
        ApiError::NotCancellable(_) => 13,
        ApiError::PayloadTooLarge { .. } => 14,
        ApiError::UnsupportedMediaType => 15,
        ApiError::Timeout => 16,
        ApiError::Unavailable(_) => 17,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Unavailable(cause) = &self {
            tracing::error!(%cause, "store failure answered with 503");
        }
        let problem = self.problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            self.kind().0,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Overloaded { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_cause_never_reaches_the_body() {
        let p = ApiError::Unavailable("sled: io error at /var/lib/kori".into()).problem();
        assert_eq!(p.status, 503);
        assert_eq!(p.kind, "store-unavailable");
        assert!(!p.detail.contains("sled"));
    }

    #[test]
    fn one_value_of_each_variant() {
        let all = one_of_each();
        for (i, e) in all.iter().enumerate() {
            assert_eq!(variant_index(e), i, "{e:?} is out of place in one_of_each");
        }
        let types = all_problem_types();
        for e in &all {
            assert!(types.contains(&e.kind().1));
        }
        for kind in types {
            let status = problem_status(kind).unwrap();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{kind}"
            );
        }
        assert_eq!(
            problem_status("not-cancellable"),
            Some(StatusCode::CONFLICT)
        );
        assert_eq!(problem_status("rate-limited"), None);
    }
}
