//! The dashboard's "Testanruf" button: runs `kioskctl device test-call`'s check for a kiosk in
//! the background and tells every open page how it goes (`test_call` events: `running`, then
//! `done` with the verdict, or `failed` with the reason). One test call per kiosk at a time.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::http::{self, Status};
use super::live::Live;
use crate::ctl::Fleet;
use crate::ctl::test_call::{self, Output};

/// The test calls running now, by device, and what starts them.
#[derive(Debug, Clone)]
pub struct TestCalls {
    fleet: Arc<Fleet>,
    live: Live,
    running: Arc<Mutex<BTreeSet<String>>>,
    ice_local: Arc<[String]>,
}

impl TestCalls {
    pub fn new(fleet: Fleet, live: Live, ice_local: Vec<String>) -> Self {
        Self {
            fleet: Arc::new(fleet),
            live,
            running: Arc::default(),
            ice_local: ice_local.into(),
        }
    }

    /// Starts a test call to `device`, unless one runs already ([`Status::Conflict`]).
    pub fn start(&self, device: &str) -> Result<(), Status> {
        if !self.lock().insert(device.to_string()) {
            return Err(Status::Conflict);
        }
        let (this, device) = (self.clone(), device.to_string());
        tokio::spawn(async move {
            this.tell(json!({"device": device, "phase": "running"}))
                .await;
            tracing::info!(%device, "dashboard: test call started");
            let ice = this.ice_local.to_vec();
            let found = test_call::check(&this.fleet, &device, Output::Quiet, ice).await;
            let event = match found {
                Ok(report) => json!({"device": device, "phase": "done", "verdict": report.json()}),
                Err(e) => json!({"device": device, "phase": "failed", "error": e.to_string()}),
            };
            tracing::info!(%device, %event, "dashboard: test call over");
            this.lock().remove(&device);
            this.tell(event).await;
        });
        Ok(())
    }

    async fn tell(&self, value: serde_json::Value) {
        self.live
            .announce(http::event("test_call", &value.to_string()))
            .await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}
