//! The HTTP API (design.md "HTTP API"): messages in, state out.
//!
//! Owns the listener, the router, authentication, request validation and the problem+json
//! error bodies. Must not touch: the store or the dispatcher; it reaches the outbox only
//! through [`Intake`], which `app` implements and hands to [`serve`].
//!
//! Routes:
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /v1/messages` | `202 {id, state, segments, encoding, to}` |
//! | `POST /v1/messages/batch` | `202 {results: [{id…} \| {error: problem}]}`, up to 1,000, one `accept` |
//! | `GET /v1/messages/{id}` | the message |
//! | `DELETE /v1/messages/{id}` | 200 with the cancelled message; 409 `not-cancellable` |
//! | `GET /healthz` | `200 {status: "ok"}` (no token) |
//! | `GET /readyz` | 200 or 503 with the carriers that are down (no token) |
//!
//! Errors are `application/problem+json` `{type, title, status, detail, field?}`. The `type`
//! slugs, each from one variant of [`ApiError`] (the one `match` is in `error.rs`):
//!
//! | type | status | when |
//! | --- | --- | --- |
//! | `invalid-json` | 400 | the body is not JSON (or could not be read) |
//! | `unauthorized` | 401 | no `Authorization: Bearer`, or an unknown token (`WWW-Authenticate: Bearer`) |
//! | `not-found` | 404 | no such message, someone else's (shop tokens), or no such route |
//! | `method-not-allowed` | 405 | the route exists, the method does not |
//! | `timeout` | 408 | the body did not arrive within `request_timeout` |
//! | `idempotency-conflict` | 409 | `Idempotency-Key` reused with another body |
//! | `not-cancellable` | 409 | cancel of a message that is no longer queued |
//! | `payload-too-large` | 413 | the body is over `max_body` (1 MiB) |
//! | `unsupported-media-type` | 415 | the body is not `application/json` |
//! | `invalid-field` | 422 | wrong type, missing, or a value out of range (`field` names it) |
//! | `unknown-field` | 422 | a field the API does not know (`field` names it) |
//! | `empty-text` | 422 | `text` is empty |
//! | `text-too-long` | 422 | `text` needs more than `max_segments` segments (the count is in `detail`) |
//! | `invalid-phone` | 422 | `to` is not a valid mobile number (fixed-line numbers are refused) |
//! | `unknown-carrier` | 422 | `carrier` names no configured carrier |
//! | `overloaded` | 503 | the outbox backlog is at `high_water` (`Retry-After: 5`) |
//! | `store-unavailable` | 503 | the store failed; the cause is logged, not sent |
//!
//! design.md also lists `rate-limited` (429) and `opted-out`; neither is produced by these
//! routes yet (no per-token rate limit; opt-outs belong to the cart routes).
//!
//! Request rules: `validity` is a friendly duration (`"90m"`, `"2h"`), default 48 h, at most
//! 72 h, counted from when the message is due (`send_at`, else now). `send_at` is RFC 3339 with
//! an offset, at most 30 days ahead; a past time means now. `priority` is 0 to 3. `from`
//! defaults to `HttpConfig::default_from`. `to` is parsed in `default_region` and stored as
//! E.164.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

mod auth;
mod error;
mod extract;
mod intake;
mod outbox;
mod phone;
mod routes;
mod server;
mod validate;

pub use auth::{ApiToken, Caller, Scope};
pub use error::{
    ApiError, PROBLEM_JSON, Problem, RETRY_AFTER_SECS, all_problem_types, problem_status,
};
pub use extract::MAX_IDEMPOTENCY_KEY;
pub use intake::{CarrierReadiness, Intake, IntakeError, Readiness, StoredResponse};
pub use routes::messages::{MAX_BATCH, REPLAYED_HEADER};
pub use server::serve;
pub use validate::{
    DEFAULT_VALIDITY, MAX_CALLBACK_URL, MAX_PRIORITY, MAX_REFERENCE_CHARS, MAX_SCHEDULE_AHEAD,
    MAX_VALIDITY,
};

/// Settings of the HTTP intake.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where `app` binds the listener (default 127.0.0.1:8787); [`serve`] takes it bound.
    pub listen: SocketAddr,
    /// Largest request body in bytes (default 1 MiB); larger gets 413.
    pub max_body: usize,
    /// Backlog (non-terminal messages) at which sends get 503 `overloaded`.
    pub high_water: u64,
    /// Time allowed for a request's headers and, separately, for its whole body (408).
    /// Idle keep-alive connections are closed after it too.
    pub request_timeout: Duration,
    /// Region for numbers written without `+` (e.g. FI: `040 123 4567`).
    pub default_region: phonenumber::country::Id,
    /// Sender used when a request has no `from`; without one such requests get 422.
    pub default_from: Option<String>,
    /// Most segments a message may need (default 10); more gets 422 `text-too-long`.
    pub max_segments: usize,
    /// The API tokens.
    pub tokens: Vec<ApiToken>,
    /// Open connections at most; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// How long [`serve`] waits for requests in progress after cancellation.
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            max_body: 1024 * 1024,
            high_water: 1_000_000,
            request_timeout: Duration::from_secs(10),
            default_region: phonenumber::country::Id::FI,
            default_from: None,
            max_segments: 10,
            tokens: Vec::new(),
            // Each connection holds a task and two buffers of a few KiB; 1,024 is far above
            // what the shops on a local network open, and well under the default fd limit.
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler shares.
pub(crate) struct Api<I> {
    intake: Arc<I>,
    tokens: auth::TokenTable,
    rules: validate::Rules,
    limits: Limits,
    high_water: u64,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_body: usize,
    request_timeout: Duration,
}

/// The routes on `intake`, without a listener (tests drive it directly or through [`serve`]).
pub fn router<I: Intake>(config: &HttpConfig, intake: Arc<I>) -> Router {
    let api = Arc::new(Api {
        intake,
        tokens: auth::TokenTable::new(&config.tokens),
        rules: validate::Rules {
            default_region: config.default_region,
            default_from: config.default_from.clone(),
            max_segments: config.max_segments,
        },
        limits: Limits {
            max_body: config.max_body,
            request_timeout: config.request_timeout,
        },
        high_water: config.high_water,
    });
    Router::new()
        .route("/v1/messages", post(routes::messages::send_one::<I>))
        .route(
            "/v1/messages/batch",
            post(routes::messages::send_batch::<I>),
        )
        .route(
            "/v1/messages/{id}",
            get(routes::messages::show::<I>).delete(routes::messages::cancel::<I>),
        )
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz::<I>))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.max_body))
        .with_state(api)
}
