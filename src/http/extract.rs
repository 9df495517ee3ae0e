//! Reading request bodies: our own `Json` extractor.
//!
//! Owns how a body becomes a value: content type, size limit, the `request_timeout` for the
//! whole body (slowloris), and serde errors turned into problem bodies that name the field.
//! axum's own `Json` answers in plain text, so routes use this one. Must not touch: the outbox.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use super::error::ApiError;
use super::{Api, Intake};

/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A JSON body: the parsed value and the raw bytes it came from (hashed for idempotency).
#[derive(Debug)]
pub(crate) struct Json<T> {
    pub(crate) value: T,
    pub(crate) raw: Bytes,
}

impl<I: Intake, T: DeserializeOwned> FromRequest<Arc<Api<I>>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, api: &Arc<Api<I>>) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The whole body within one deadline: a client trickling bytes cannot hold a
        // connection (and its permit) longer than `request_timeout`.
        let read = Bytes::from_request(req, api);
        let raw = match tokio::time::timeout(api.limits.request_timeout, read).await {
            Err(_) => return Err(ApiError::Timeout),
            Ok(Err(rejection)) => return Err(body_error(&rejection, api.limits.max_body)),
            Ok(Ok(raw)) => raw,
        };
        let value = parse(&raw)?;
        Ok(Self { value, raw })
    }
}

fn body_error(rejection: &BytesRejection, max: usize) -> ApiError {
    match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::PayloadTooLarge { max }
        }
        other => ApiError::InvalidJson(format!("could not read the body: {other}")),
    }
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Parses `raw` as a `T`, naming the field at fault in the error. A body that parses takes
/// the plain path; only one that does not is read again with its path tracked (the same
/// bytes fail the same way), so valid requests do not pay for the error's field name.
pub(crate) fn parse<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(raw) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value = serde_path_to_error::deserialize(&mut de).map_err(serde_error)?;
    de.end().map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    Ok(value)
}

fn serde_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::InvalidJson(inner.to_string()),
        Category::Data => {
            let detail = inner.to_string();
            // serde's messages name the key in backticks: "unknown field `tx`, expected …"
            // (the path already ends with it), "missing field `to`" (the path stops at the
            // enclosing object).
            if let Some(name) = quoted_after(&detail, "unknown field `") {
                let field = if path == name || path.ends_with(&format!(".{name}")) {
                    path
                } else {
                    join(&path, name)
                };
                ApiError::UnknownField { field }
            } else if let Some(name) = quoted_after(&detail, "missing field `") {
                ApiError::InvalidField {
                    field: join(&path, name),
                    detail: format!("{name} is required"),
                }
            } else if path == "." {
                ApiError::InvalidBody(format!("the body must be a JSON object: {detail}"))
            } else {
                ApiError::InvalidField {
                    field: path,
                    detail,
                }
            }
        }
    }
}

fn quoted_after<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let start = text.find(prefix)? + prefix.len();
    let len = text[start..].find('`')?;
    Some(&text[start..start + len])
}

fn join(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header as sent, taken without copying the other headers; checked by
/// [`IdempotencyHeader::key`] in the handler, after the body (which is reported first).
#[derive(Debug)]
pub(crate) struct IdempotencyHeader(Option<axum::http::HeaderValue>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IdempotencyHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.headers.get(IDEMPOTENCY_KEY).cloned()))
    }
}

impl IdempotencyHeader {
    /// The key (1 to 255 visible ASCII characters), or `None` without the header; anything
    /// else is an error.
    pub(crate) fn key(&self) -> Result<Option<String>, ApiError> {
        let Some(value) = &self.0 else {
            return Ok(None);
        };
        let bytes = value.as_bytes();
        if bytes.is_empty()
            || bytes.len() > MAX_IDEMPOTENCY_KEY
            || !bytes.iter().all(|b| b.is_ascii_graphic())
        {
            return Err(ApiError::InvalidField {
                field: "Idempotency-Key".into(),
                detail: format!("must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
            });
        }
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        to: String,
        priority: Option<u8>,
    }

    fn err(raw: &str) -> ApiError {
        match parse::<Body>(raw.as_bytes()) {
            Err(e) => e,
            Ok(b) => panic!("parsed {b:?}"),
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert!(matches!(err("{\"to\":"), ApiError::InvalidJson(_)));
        assert!(matches!(err("{\"to\":\"x\"} x"), ApiError::InvalidJson(_)));
        assert_eq!(err("{\"to\":5}").field(), Some("to"));
        assert_eq!(
            err("{\"to\":\"x\",\"priority\":300}").field(),
            Some("priority")
        );
        assert_eq!(err("{}").field(), Some("to"));
        let unknown = err("{\"to\":\"x\",\"tx\":1}");
        assert_eq!(unknown.kind().1, "unknown-field");
        assert_eq!(unknown.field(), Some("tx"));
        assert_eq!(err("[]").kind().1, "invalid-field");
    }

    #[test]
    fn json_media_types() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
