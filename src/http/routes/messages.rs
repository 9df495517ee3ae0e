//! `/v1/messages`: send one, send a batch, show one, cancel one.
//!
//! Each send is validated in full before anything is written; the valid messages of a request
//! go to the outbox in one `accept` call (one flush), together with the idempotency record.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::clock::rfc3339;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{IdempotencyHeader, Json, parse};
use crate::http::intake::{IntakeError, StoredResponse};
use crate::http::validate::{SendRequest, build};
use crate::http::{Api, Intake};
use crate::outbox::model::PartView;
use crate::outbox::{Message, MessageError, MessageId, MessageState, TextEncoding};

/// Most entries in one batch.
pub const MAX_BATCH: usize = 1000;

/// Header set on a response replayed for a repeated `Idempotency-Key`.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The 202 answer for one accepted message.
#[derive(Debug, Serialize)]
struct Accepted<'a> {
    id: String,
    state: MessageState,
    segments: usize,
    encoding: TextEncoding,
    to: &'a str,
}

impl<'a> From<&'a Message> for Accepted<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            id: m.id.to_string(),
            state: m.state,
            segments: m.segments(),
            encoding: m.encoding,
            to: &m.to,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    messages: Vec<Box<RawValue>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Slot<'a> {
    Accepted(Accepted<'a>),
    Failed { error: Problem },
}

#[derive(Serialize)]
struct BatchResults<'a> {
    results: Vec<Slot<'a>>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Unavailable(format!("serialising: {e}")))
}

/// `POST /v1/messages`
pub(crate) async fn send_one<I: Intake>(
    State(api): State<Arc<Api<I>>>,
    caller: Caller,
    idempotency: IdempotencyHeader,
    body: Json<SendRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency.key()?;
    let Json { value, raw } = body;
    submit(&api, &caller, key, &raw, |carriers, now| {
        let message = build(value, &caller.name, &api.rules, carriers, now)?;
        let body = to_json(&Accepted::from(&message))?;
        Ok((vec![message], body))
    })
    .await
}

/// `POST /v1/messages/batch`
pub(crate) async fn send_batch<I: Intake>(
    State(api): State<Arc<Api<I>>>,
    caller: Caller,
    idempotency: IdempotencyHeader,
    body: Json<BatchRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency.key()?;
    let Json { value, raw } = body;
    let entries = value.messages;
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(ApiError::InvalidField {
            field: "messages".into(),
            detail: format!("must hold 1 to {MAX_BATCH} messages, got {}", entries.len()),
        });
    }
    submit(&api, &caller, key, &raw, |carriers, now| {
        // Each entry stands alone: a bad one fills its slot with a problem, the rest go on.
        // Field names in a slot's problem are relative to that entry.
        let outcomes: Vec<Result<Message, ApiError>> = entries
            .iter()
            .map(|entry| {
                let req = parse::<SendRequest>(entry.get().as_bytes())?;
                build(req, &caller.name, &api.rules, carriers, now)
            })
            .collect();
        let results = outcomes
            .iter()
            .map(|o| match o {
                Ok(m) => Slot::Accepted(Accepted::from(m)),
                Err(e) => Slot::Failed { error: e.problem() },
            })
            .collect();
        let body = to_json(&BatchResults { results })?;
        let messages = outcomes.into_iter().filter_map(Result::ok).collect();
        Ok((messages, body))
    })
    .await
}

/// The part common to single and batch sends: idempotency lookup, the high-water check,
/// validation (`prepare`), one `accept`, and the race where another request stored the key
/// first.
async fn submit<I: Intake>(
    api: &Api<I>,
    caller: &Caller,
    key: Option<String>,
    raw: &Bytes,
    prepare: impl FnOnce(&[String], Timestamp) -> Result<(Vec<Message>, Vec<u8>), ApiError>,
) -> Result<Response, ApiError> {
    // The body is hashed only when a key asks for it (a 1 MiB batch costs a few ms).
    let keyed = key.map(|key| {
        let hash: [u8; 32] = Sha256::digest(raw).into();
        (key, hash)
    });
    if let Some((key, hash)) = &keyed {
        let stored = api
            .intake
            .idempotency(&caller.name, key)
            .map_err(unexpected)?;
        if let Some(previous) = stored {
            return replay(previous, hash);
        }
    }
    let backlog = api.intake.backlog();
    if backlog >= api.high_water {
        return Err(ApiError::Overloaded { backlog });
    }
    let now = Timestamp::now();
    let carriers = api.intake.carrier_names();
    let (messages, body) = prepare(&carriers, now)?;
    let status = StatusCode::ACCEPTED;
    let body_hash = keyed.as_ref().map(|(_, hash)| *hash);
    let record = keyed.map(|(key, body_hash)| StoredResponse {
        owner: caller.name.to_string(),
        key,
        body_hash,
        status: status.as_u16(),
        response: body.clone(),
        created_at: now.as_millisecond(),
    });
    if messages.is_empty() && record.is_none() {
        return Ok(json_response(status, body));
    }
    match api.intake.accept(messages, record).await {
        Ok(()) => Ok(json_response(status, body)),
        Err(IntakeError::IdempotencyExists(previous)) => match &body_hash {
            Some(hash) => replay(previous, hash),
            None => Err(unexpected(IntakeError::IdempotencyExists(previous))),
        },
        Err(other) => Err(unexpected(other)),
    }
}

/// The stored response again (same body), or 409 (another body under the same key).
fn replay(previous: StoredResponse, body_hash: &[u8; 32]) -> Result<Response, ApiError> {
    if previous.body_hash != *body_hash {
        return Err(ApiError::IdempotencyConflict);
    }
    let status = StatusCode::from_u16(previous.status).unwrap_or(StatusCode::ACCEPTED);
    let mut response = json_response(status, previous.response);
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(response)
}

/// An intake error where only a store failure makes sense.
fn unexpected(err: IntakeError) -> ApiError {
    match err {
        IntakeError::Unavailable(cause) => ApiError::Unavailable(cause),
        other => ApiError::Unavailable(format!("unexpected intake answer: {other}")),
    }
}

/// The `{id}` of a message path. An id that does not parse names no message: 404.
#[derive(Debug)]
pub(crate) struct MessagePath(MessageId);

impl<S: Send + Sync> FromRequestParts<S> for MessagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        id.parse().map(Self).map_err(|_| ApiError::NotFound)
    }
}

/// `GET /v1/messages/{id}`
pub(crate) async fn show<I: Intake>(
    State(api): State<Arc<Api<I>>>,
    caller: Caller,
    MessagePath(id): MessagePath,
) -> Result<Response, ApiError> {
    match api.intake.get(id).map_err(unexpected)? {
        Some(m) if caller.may_see(&m.owner) => message_response(StatusCode::OK, &m),
        _ => Err(ApiError::NotFound),
    }
}

/// `DELETE /v1/messages/{id}`
pub(crate) async fn cancel<I: Intake>(
    State(api): State<Arc<Api<I>>>,
    caller: Caller,
    MessagePath(id): MessagePath,
) -> Result<Response, ApiError> {
    // A shop may only cancel its own messages; someone else's is "not found", as for GET.
    match api.intake.get(id).map_err(unexpected)? {
        Some(m) if caller.may_see(&m.owner) => {}
        _ => return Err(ApiError::NotFound),
    }
    match api.intake.cancel(id).await {
        Ok(Some(m)) => message_response(StatusCode::OK, &m),
        Ok(None) => Err(ApiError::NotFound),
        Err(IntakeError::NotCancellable(state)) => Err(ApiError::NotCancellable(state)),
        Err(other) => Err(unexpected(other)),
    }
}

fn message_response(status: StatusCode, m: &Message) -> Result<Response, ApiError> {
    Ok(json_response(status, to_json(&MessageView::from(m))?))
}

/// A message as `GET /v1/messages/{id}` shows it.
#[derive(Debug, Serialize)]
struct MessageView<'a> {
    id: String,
    to: &'a str,
    from: &'a str,
    state: MessageState,
    segments: usize,
    encoding: TextEncoding,
    /// The carrier that took it, else the one asked for.
    carrier: Option<&'a str>,
    parts: Vec<PartView<'a>>,
    attempts: u32,
    receipt: bool,
    priority: u8,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_at: Option<String>,
    valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    done_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a MessageError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

impl<'a> From<&'a Message> for MessageView<'a> {
    fn from(m: &'a Message) -> Self {
        Self {
            id: m.id.to_string(),
            to: &m.to,
            from: &m.from,
            state: m.state,
            segments: m.segments(),
            encoding: m.encoding,
            carrier: m.routed_to.as_deref().or(m.carrier.as_deref()),
            parts: m.parts.iter().map(PartView::from).collect(),
            attempts: m.attempts,
            receipt: m.receipt,
            priority: m.priority,
            created_at: rfc3339(m.created_at),
            send_at: m.send_at.map(rfc3339),
            valid_until: rfc3339(m.valid_until),
            submitted_at: m.submitted_at.map(rfc3339),
            done_at: m.done_at.map(rfc3339),
            error: m.error.as_ref(),
            reference: m.reference.as_deref(),
            callback_url: m.callback_url.as_deref(),
        }
    }
}
