//! `normalize(Provider::AzureAcs, ..)` on arbitrary bytes: it must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailstate_core::{Headers, Payload, Provider, normalize};

fuzz_target!(|body: &[u8]| {
    let _ = normalize(Provider::AzureAcs, Payload { body, headers: &Headers::new() });
});
