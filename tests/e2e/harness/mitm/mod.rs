//! A man in the middle with the broker admin's rights (docs/protocol.md section 10.4): the
//! doctor reaches his broker, a copy of the fleet's, and his relay carries everything between
//! the two, attacking the session's signalling on the way.

mod broker;
mod peers;
mod relay;

pub use relay::{Mode, Report};

use broker::ForgedBroker;
use relay::Relay;

use super::{DEVICE, Fleet, fleet_options};

#[derive(Debug)]
pub struct Attacker {
    broker: ForgedBroker,
    relay: Relay,
}

impl Attacker {
    /// Comes between the test kiosk of `fleet` and the doctor of `session`. Start it after the
    /// appointment was made: his broker copies the doctor's login from the fleet's.
    pub fn start(fleet: &Fleet, session: &str, mode: Mode) -> Self {
        let broker = ForgedBroker::copy_of(fleet);
        let relay = Relay::start(
            fleet.admin_options("mitm-fleet"),
            fleet_options(&broker.device_url(), fleet.admin_material(), "mitm-forged"),
            DEVICE,
            session,
            mode,
        );
        Self { broker, relay }
    }

    /// Where the doctor's client connects: the attacker's broker.
    pub fn doctor_url(&self) -> String {
        self.broker.doctor_url()
    }

    pub fn report(&self) -> Report {
        self.relay.report()
    }
}
