//! A small HTTP/1.1 client for Kori's own needs: the CLI asking the running daemon, the demo
//! posting through the real intake, and the outbox POSTing delivery callbacks.
//!
//! Owns nothing but the request plumbing: `http://` and `https://` (rustls, verifying the
//! server against the system's trusted roots, see [`TrustedCas`] for more). Must not touch:
//! anything of the daemon's (it imports nothing from the crate), so the outbox may use it
//! without depending on the API. Used by `app`, the config, the demo and `outbox::callbacks`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{HeaderName, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Most of an answer's body [`HttpClient::post`] keeps: its callers need the status, at most a
/// short error text. A longer body is dropped (the status still counts) rather than held in
/// memory whole; a server cannot make a callback sender buffer megabytes.
const MAX_ANSWER: usize = 64 * 1024;
/// The same for the CLI and the demo asking Kori's own API (whose answers are small).
const MAX_API_ANSWER: usize = 16 << 20;
/// How long an idle connection is kept for reuse. Callbacks go to many shops' hosts; without a
/// timer the pool would hold their sockets until the next request to the same host.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Why a request failed before an answer came.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL (or a header) cannot be sent: not a valid `http://` or `https://` URL.
    #[error("bad URL: {0}")]
    Url(String),
    /// Connecting or talking to the server failed.
    #[error("{0}")]
    Transport(String),
    /// No whole answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// An answer: its status and its body (empty when longer than the caller keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// Certificate authorities trusted for `https://` in addition to the system's roots (an
/// operator's own CA for internal callback receivers: `[http] callback_ca_file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedCas(Arc<Vec<CertificateDer<'static>>>);

impl TrustedCas {
    /// Every certificate of the PEM file at `path`; an error (for a config message) when it
    /// cannot be read, holds something that is not a certificate, or holds none.
    pub fn from_pem_file(path: &Path) -> Result<Self, String> {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| e.to_string())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no PEM certificate in the file".into());
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
        }
        Ok(Self(Arc::new(certs)))
    }

    /// How many certificates.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The system's trusted roots (the OS store; `SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured),
/// read once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system's trusted certificates");
        }
        if found.certs.is_empty() {
            tracing::warn!("no trusted root certificates on this system: https:// callbacks will fail verification (install ca-certificates or set [http] callback_ca_file)");
        }
        found.certs
    })
}

/// The rustls configuration: the system's roots and `extra`, TLS 1.2 and 1.3.
fn tls_config(extra: &TrustedCas) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    if ignored > 0 {
        tracing::debug!(ignored, "system certificates rustls cannot use");
    }
    for cert in extra.0.iter() {
        // Checked when the file was read.
        let _ = roots.add(cert.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's provider supports rustls' default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A client that keeps idle connections for reuse. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with an empty pool that trusts the system's roots. Must be used inside a
    /// tokio runtime.
    pub fn new() -> Self {
        Self::trusting(&TrustedCas::default())
    }

    /// A client that trusts `extra` besides the system's roots.
    pub fn trusting(extra: &TrustedCas) -> Self {
        let mut http = HttpConnector::new();
        // The connector below decides the scheme.
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(extra))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            inner: Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .pool_idle_timeout(POOL_IDLE)
                .build(connector),
        }
    }

    /// `POST url` with `body` and `headers` (name, value); the answer, which must arrive whole
    /// within `timeout` (connecting included).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        self.send("POST", url, headers, body, Some(timeout), MAX_ANSWER)
            .await
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Option<Duration>,
        max_answer: usize,
    ) -> Result<Answer, ClientError> {
        let uri: hyper::Uri = url.parse().map_err(|e| ClientError::Url(format!("{e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(ClientError::Url(format!(
                "{url}: only http:// and https:// URLs are supported"
            )));
        }
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| ClientError::Url(e.to_string()))?;
        for (name, value) in headers {
            let name = HeaderName::try_from(*name)
                .map_err(|e| ClientError::Url(format!("header {name}: {e}")))?;
            let value = HeaderValue::try_from(*value)
                .map_err(|e| ClientError::Url(format!("header {name}: {e}")))?;
            request.headers_mut().append(name, value);
        }
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|e| ClientError::Transport(transport_error(&e)))?;
            let status = response.status().as_u16();
            let body = match Limited::new(response.into_body(), max_answer)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => Bytes::new(),
                Err(e) => return Err(ClientError::Transport(e.to_string())),
            };
            Ok(Answer { status, body })
        };
        match timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| ClientError::Timeout(limit))?,
            None => exchange.await,
        }
    }
}

/// hyper-util's error with its cause ("client error (Connect)" alone says little).
fn transport_error(e: &hyper_util::client::legacy::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// A body-less request with a bearer token: the status and the body.
async fn without_body(method: &str, url: &str, token: &str) -> Result<(u16, String), ClientError> {
    let auth = format!("Bearer {token}");
    let answer = HttpClient::new()
        .send(
            method,
            url,
            &[("authorization", &auth)],
            Bytes::new(),
            None,
            MAX_API_ANSWER,
        )
        .await?;
    Ok(text(answer))
}

/// `GET url` with a bearer token: the status and the body.
pub async fn get(url: &str, token: &str) -> Result<(u16, String), ClientError> {
    without_body("GET", url, token).await
}

/// `DELETE url` with a bearer token: the status and the body.
pub async fn delete(url: &str, token: &str) -> Result<(u16, String), ClientError> {
    without_body("DELETE", url, token).await
}

/// `POST url` with a JSON body and a bearer token: the status and the body.
pub async fn post_json(
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> Result<(u16, String), ClientError> {
    let auth = format!("Bearer {token}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let answer = HttpClient::new()
        .send(
            "POST",
            url,
            &headers,
            Bytes::from(body.to_string()),
            None,
            MAX_API_ANSWER,
        )
        .await?;
    Ok(text(answer))
}

fn text(answer: Answer) -> (u16, String) {
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}
