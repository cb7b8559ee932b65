//! The provisioning bundle's import (`fleet::identity::import_bundle`), the real function with
//! its files: the fuzzer's bytes are the bundle on the boot partition. The checks:
//!
//! - nothing panics, whatever the file holds;
//! - a refused bundle leaves no identity behind, and its error never quotes the private key;
//! - an imported bundle is what the kiosk loads afterwards, its device id is a valid id, and
//!   the bundle file, which holds the key, is gone.
//!
//! Files go to a directory of this process's under /dev/shm (memory, so the fuzzer is not
//! bound by the disk), or under the temp dir where there is no /dev/shm.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use praxiskiosk::fleet::identity::{IDENTITY_DIR, import_bundle, load, wipe_identity};
use praxiskiosk::wire::{ProvisionBundle, decode, is_valid_id};

fn workdir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        base.join(format!("praxiskiosk-fuzz-bundle-{}", std::process::id()))
    })
}

pub fn check(data: &[u8]) {
    let dir = workdir();
    let bundle = dir.join("praxiskiosk-provision.json");
    let state = dir.join("state");
    fs::create_dir_all(&state).expect("a directory for the bundle target");
    fs::write(&bundle, data).expect("writing the bundle");
    imports(data, &bundle, &state);
    // Made and removed for each input: a process that ends leaves nothing in /dev/shm.
    fs::remove_dir_all(dir).expect("removing the bundle target's directory");
}

fn imports(data: &[u8], bundle: &Path, state: &Path) {
    let result = import_bundle(bundle, state);
    match result {
        Ok(identity) => {
            assert!(is_valid_id(&identity.device), "{:?}", identity.device);
            assert!(
                !bundle.exists(),
                "the imported bundle, with its key, is still there"
            );
            let loaded = load(state).expect("the imported identity loads");
            assert_eq!(
                loaded.as_ref(),
                Some(&identity),
                "loaded is not what was imported"
            );
            wipe_identity(state).expect("wiping the identity");
        }
        Err(e) => {
            assert!(
                !state.join(IDENTITY_DIR).exists(),
                "a refused bundle left an identity: {e}"
            );
            if let Ok(parsed) = decode::<ProvisionBundle>(data) {
                let key = parsed.key_pem.trim();
                // A key that other fields (or the path) also hold proves nothing when shown.
                let elsewhere = [
                    &parsed.device,
                    &parsed.room,
                    &parsed.broker,
                    &parsed.ca_pem,
                    &parsed.cert_pem,
                ]
                .iter()
                .any(|field| field.contains(key))
                    || bundle.to_string_lossy().contains(key);
                if key.len() >= 16 && !elsewhere {
                    let shown = format!("{e} {e:?}");
                    assert!(
                        !shown.contains(key),
                        "the error quotes the private key: {e}"
                    );
                }
            }
        }
    }
}
