//! A graceful stop for a server whose processes share changes (also used by the tests'
//! multi-process server, `tests/bin/change_feed_server.rs`).

use actix_web::dev::Server;
use persisted_model::ChangeFeed;

/// Runs `server` until Ctrl-C or SIGTERM, then: the change feed closes (its streams end, as
/// open streams would hold the graceful stop for 30 s, and the other processes hear this one's
/// goodbye), the server stops accepting and finishes the requests in flight, and the changes
/// those last requests made are published before the process exits.
pub async fn serve_until_stopped(server: Server, changes: ChangeFeed) -> std::io::Result<()> {
    let handle = server.handle();
    let feed = changes.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        feed.close();
        handle.stop(true).await;
    });
    let stopped = server.await;
    changes.flush().await;
    stopped
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
