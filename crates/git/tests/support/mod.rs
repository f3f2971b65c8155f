//! Test and benchmark support: real git servers on loopback and fast repository
//! generation, from the shared `ladder-testkit` crate. Kept as a module so that the
//! integration tests and the benchmark (`#[path]` include) keep saying `support::...`.
#![allow(dead_code, unused_imports)]

pub use ladder_testkit::*;
