//! An axum app served on loopback from a tokio runtime of its own, in a background
//! thread: the in-process fakes (GitHub, the Kubernetes Lease API) run there, so tests
//! and the synchronous code they drive need no runtime of their own.

use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

/// The running app: stops, with its runtime and open connections, when dropped.
pub(crate) struct AxumThread {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl AxumThread {
    /// Binds a loopback port and serves `app(port)` (built here, before this returns)
    /// on `workers` runtime threads; the port accepts connections when this returns.
    pub fn start(workers: usize, app: impl FnOnce(u16) -> axum::Router) -> AxumThread {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let app = app(port);
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("start a tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
            // Connections still open (keep-alive clients) end with the runtime.
            runtime.shutdown_timeout(Duration::from_secs(5));
        });
        AxumThread {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for AxumThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
