//! A small HTTP/1.1 client for Kori's own needs: the CLI asking the running daemon, and the
//! demo posting through the real intake. (Delivery callbacks will use it too.)
//!
//! Owns nothing but the request plumbing; plain `http://` only. Used by `app` and the demo.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Why a request failed before an answer came.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not a valid `http://` URL.
    #[error("bad URL: {0}")]
    Url(String),
    /// Connecting or talking to the server failed.
    #[error("{0}")]
    Transport(String),
}

async fn request(
    method: &str,
    url: &str,
    token: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, String), ClientError> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| ClientError::Url(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `GET url` with a bearer token: the status and the body.
pub async fn get(url: &str, token: &str) -> Result<(u16, String), ClientError> {
    request("GET", url, token, None).await
}

/// `DELETE url` with a bearer token: the status and the body.
pub async fn delete(url: &str, token: &str) -> Result<(u16, String), ClientError> {
    request("DELETE", url, token, None).await
}

/// `POST url` with a JSON body and a bearer token: the status and the body.
pub async fn post_json(
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> Result<(u16, String), ClientError> {
    request("POST", url, token, Some(body.to_string().into_bytes())).await
}
