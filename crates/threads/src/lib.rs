//! One thread budget shared by every fan-out of a process.
//!
//! Several of ladder's libraries split large jobs over threads: rendering documents,
//! loading apps, diffing history, parsing a large YAML file in two halves. Each used to
//! pick its own thread count from the number of cores, which is right for the CLI (one
//! job at a time) and wrong for a daemon serving many tenants in one process: eight
//! tenants rendering at once on a 2-core node would start 64 threads that only fight
//! over the two cores and multiply peak memory.
//!
//! A [`ThreadBudget`] is a number of worker slots ("permits") shared by every clone of
//! it. A fan-out ([`ThreadBudget::map_chunks`], [`ThreadBudget::join`]) runs its work on
//! the calling thread plus as many helper threads as the budget has free permits; the
//! calling thread counts as one worker. So whatever runs concurrently, at most `limit`
//! threads work inside the budget's fan-outs at once.
//!
//! Nothing waits forever: a fan-out nested in another fan-out of the same budget runs on
//! its worker's permit, and a new fan-out that finds every permit taken waits a bounded
//! time (helpers of other fan-outs hand their permits over between chunks), then runs
//! on its own thread anyway and counts an overdraft ([`BudgetStats::overdrafts`]).
//!
//! The process default ([`ThreadBudget::process_default`], also `Default`) allows as
//! many workers as the CLI used before the budget existed (the cores, at most 8); a
//! daemon lowers it with [`ThreadBudget::set_limit`] or hands each library its own
//! budget. This crate never reads the environment.

mod budget;
mod context;
mod fan_out;

pub use budget::{BudgetStats, ThreadBudget};
pub use fan_out::Split;
