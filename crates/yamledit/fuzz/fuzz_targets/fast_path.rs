//! `cargo +nightly fuzz run fast_path` (from crates/yamledit): whatever text the fast
//! parser reads, it must read exactly as the yaml-rust2 path does, node positions
//! included, and yaml-rust2 must accept it. The fast parser may give up on anything.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(Err(difference)) = yamledit::fast_path_agrees(text) {
        panic!("{difference}");
    }
});
