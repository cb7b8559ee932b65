//! A short MQTT session for one kioskctl command: connect, do a few things, wait for the broker's
//! acknowledgement, disconnect. Unlike the daemon's link it does not retry: a person is waiting
//! for an answer, so an unreachable broker is an error at once.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

use crate::fleet::BrokerUrl;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker {0}: {1}")]
    Connection(String, String),
    #[error("broker {0} did not answer within {1:?}")]
    Timeout(String, Duration),
}

pub struct Session {
    client: AsyncClient,
    eventloop: EventLoop,
    broker: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub async fn connect(broker: &BrokerUrl, client_id: &str) -> Result<Self, BrokerError> {
        let mut opts = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        opts.set_keep_alive(Duration::from_secs(10));
        opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
        let (client, eventloop) = AsyncClient::new(opts, 64);
        let mut session = Self {
            client,
            eventloop,
            broker: broker.to_string(),
        };
        session
            .until(|e| matches!(e, Event::Incoming(Packet::ConnAck(_))))
            .await?;
        Ok(session)
    }

    async fn until(
        &mut self,
        mut done: impl FnMut(&Event) -> bool,
    ) -> Result<Vec<(String, Vec<u8>)>, BrokerError> {
        let mut received = Vec::new();
        let result = tokio::time::timeout(TIMEOUT, async {
            loop {
                let event = self
                    .eventloop
                    .poll()
                    .await
                    .map_err(|e| BrokerError::Connection(self.broker.clone(), e.to_string()))?;
                if let Event::Incoming(Packet::Publish(p)) = &event {
                    received.push((p.topic.clone(), p.payload.to_vec()));
                }
                if done(&event) {
                    return Ok(());
                }
            }
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(received),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(BrokerError::Timeout(self.broker.clone(), TIMEOUT)),
        }
    }

    /// Publishes with QoS 1 and returns once the broker acknowledged it.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), BrokerError> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await
            .map_err(|e| BrokerError::Connection(self.broker.clone(), e.to_string()))?;
        self.until(|e| matches!(e, Event::Incoming(Packet::PubAck(_))))
            .await
            .map(drop)
    }

    /// The retained messages on `filter`: subscribes and collects until `quiet` passes without one.
    pub async fn retained(
        &mut self,
        filter: &str,
        quiet: Duration,
    ) -> Result<Vec<(String, Vec<u8>)>, BrokerError> {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .map_err(|e| BrokerError::Connection(self.broker.clone(), e.to_string()))?;
        let mut all = self
            .until(|e| matches!(e, Event::Incoming(Packet::SubAck(_))))
            .await?;
        loop {
            match tokio::time::timeout(quiet, self.eventloop.poll()).await {
                Err(_) => return Ok(all),
                Ok(Err(e)) => {
                    return Err(BrokerError::Connection(self.broker.clone(), e.to_string()));
                }
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                    all.push((p.topic.clone(), p.payload.to_vec()))
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    pub async fn disconnect(mut self) {
        if self.client.disconnect().await.is_ok() {
            let _ = self
                .until(|e| matches!(e, Event::Outgoing(Outgoing::Disconnect)))
                .await;
        }
    }
}
