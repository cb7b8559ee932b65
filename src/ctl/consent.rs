//! `kioskctl consent verify FILE`: checks a consent receipt as the doctor's page saves it (the
//! kiosk's hello's `consent`, docs/protocol.md 5): signed by the kiosk it names, with a
//! certificate of this fleet's CA that was valid when the patient consented. The practice files
//! the receipt; this says whether it is genuine and what it records.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::Fleet;
use crate::fleet::trust::Verifier;
use crate::wire::SignedMsg;

#[derive(Debug, Subcommand)]
pub enum ConsentCmd {
    /// Check a consent receipt against the fleet CA and the kiosk's certificate.
    Verify {
        /// The receipt (JSON), as the doctor's page saved it.
        file: PathBuf,
        /// Print the receipt's content as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(fleet: &Fleet, cmd: ConsentCmd) -> anyhow::Result<()> {
    let ConsentCmd::Verify { file, json } = cmd;
    let ca = fleet.read_ca_file(crate::fleet::pki::CA_CERT_FILE)?;
    let verifier = Verifier::from_pem(&ca).map_err(anyhow::Error::msg)?;
    let bytes = std::fs::read(&file)
        .map_err(|e| anyhow::anyhow!("Beleg nicht lesbar / cannot read {}: {e}", file.display()))?;
    let receipt: SignedMsg = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("Kein Einwilligungsbeleg / not a consent receipt: {e}"))?;
    let consent = verifier
        .verify_consent(&receipt)
        .map_err(|e| anyhow::anyhow!("Beleg ungültig / receipt not valid: {e}"))?;
    let at = consent
        .consented_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if json {
        let shown = json!({
            "valid": true, "device": consent.device, "session": consent.session,
            "patient": consent.patient, "consented_at": at, "text": consent.text,
        });
        println!("{shown}");
    } else {
        println!("Einwilligungsbeleg gültig / consent receipt valid");
        println!("  Patient/in:   {}", consent.patient);
        println!("  Kiosk:        {}", consent.device);
        println!("  Zeit / time:  {at}");
        println!("  Text:         {}", consent.text);
        println!("  Sitzung:      {}", consent.session);
    }
    Ok(())
}
