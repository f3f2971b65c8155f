//! Which budget the current thread works for.
//!
//! A worker of a fan-out already holds a permit (or is an overdrawn caller): a fan-out
//! it starts on the same budget must run on that permit rather than ask for another one,
//! or a full budget would make every worker wait for the others. Libraries that have no
//! budget parameter (a YAML parse deep inside a call) ask for [`ThreadBudget::current`]:
//! the budget of the fan-out they run in, or one installed by the caller.

use std::cell::RefCell;

use crate::ThreadBudget;

#[derive(Clone)]
struct Context {
    budget: ThreadBudget,
    /// The thread holds a permit of `budget` (or runs as its overdrawn caller).
    worker: bool,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Puts the previous context back when dropped.
pub(crate) struct Restore(Option<Context>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

fn replace(next: Context) -> Restore {
    Restore(CONTEXT.with(|c| c.borrow_mut().replace(next)))
}

/// Marks this thread as a worker of `budget` until the guard drops.
pub(crate) fn enter_worker(budget: &ThreadBudget) -> Restore {
    replace(Context {
        budget: budget.clone(),
        worker: true,
    })
}

/// True when this thread already works for `budget`.
pub(crate) fn is_worker_of(budget: &ThreadBudget) -> bool {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|ctx| ctx.worker && ctx.budget.same_as(budget))
    })
}

impl ThreadBudget {
    /// The budget this thread works for (inside a fan-out), or the one installed with
    /// [`ThreadBudget::install`], else the process default. For code that has no budget
    /// parameter of its own.
    pub fn current() -> ThreadBudget {
        CONTEXT
            .with(|c| c.borrow().as_ref().map(|ctx| ctx.budget.clone()))
            .unwrap_or_else(ThreadBudget::process_default)
    }

    /// Runs `f` with this budget as [`ThreadBudget::current`] on this thread, so that
    /// libraries without a budget parameter use it. The thread takes no permit until
    /// `f` starts a fan-out.
    pub fn install<R>(&self, f: impl FnOnce() -> R) -> R {
        let worker = is_worker_of(self);
        let _restore = replace(Context {
            budget: self.clone(),
            worker,
        });
        f()
    }
}
