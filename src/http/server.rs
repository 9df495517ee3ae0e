//! The listener: accept, cap, serve HTTP/1.1, and shut down gracefully.
//!
//! Owns the accept loop, the connection semaphore and the hyper connection settings. Must
//! not touch: request handling (the router does). Called by `app` with a bound listener.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{HttpConfig, Intake, router};

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the API on `listener` until `cancel` fires; then stops accepting, lets requests in
/// progress finish (at most `shutdown_grace`), and returns.
///
/// At most `max_connections` connections are open at once: the next `accept` waits for a
/// permit, so excess clients queue in the kernel's listen backlog rather than in memory.
pub async fn serve<I: Intake>(
    listener: TcpListener,
    config: HttpConfig,
    intake: Arc<I>,
    cancel: CancellationToken,
) -> io::Result<()> {
    let app = router(&config, intake);
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.request_timeout)
        .keep_alive(true)
        // Head and body in one buffer, one `write`: answers are small JSON, and copying the
        // body once costs less than the vectored write (measured ~1 µs per request).
        .writev(false);

    loop {
        let permit = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            permit = permits.clone().acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        let stream = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "http: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "http: set_nodelay failed");
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "http: connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.shutdown_grace) => {
            tracing::warn!(grace = ?config.shutdown_grace, "http: requests still running at shutdown; dropped");
        }
    }
    Ok(())
}
