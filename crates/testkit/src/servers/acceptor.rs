//! The accept loop shared by the in-process servers (HTTP, redirect, hung): one thread
//! accepting on a loopback listener, one thread per connection, and a drop that closes
//! every connection and joins every thread, so a test ends with nothing left running.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Connections still open: their handler threads and a handle to close them on drop.
type Open = Arc<Mutex<Vec<(JoinHandle<()>, TcpStream)>>>;

pub(crate) struct Acceptor {
    pub port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    open: Open,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    /// Listens on a free loopback port (chosen by the kernel at bind: no collision
    /// possible) and runs `handle` on each connection in its own thread.
    pub fn start(handle: impl Fn(TcpStream) + Send + Sync + 'static) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let open: Open = Arc::default();
        let handle = Arc::new(handle);
        let thread = {
            let (stop, accepted, open) = (stop.clone(), accepted.clone(), open.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    // Drop wakes this loop with a connection of its own once `stop` is set.
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let Ok(closer) = stream.try_clone() else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let handle = handle.clone();
                    let thread = std::thread::spawn(move || handle(stream));
                    let mut open = open.lock().unwrap();
                    // Forget finished connections so a long test does not pile them up.
                    open.retain(|(t, _)| !t.is_finished());
                    open.push((thread, closer));
                }
            })
        };
        Acceptor {
            port,
            stop,
            accepted,
            open,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let woke = TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        if let Some(thread) = self.thread.take() {
            // Without the wake-up connection the loop would block in accept forever:
            // leave the thread then rather than hang the test.
            if woke {
                let _ = thread.join();
            }
        }
        // Closing both directions ends every blocking read and write of the handlers.
        let open = std::mem::take(&mut *self.open.lock().unwrap());
        for (_, stream) in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (thread, _) in open {
            let _ = thread.join();
        }
    }
}
