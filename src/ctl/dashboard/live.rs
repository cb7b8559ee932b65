//! The one owner of the dashboard's table: a task that reads the fleet manager's MQTT link,
//! changes the [`FleetView`], and fans each change out to the open pages as a ready-made
//! Server-Sent Event. Pages hold a [`Live`] handle and ask it for a snapshot and a subscription
//! over a bounded channel; they never touch the table.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::fleet_view::{FleetView, Row, Update};
use super::http;
use crate::fleet::LinkEvent;

/// How many events a slow page may fall behind before it gets a fresh snapshot instead.
const FAN_OUT: usize = 256;

/// The whole table, as `/api/fleet` and the first event of `/api/events` send it.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// Whether kioskctl's own connection to the broker stands: without it the rows go stale.
    pub broker_connected: bool,
    pub kiosks: Vec<Row>,
}

#[derive(Debug)]
enum Ask {
    /// The snapshot as JSON, and (for an event stream) the changes after it.
    Snapshot {
        subscribe: bool,
        reply: oneshot::Sender<(String, Option<broadcast::Receiver<Arc<str>>>)>,
    },
    /// An event of the dashboard's own (a test call's progress) for every open page.
    Announce(String),
}

/// A page's handle to the table's owner.
#[derive(Debug, Clone)]
pub struct Live {
    asks: mpsc::Sender<Ask>,
}

impl Live {
    /// Starts the owner with `view`, reading `link`'s events until the link ends.
    pub fn spawn(view: FleetView, link: mpsc::Receiver<LinkEvent>) -> Self {
        let (asks, asked) = mpsc::channel(64);
        tokio::spawn(own(view, link, asked));
        Self { asks }
    }

    async fn ask(
        &self,
        subscribe: bool,
    ) -> Option<(String, Option<broadcast::Receiver<Arc<str>>>)> {
        let (reply, answer) = oneshot::channel();
        self.asks
            .send(Ask::Snapshot { subscribe, reply })
            .await
            .ok()?;
        answer.await.ok()
    }

    /// Tells every open page `event` (an SSE event as [`http::event`] makes it).
    pub async fn announce(&self, event: String) {
        let _ = self.asks.send(Ask::Announce(event)).await;
    }

    /// The table as JSON; `None` once the owner has ended.
    pub async fn snapshot(&self) -> Option<String> {
        self.ask(false).await.map(|(json, _)| json)
    }

    /// The table as JSON and every change after it, each an SSE event.
    pub async fn subscribe(&self) -> Option<(String, broadcast::Receiver<Arc<str>>)> {
        let (json, changes) = self.ask(true).await?;
        Some((json, changes?))
    }
}

fn snapshot_json(view: &FleetView, broker_connected: bool) -> String {
    let snapshot = Snapshot {
        broker_connected,
        kiosks: view.rows(),
    };
    serde_json::to_string(&snapshot).expect("rows serialise")
}

/// The event that tells pages about one message's change, if it made one.
pub fn change_event(update: Update) -> Option<String> {
    match update {
        Update::Changed(row) => Some(http::event(
            "kiosk",
            &serde_json::to_string(&row).expect("rows serialise"),
        )),
        Update::Gone(device) => Some(http::event(
            "gone",
            &serde_json::json!({ "device": device }).to_string(),
        )),
        Update::Unchanged | Update::Ignored(_) => None,
    }
}

async fn own(
    mut view: FleetView,
    mut link: mpsc::Receiver<LinkEvent>,
    mut asks: mpsc::Receiver<Ask>,
) {
    let (out, _) = broadcast::channel::<Arc<str>>(FAN_OUT);
    let mut connected = false;
    loop {
        tokio::select! {
            event = link.recv() => {
                let Some(event) = event else { return };
                let sse = match event {
                    LinkEvent::Connected => {
                        connected = true;
                        tracing::info!("dashboard: connected to the broker");
                        Some(broker_event(true))
                    }
                    LinkEvent::Disconnected { reason, retry_in } => {
                        tracing::warn!(%reason, ?retry_in, "dashboard: broker connection lost");
                        connected.then(|| broker_event(false)).inspect(|_| connected = false)
                    }
                    LinkEvent::Message { topic, payload } => {
                        let update = view.apply(&topic, &payload);
                        if let Update::Ignored(why) = &update {
                            tracing::warn!(topic, why, "dashboard: message skipped");
                        }
                        change_event(update)
                    }
                };
                if let Some(sse) = sse {
                    // No page open: nobody to tell, which is fine.
                    let _ = out.send(sse.into());
                }
            }
            ask = asks.recv() => match ask {
                None => return,
                Some(Ask::Snapshot { subscribe, reply }) => {
                    let changes = subscribe.then(|| out.subscribe());
                    let _ = reply.send((snapshot_json(&view, connected), changes));
                }
                Some(Ask::Announce(event)) => {
                    let _ = out.send(event.into());
                }
            },
        }
    }
}

fn broker_event(connected: bool) -> String {
    http::event(
        "broker",
        &serde_json::json!({ "connected": connected }).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{KioskState, StateReport, V1, encode};

    fn message(device: &str, state: KioskState) -> LinkEvent {
        let report = StateReport {
            v: V1,
            state,
            ..StateReport::offline()
        };
        LinkEvent::Message {
            topic: format!("r/devices/{device}/state"),
            payload: encode(&report).into(),
        }
    }

    #[tokio::test]
    async fn a_page_gets_the_snapshot_then_each_change_once() {
        let (link, events) = mpsc::channel(8);
        let live = Live::spawn(FleetView::new("r"), events);
        link.send(LinkEvent::Connected).await.unwrap();
        link.send(message("k1", KioskState::Idle)).await.unwrap();
        // The owner reads in order, so the snapshot asked for now holds both.
        let (json, mut changes) = loop {
            let (json, changes) = live.subscribe().await.unwrap();
            if json.contains("k1") {
                break (json, changes);
            }
            tokio::task::yield_now().await;
        };
        let snapshot: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(snapshot["broker_connected"], true);
        assert_eq!(snapshot["kiosks"][0]["state"], "idle");

        link.send(message("k1", KioskState::Idle)).await.unwrap(); // the same: no event
        link.send(message("k1", KioskState::CodeAccepted))
            .await
            .unwrap();
        let event = changes.recv().await.unwrap();
        assert!(
            event.starts_with("event: kiosk\ndata: {\"device\":\"k1\""),
            "{event}"
        );
        assert!(event.contains("\"state\":\"code_accepted\""), "{event}");

        link.send(LinkEvent::Disconnected {
            reason: "gone".into(),
            retry_in: std::time::Duration::from_secs(1),
        })
        .await
        .unwrap();
        assert_eq!(
            &*changes.recv().await.unwrap(),
            "event: broker\ndata: {\"connected\":false}\n\n"
        );
        drop(link);
        // The owner ends with its link; pages then learn it from a refused snapshot.
        while live.snapshot().await.is_some() {
            tokio::task::yield_now().await;
        }
    }
}
