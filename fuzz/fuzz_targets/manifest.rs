//! Any text as a manifest or topology snapshot file: read, and built into a topology, with
//! an error or a result, never a panic.
#![no_main]

use failover_webhook::manifest;
use failover_webhook::topology::snapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(documents) = manifest::parse("fuzz.yaml", text) {
        let _ = snapshot::from_documents(documents);
    }
});
