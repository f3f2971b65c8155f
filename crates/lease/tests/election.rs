//! Leader election against the fake Lease endpoints (crates/testkit/src/kube.rs): two
//! electors racing, takeover after a release, after a crash and after a partition, a
//! 409 on renewal, token rotation, and two electors as separate processes.
//!
//! Timings are short (lease 6 s, renew deadline 3 s, retry 0.5 s) and every wait is
//! generous: the assertions are about who leads and what the Lease says, never about
//! how fast.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ladder_lease::{Error, Leadership, LeaseConfig, run_election};
use ladder_testkit::kube::{FakeKube, KubeRequest, is_micro_time};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

const NS: &str = "ladder";
const NAME: &str = "ladder-leader";
/// Long enough for 2 busy cores.
const WAIT: Duration = Duration::from_secs(60);

fn config(fake: &FakeKube, dir: &Path, identity: &str, token: &str) -> LeaseConfig {
    let token_file = dir.join(format!("{identity}.token"));
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut c = LeaseConfig::new(fake.url(), NS, NAME, identity);
    c.token_file = Some(token_file);
    c.ca_file = None;
    c.lease_duration = Duration::from_secs(6);
    c.renew_deadline = Duration::from_secs(3);
    c.retry_period = Duration::from_millis(500);
    c.address = Some(format!("http://{identity}:8080"));
    c
}

/// Who leads, as every candidate's channel says; a violation is kept forever.
#[derive(Default)]
struct Board {
    leading: BTreeMap<String, bool>,
    violations: Vec<String>,
    /// (candidate, leading) in the order observed.
    history: Vec<(String, bool)>,
}

type SharedBoard = Arc<Mutex<Board>>;

struct Candidate {
    identity: String,
    leading: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Candidate {
    fn start(config: LeaseConfig, board: &SharedBoard) -> Candidate {
        let identity = config.identity.clone();
        let (tx, rx) = watch::channel(Leadership::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_election(config, tx, async {
            let _ = stopped.await;
        }));
        let mut watched = rx.clone();
        let board = board.clone();
        let who = identity.clone();
        board.lock().unwrap().leading.insert(who.clone(), false);
        tokio::spawn(async move {
            while watched.changed().await.is_ok() {
                let now = watched.borrow_and_update().leading;
                let mut b = board.lock().unwrap();
                // The channel also says where the leader is: record changes of leading.
                if b.leading.get(&who) == Some(&now) {
                    continue;
                }
                b.leading.insert(who.clone(), now);
                b.history.push((who.clone(), now));
                let leaders: Vec<&String> = b
                    .leading
                    .iter()
                    .filter(|(_, l)| **l)
                    .map(|(k, _)| k)
                    .collect();
                if leaders.len() > 1 {
                    let v = format!("two leaders at once: {leaders:?}");
                    b.violations.push(v);
                }
            }
        });
        Candidate {
            identity,
            leading: rx,
            stop: Some(stop),
            task,
        }
    }

    fn leads(&self) -> bool {
        self.leading.borrow().leading
    }

    fn leader_address(&self) -> Option<String> {
        self.leading.borrow().leader_address.clone()
    }

    /// Shuts it down (release included) and waits for the election to return.
    async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("the election returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until exactly one of `candidates` leads; returns its index.
async fn one_leader(candidates: &[&Candidate]) -> usize {
    wait_until("a leader", || candidates.iter().any(|c| c.leads())).await;
    let leaders: Vec<usize> = (0..candidates.len())
        .filter(|i| candidates[*i].leads())
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one leads");
    leaders[0]
}

fn spec(fake: &FakeKube) -> Value {
    fake.lease(NS, NAME).expect("the Lease exists")["spec"].clone()
}

fn assert_no_violation(board: &SharedBoard) {
    let b = board.lock().unwrap();
    assert!(
        b.violations.is_empty(),
        "{:?}\nhistory: {:?}",
        b.violations,
        b.history
    );
}

fn writes_by(requests: &[KubeRequest], token: &str) -> Vec<KubeRequest> {
    requests
        .iter()
        .filter(|r| r.method != "GET" && r.token.as_deref() == Some(token))
        .cloned()
        .collect()
}

/// A fake API server taking the tokens `ta` and `tb`, a folder for token files, and a
/// board of who leads: the ground of a race between `pod-a` and `pod-b`.
fn race() -> (FakeKube, tempfile::TempDir, SharedBoard) {
    let fake = FakeKube::start("ta");
    fake.allow_token("tb");
    (fake, tempfile::tempdir().unwrap(), SharedBoard::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_racing_electors_one_leads_and_the_lease_says_who() {
    let (fake, dir, board) = race();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    let b = Candidate::start(config(&fake, dir.path(), "pod-b", "tb"), &board);
    let leader = one_leader(&[&a, &b]).await;
    let (leader, standby) = if leader == 0 { (&a, &b) } else { (&b, &a) };

    let first = spec(&fake);
    assert_eq!(first["holderIdentity"], json!(leader.identity));
    assert_eq!(first["leaseDurationSeconds"], 6);
    assert_eq!(first["leaseTransitions"], 0);
    for key in ["acquireTime", "renewTime"] {
        let t = first[key].as_str().unwrap();
        assert!(is_micro_time(t) && t.ends_with('Z'), "{key} {t}");
    }
    // Renewals move renewTime on and keep acquireTime; the standby never leads.
    let rv = |f: &FakeKube| f.lease(NS, NAME).unwrap()["metadata"]["resourceVersion"].clone();
    let before = rv(&fake);
    wait_until("three renewals", || {
        let now: u64 = rv(&fake).as_str().unwrap().parse().unwrap();
        now >= before.as_str().unwrap().parse::<u64>().unwrap() + 3
    })
    .await;
    let later = spec(&fake);
    assert_eq!(later["holderIdentity"], json!(leader.identity));
    assert_eq!(later["acquireTime"], first["acquireTime"]);
    assert!(later["renewTime"].as_str() > first["renewTime"].as_str());
    assert!(leader.leads() && !standby.leads());
    // The loser of a create race got AlreadyExists, or read the Lease first: either way
    // the only writes that succeeded are the leader's.
    let requests = fake.requests();
    let standby_token = if standby.identity == "pod-a" {
        "ta"
    } else {
        "tb"
    };
    for w in writes_by(&requests, standby_token) {
        assert!(
            w.status == 409,
            "the standby wrote successfully: {} {}",
            w.method,
            w.status
        );
    }
    assert_no_violation(&board);
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_when_the_leader_releases_on_shutdown() {
    let (fake, dir, board) = race();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    wait_until("pod-a to lead", || a.leads()).await;
    let b = Candidate::start(config(&fake, dir.path(), "pod-b", "tb"), &board);
    // b sees a's Lease held and renewed, and where a is.
    sleep(Duration::from_secs(2)).await;
    assert!(!b.leads());
    assert_eq!(b.leader_address().as_deref(), Some("http://pod-a:8080"));
    assert_eq!(a.leader_address(), None, "the leader names no other");
    let annotation = |f: &FakeKube| {
        f.lease(NS, NAME).unwrap()["metadata"]["annotations"]["ladder.dev/leader-address"].clone()
    };
    assert_eq!(annotation(&fake), "http://pod-a:8080");

    let mut a_leading = a.leading.clone();
    a.shut_down().await;
    assert!(!a_leading.borrow_and_update().leading, "a stopped leading");
    let released = spec(&fake);
    assert_eq!(released["holderIdentity"], "", "released: {released}");
    assert_eq!(released["leaseDurationSeconds"], 1);
    assert_eq!(annotation(&fake), Value::Null, "the address went with it");

    wait_until("pod-b to lead", || b.leads()).await;
    assert_eq!(b.leader_address(), None);
    assert_eq!(annotation(&fake), "http://pod-b:8080");
    let taken = spec(&fake);
    assert_eq!(taken["holderIdentity"], "pod-b");
    assert_eq!(taken["leaseTransitions"], 1);
    assert_eq!(taken["leaseDurationSeconds"], 6);
    assert_no_violation(&board);
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_when_the_leader_dies_without_releasing() {
    let (fake, dir, board) = race();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    wait_until("pod-a to lead", || a.leads()).await;
    let b = Candidate::start(config(&fake, dir.path(), "pod-b", "tb"), &board);
    sleep(Duration::from_secs(1)).await;
    assert!(!b.leads());
    // A crash: the task is gone, nothing released.
    a.task.abort();
    let _ = a.task.await;
    let last_by_a = fake
        .requests()
        .iter()
        .rev()
        .find(|r| r.token.as_deref() == Some("ta") && r.status == 200 && r.method == "PUT")
        .map(|r| r.at)
        .expect("a renewed");
    wait_until("pod-b to lead", || b.leads()).await;
    let taken_at = fake
        .requests()
        .iter()
        .find(|r| r.token.as_deref() == Some("tb") && r.status == 200 && r.method == "PUT")
        .map(|r| r.at)
        .expect("b took it over with a PUT");
    // Not before the Lease expired as b saw it (b's clock starts no earlier than a's last
    // renewal): a correctness bound, not a speed one.
    assert!(taken_at.duration_since(last_by_a) >= Duration::from_secs(6));
    let taken = spec(&fake);
    assert_eq!(taken["holderIdentity"], "pod-b");
    assert_eq!(taken["leaseTransitions"], 1);
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_leader_steps_down_before_the_standby_takes_over() {
    let (fake, dir, board) = race();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    wait_until("pod-a to lead", || a.leads()).await;
    let b = Candidate::start(config(&fake, dir.path(), "pod-b", "tb"), &board);
    sleep(Duration::from_secs(1)).await;

    fake.block_token("ta", true);
    wait_until("pod-a to step down", || !a.leads()).await;
    wait_until("pod-b to lead", || b.leads()).await;
    {
        let history = &board.lock().unwrap().history;
        let a_down = history.iter().position(|e| *e == ("pod-a".into(), false));
        let b_up = history.iter().position(|e| *e == ("pod-b".into(), true));
        assert!(a_down < b_up, "a stepped down before b led: {history:?}");
    }
    // Back on the network, a finds b's Lease held and stands by.
    fake.block_token("ta", false);
    sleep(Duration::from_secs(3)).await;
    assert!(!a.leads() && b.leads());
    assert_eq!(spec(&fake)["holderIdentity"], "pod-b");
    assert_no_violation(&board);
    a.shut_down().await;
    b.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_on_renewal_from_another_holder_makes_the_leader_step_down() {
    let fake = FakeKube::start("ta");
    let dir = tempfile::tempdir().unwrap();
    let board = SharedBoard::default();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    wait_until("pod-a to lead", || a.leads()).await;
    // Another replica writes the Lease as its own: a's cached resourceVersion is stale.
    let now = jiff::Timestamp::now();
    fake.edit_lease(NS, NAME, |l| {
        l["spec"]["holderIdentity"] = json!("intruder");
        l["spec"]["renewTime"] = json!(format!("{now:.6}"));
        l["spec"]["leaseTransitions"] = json!(1);
    });
    wait_until("pod-a to step down", || !a.leads()).await;
    let requests = fake.requests();
    let conflict = requests
        .iter()
        .position(|r| r.method == "PUT" && r.reason.as_deref() == Some("Conflict"))
        .expect("a's renewal got 409 Conflict");
    assert!(
        requests[conflict + 1..].iter().any(|r| r.method == "GET"),
        "a read the Lease again"
    );
    assert_eq!(spec(&fake)["holderIdentity"], "intruder");
    // The intruder never renews: a takes the Lease back once it expires.
    wait_until("pod-a to lead again", || a.leads()).await;
    let back = spec(&fake);
    assert_eq!(back["holderIdentity"], "pod-a");
    assert_eq!(back["leaseTransitions"], 2);
    a.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_from_a_foreign_edit_of_our_lease_keeps_the_leader() {
    let fake = FakeKube::start("ta");
    let dir = tempfile::tempdir().unwrap();
    let board = SharedBoard::default();
    let a = Candidate::start(config(&fake, dir.path(), "pod-a", "ta"), &board);
    wait_until("pod-a to lead", || a.leads()).await;
    fake.edit_lease(NS, NAME, |l| {
        l["metadata"]["labels"] = json!({"team": "platform"})
    });
    wait_until("a 409 and a renewal after it", || {
        let r = fake.requests();
        r.iter()
            .position(|r| r.reason.as_deref() == Some("Conflict"))
            .is_some_and(|i| r[i..].iter().any(|r| r.method == "PUT" && r.status == 200))
    })
    .await;
    let lease = fake.lease(NS, NAME).unwrap();
    assert_eq!(
        lease["metadata"]["labels"]["team"], "platform",
        "kept: {lease}"
    );
    assert_eq!(lease["spec"]["holderIdentity"], "pod-a");
    let history = board.lock().unwrap().history.clone();
    assert_eq!(
        history,
        vec![("pod-a".to_string(), true)],
        "never stepped down"
    );
    a.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_read_again_for_every_request() {
    let fake = FakeKube::start("old");
    let dir = tempfile::tempdir().unwrap();
    let board = SharedBoard::default();
    let c = config(&fake, dir.path(), "pod-a", "wrong");
    let token_file = c.token_file.clone().unwrap();
    let a = Candidate::start(c, &board);
    wait_until("401s", || {
        fake.requests().iter().filter(|r| r.status == 401).count() >= 2
    })
    .await;
    assert!(!a.leads(), "no lease without a valid token");

    std::fs::write(&token_file, "old").unwrap();
    wait_until("pod-a to lead", || a.leads()).await;
    // Rotation: the kubelet writes a new token; the old one stops working.
    fake.allow_token("new");
    std::fs::write(&token_file, "new\n").unwrap();
    fake.revoke_token("old");
    wait_until("a renewal with the new token", || {
        fake.requests()
            .iter()
            .any(|r| r.token.as_deref() == Some("new") && r.method == "PUT" && r.status == 200)
    })
    .await;
    assert!(a.leads());
    assert_eq!(board.lock().unwrap().history.len(), 1, "never stepped down");
    a.shut_down().await;
}

#[tokio::test]
async fn a_config_that_cannot_work_is_an_error_at_once() {
    let (tx, _rx) = watch::channel(Leadership::default());
    let mut c = LeaseConfig::new("https://10.0.0.1:443", NS, NAME, "pod-a");
    c.ca_file = Some("/nonexistent/ca.crt".into());
    let e = run_election(c, tx.clone(), std::future::pending()).await;
    assert!(matches!(e, Err(Error::Read { .. })), "{e:?}");
    let mut c = LeaseConfig::new("http://127.0.0.1:1", NS, NAME, "pod-a");
    c.renew_deadline = Duration::from_secs(20);
    let e = run_election(c, tx, std::future::pending()).await;
    assert!(matches!(e, Err(Error::Config(_))), "{e:?}");
}

// Two electors as separate processes: this test binary, run again as a child
// (`elector_process` below does the election only when LADDER_LEASE_TEST_CHILD is set).

/// The child: contends until its stdin closes, printing `ELECTOR <identity> <bool>` on
/// every change.
#[test]
fn elector_process() {
    let Ok(identity) = std::env::var("LADDER_LEASE_TEST_CHILD") else {
        return;
    };
    let url = std::env::var("LADDER_LEASE_TEST_URL").unwrap();
    let token_file = std::env::var("LADDER_LEASE_TEST_TOKEN_FILE").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut c = LeaseConfig::new(url, NS, NAME, identity.clone());
        c.token_file = Some(token_file.into());
        c.ca_file = None;
        c.lease_duration = Duration::from_secs(6);
        c.renew_deadline = Duration::from_secs(3);
        c.retry_period = Duration::from_millis(500);
        let (tx, mut rx) = watch::channel(Leadership::default());
        let (closed_tx, closed) = oneshot::channel::<()>();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = closed_tx.send(());
        });
        let who = identity.clone();
        tokio::spawn(async move {
            let mut was = false;
            while rx.changed().await.is_ok() {
                let leading = rx.borrow_and_update().leading;
                // The channel also says where the leader is: print changes of leading.
                if leading == was {
                    continue;
                }
                was = leading;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "ELECTOR {who} {leading}");
                let _ = out.flush();
            }
        });
        run_election(c, tx, async {
            let _ = closed.await;
        })
        .await
        .unwrap();
        sleep(Duration::from_millis(100)).await;
        println!("ELECTOR {identity} exited");
    });
}

struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_elector(
    fake: &FakeKube,
    dir: &Path,
    identity: &str,
    events: std::sync::mpsc::Sender<(String, String)>,
) -> Process {
    let token_file = dir.join(format!("{identity}.token"));
    std::fs::write(&token_file, "t").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "elector_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LADDER_LEASE_TEST_CHILD", identity)
        .env("LADDER_LEASE_TEST_URL", fake.url())
        .env("LADDER_LEASE_TEST_TOKEN_FILE", &token_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest's own `test elector_process ... ` may precede the first one.
            if let Some(at) = line.find("ELECTOR ") {
                let rest = &line[at + "ELECTOR ".len()..];
                let (who, what) = rest.split_once(' ').unwrap();
                let _ = events.send((who.to_string(), what.to_string()));
            }
        }
    });
    Process { child }
}

/// Applies events to `state` until `done` holds; every state seen has at most one leader.
fn follow(
    events: &std::sync::mpsc::Receiver<(String, String)>,
    state: &mut BTreeMap<String, String>,
    what: &str,
    done: impl Fn(&BTreeMap<String, String>) -> bool,
) {
    let started = std::time::Instant::now();
    while !done(state) {
        let left = WAIT.saturating_sub(started.elapsed());
        let (who, now) = events
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("timed out waiting for {what}; state {state:?}"));
        state.insert(who, now);
        let leaders = state.values().filter(|v| *v == "true").count();
        assert!(leaders <= 1, "two leaders at once: {state:?}");
    }
}

#[test]
fn two_elector_processes_race_and_the_survivor_takes_over_after_kill_9() {
    let fake = FakeKube::start("t");
    let dir = tempfile::tempdir().unwrap();
    let (tx, events) = std::sync::mpsc::channel();
    let mut procs = BTreeMap::new();
    procs.insert(
        "pod-a",
        spawn_elector(&fake, dir.path(), "pod-a", tx.clone()),
    );
    procs.insert("pod-b", spawn_elector(&fake, dir.path(), "pod-b", tx));
    let mut state = BTreeMap::new();
    follow(&events, &mut state, "a leader", |s| {
        s.values().any(|v| v == "true")
    });
    let leader = state.iter().find(|(_, v)| *v == "true").unwrap().0.clone();
    let standby = if leader == "pod-a" { "pod-b" } else { "pod-a" };
    assert_eq!(
        fake.lease(NS, NAME).unwrap()["spec"]["holderIdentity"],
        json!(leader)
    );

    // kill -9 the leader: no release; the standby waits out the Lease and takes it.
    drop(procs.remove(leader.as_str()));
    state.remove(&leader);
    follow(&events, &mut state, "the standby to lead", |s| {
        s.get(standby).map(String::as_str) == Some("true")
    });
    let spec = &fake.lease(NS, NAME).unwrap()["spec"];
    assert_eq!(spec["holderIdentity"], json!(standby));
    assert_eq!(spec["leaseTransitions"], 1);

    // A graceful stop (stdin closed, as SIGTERM would): released for the next one.
    let mut survivor = procs.remove(standby).unwrap();
    drop(survivor.child.stdin.take());
    follow(&events, &mut state, "the survivor to exit", |s| {
        s.get(standby).map(String::as_str) == Some("exited")
    });
    assert!(survivor.child.wait().unwrap().success());
    let spec = &fake.lease(NS, NAME).unwrap()["spec"];
    assert_eq!(spec["holderIdentity"], "");
    assert_eq!(spec["leaseDurationSeconds"], 1);
}
