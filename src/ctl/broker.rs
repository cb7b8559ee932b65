//! A short MQTT session for one kioskctl command: connect, do a few things, wait for the broker's
//! acknowledgement, disconnect. Unlike the daemon's link it does not retry: a person is waiting
//! for an answer, so an unreachable broker is an error at once.

use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, Event, EventLoop, Outgoing, Packet, QoS};

use crate::fleet::Endpoint;
use crate::fleet::dynsec::{self, Response};

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "Broker {0} nicht erreichbar oder Verbindung gestört / broker {0} unreachable or the connection failed: {1}"
    )]
    Connection(String, String),
    #[error("Broker {0} antwortet nicht / broker {0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("Broker {0} lehnt die Anmeldung ab / broker {0} refused the login: {1:?}")]
    Refused(String, ConnectReturnCode),
    #[error("Broker {0}: TLS-Fehler / TLS error: {1}")]
    Tls(String, crate::fleet::tls::TlsError),
    #[error(
        "Broker {0}: keine Zugriffskontrolle (Dynamic Security) / broker {0} did not answer on its access-control topic within {1:?}: is its Dynamic Security plugin loaded (the config `kioskctl broker config` writes)?"
    )]
    NoAccessControl(String, Duration),
    #[error(
        "Broker {0}: die Zugriffskontrolle lehnt {2} ab / the access control plugin refused {2}: {1}"
    )]
    Dynsec(String, String, String),
}

pub struct Session {
    client: AsyncClient,
    eventloop: EventLoop,
    broker: String,
    /// Messages that arrived while the session waited for something else (`next_message`).
    pending: std::collections::VecDeque<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub async fn connect(endpoint: &Endpoint, client_id: &str) -> Result<Self, BrokerError> {
        let broker = endpoint.url.to_string();
        let opts = endpoint
            .mqtt_options(client_id, Duration::from_secs(10), 1024 * 1024)
            .map_err(|e| BrokerError::Tls(broker.clone(), e))?;
        let (client, eventloop) = AsyncClient::new(opts, 64);
        let mut session = Self {
            client,
            eventloop,
            broker,
            pending: Default::default(),
        };
        let mut code = ConnectReturnCode::Success;
        session
            .until(|e| match e {
                Event::Incoming(Packet::ConnAck(ack)) => {
                    code = ack.code;
                    true
                }
                _ => false,
            })
            .await?;
        match code {
            ConnectReturnCode::Success => Ok(session),
            refused => Err(BrokerError::Refused(session.broker, refused)),
        }
    }

    /// Sends commands to the broker's Dynamic Security plugin and returns its answers. Errors
    /// other than "not found" (expected when deleting to start clean) fail the call.
    pub async fn dynsec(
        &mut self,
        commands: Vec<serde_json::Value>,
    ) -> Result<Vec<Response>, BrokerError> {
        let broker = self.broker.clone();
        let wrap = |e: rumqttc::ClientError| BrokerError::Connection(broker.clone(), e.to_string());
        self.client
            .subscribe(dynsec::RESPONSE_TOPIC, QoS::AtLeastOnce)
            .await
            .map_err(wrap)?;
        self.until(|e| matches!(e, Event::Incoming(Packet::SubAck(_))))
            .await?;
        self.client
            .publish(
                dynsec::CONTROL_TOPIC,
                QoS::AtLeastOnce,
                false,
                dynsec::encode_commands(&commands),
            )
            .await
            .map_err(wrap)?;
        // The plugin answers only the client that asked, on the response topic.
        let received = self
                        .until(|e| matches!(e, Event::Incoming(Packet::Publish(p)) if p.topic == dynsec::RESPONSE_TOPIC))
            .await
            .map_err(|e| match e {
                BrokerError::Timeout(broker, waited) => BrokerError::NoAccessControl(broker, waited),
                other => other,
            })?;
        let (_, payload) = received
            .into_iter()
            .rfind(|(topic, _)| topic == dynsec::RESPONSE_TOPIC)
            .expect("until() returned on the response");
        let responses = dynsec::decode_responses(&payload).map_err(|e| {
            BrokerError::Connection(self.broker.clone(), format!("unreadable answer: {e}"))
        })?;
        if let Some(failed) = responses
            .iter()
            .find(|r| r.error.is_some() && !dynsec::is_not_found(r))
        {
            return Err(BrokerError::Dynsec(
                self.broker.clone(),
                failed.error.clone().unwrap_or_default(),
                failed.command.clone(),
            ));
        }
        Ok(responses)
    }

    async fn until(
        &mut self,
        mut done: impl FnMut(&Event) -> bool,
    ) -> Result<Vec<(String, Vec<u8>)>, BrokerError> {
        let mut received = Vec::new();
        let result = tokio::time::timeout(TIMEOUT, async {
            loop {
                let event = self.poll().await?;
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
        let sent = self
            .client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await;
        self.acknowledged(sent, |e| matches!(e, Event::Incoming(Packet::PubAck(_))))
            .await
    }

    /// Waits for the broker's answer `done` to a request that was `sent`, keeping what the
    /// subscriptions delivered meanwhile for [`Session::next_message`].
    async fn acknowledged(
        &mut self,
        sent: Result<(), rumqttc::ClientError>,
        done: impl FnMut(&Event) -> bool,
    ) -> Result<(), BrokerError> {
        sent.map_err(|e| BrokerError::Connection(self.broker.clone(), e.to_string()))?;
        let received = self.until(done).await?;
        self.pending.extend(received);
        Ok(())
    }

    /// Subscribes to `filter`; returns once the broker granted it. Its messages come from
    /// [`Session::next_message`].
    pub async fn subscribe(&mut self, filter: &str) -> Result<(), BrokerError> {
        let sent = self.client.subscribe(filter, QoS::AtLeastOnce).await;
        self.acknowledged(sent, |e| matches!(e, Event::Incoming(Packet::SubAck(_))))
            .await
    }

    /// The next message of this session's subscriptions, waiting as long as it takes.
    pub async fn next_message(&mut self) -> Result<(String, Vec<u8>), BrokerError> {
        if let Some(message) = self.pending.pop_front() {
            return Ok(message);
        }
        loop {
            if let Event::Incoming(Packet::Publish(p)) = self.poll().await? {
                return Ok((p.topic.clone(), p.payload.to_vec()));
            }
        }
    }

    async fn poll(&mut self) -> Result<Event, BrokerError> {
        self.eventloop
            .poll()
            .await
            .map_err(|e| BrokerError::Connection(self.broker.clone(), e.to_string()))
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
