//! kioskd's clock: tokio's, so the deadlines its tasks sleep to, the times they stamp and the
//! ages they read all agree (also under `tokio::time::pause()` in tests). Handed out as
//! `std::time::Instant`, which is what the pure cores take.

use std::time::Instant;

pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until `deadline`; forever without one (a `select!` branch that never fires).
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
