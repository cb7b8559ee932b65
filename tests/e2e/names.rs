//! Names that would read otherwise than they are (bidirectional controls) are refused where they
//! enter (docs/protocol.md 3.2).

use crate::harness::{DEVICE, Mosquitto, create_args, kioskctl};

#[test]
fn kioskctl_refuses_a_name_with_a_bidirectional_override() {
    let broker = Mosquitto::start();
    // Shows as "Max Mustermann", but the doctor would read a name the practice never booked.
    let spoofed = "Max \u{202E}nnamretsuM";
    let out = kioskctl(broker.port, &create_args(DEVICE, &["--patient", spoofed]));
    assert!(!out.status.success(), "the appointment was created");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("patient_name") && stderr.contains("bidirectional"),
        "{stderr}"
    );
}
