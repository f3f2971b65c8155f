//! The issue 11 benchmark: the promoter's 500-app scenario against the fake GitHub of
//! the testkit. The same generated tenant as `promote_scale` (1,000 Helm apps x 3
//! environments: dev, staging from dev, prod from staging; one commit bumping
//! `image.tag` of 500 apps in dev) in a bare repo registered with `FakeGitHub`, with
//! `forge: {type: github}`. The real release binary runs as a child process with
//! `LADDER_GITHUB_API_URL` (the fake's API) and `LADDER_GITHUB_TOKEN` (which also
//! fetches: same host).
//!
//! Measured, from the API requests the fake recorded: `ladder plan`, the first `ladder
//! promote` (500 pull requests opened) and an idle `ladder promote` right after (nothing
//! to do, median of several runs): wall time, API calls, writes, reads, 304 answers, and
//! calls per page of open pull requests. Then the idle run again for a tenant of 2,000
//! apps with the same 500 bumped: its reads must follow the open pull requests, not the
//! apps. The fake runs in this process, so its share is reported as CPU time: this
//! process's (the fake's threads: routing, state, the OpenAPI check of every exchange)
//! plus that of the `git` it runs, apart from ladder's own CPU time.
//!
//! `cargo bench -p ladder --bench github_scale` (needs `make reference`: the fake checks
//! every exchange against GitHub's OpenAPI description).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ladder_testkit::github::{ApiRequest, FakeGitHub};
use ladder_testkit::{Origin, SyntheticTenant, app_names, app_values, app_values_path};

const REPO: &str = "bench/config";
const TOKEN: &str = "ghp_bench-token";
const APPS: usize = 1000;
const MORE_APPS: usize = 2000;
const BUMPED: usize = 500;
const RUNS: usize = 5;
/// What ladder asks for (`per_page=100`) when it lists the open pull requests.
const PER_PAGE: usize = 100;

/// The tenant: `apps` Helm apps in dev, staging (from dev) and prod (from staging), on
/// GitHub.
fn tenant(apps: usize) -> SyntheticTenant {
    SyntheticTenant {
        name: "bench".into(),
        config_url: format!("https://github.com/{REPO}.git"),
        github: true,
        environments: vec!["dev", "staging", "prod"],
        apps: app_names(apps),
        tag: "1.0.0".into(),
    }
}

/// User + system CPU time of this process (`RUSAGE_SELF`) or of its reaped children
/// (`RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(who, &mut usage) }, 0);
    rusage_cpu(&usage)
}

fn rusage_cpu(usage: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One ladder run: its wall time, peak RSS, its own CPU time (with the processes it
/// ran), the fake's CPU time meanwhile, the API requests the fake answered, and its JSON.
struct Run {
    wall: Duration,
    rss_kib: u64,
    ladder_cpu: Duration,
    fake_cpu: Duration,
    requests: Vec<ApiRequest>,
    json: serde_json::Value,
}

impl Run {
    fn writes(&self) -> usize {
        self.requests.iter().filter(|r| r.write).count()
    }

    fn reads(&self) -> usize {
        self.requests.iter().filter(|r| r.method == "GET").count()
    }

    fn not_modified(&self) -> usize {
        self.requests.iter().filter(|r| r.status == 304).count()
    }

    fn conditional(&self) -> usize {
        self.requests.iter().filter(|r| r.conditional).count()
    }

    /// Pages of the list of open pull requests fetched (`GET /pulls?state=open`, not
    /// the per-branch lookups with `head=`).
    fn list_pages(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| {
                r.method == "GET"
                    && r.path.ends_with("/pulls")
                    && r.query.contains("state=open")
                    && !r.query.contains("head=")
            })
            .count()
    }

    fn actions(&self, kind: &str) -> usize {
        self.json["actions"]
            .as_array()
            .map(|a| a.iter().filter(|a| a["kind"] == kind).count())
            .unwrap_or(0)
    }
}

/// The endpoint of a request: numbers, commit ids and proposal branches replaced by
/// placeholders, the query's parameter names kept (`state` with its value).
fn endpoint(r: &ApiRequest) -> String {
    let mut out = Vec::new();
    for s in r.path.split('/') {
        if s == "heads" {
            out.push("heads/{branch}".to_string());
            break;
        }
        out.push(
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{n}"
            } else if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                "{sha}"
            } else {
                s
            }
            .to_string(),
        );
    }
    let query: Vec<String> = r
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some(("state", v)) => format!("state={v}"),
            Some((k, _)) => k.to_string(),
            None => p.to_string(),
        })
        .collect();
    let path = out.join("/");
    if query.is_empty() {
        format!("{} {path}", r.method)
    } else {
        format!("{} {path}?{}", r.method, query.join("&"))
    }
}

/// The requests grouped by endpoint and status: `(endpoint, status) -> count`.
fn by_endpoint(requests: &[ApiRequest]) -> BTreeMap<(String, u16), usize> {
    let mut groups = BTreeMap::new();
    for r in requests {
        *groups.entry((endpoint(r), r.status)).or_insert(0) += 1;
    }
    groups
}

fn print_endpoints(requests: &[ApiRequest]) {
    for ((endpoint, status), n) in by_endpoint(requests) {
        println!("      {n:>5}  {endpoint}  -> {status}");
    }
}

/// A tenant on its own fake GitHub: the bare repo behind it, ladder's cache folder.
struct Hub {
    apps: usize,
    fake: FakeGitHub,
    origin: Origin,
    url: String,
    cache: PathBuf,
    out: PathBuf,
    err: PathBuf,
    dir: tempfile::TempDir,
}

impl Hub {
    fn new(apps: usize) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let origin = Origin {
            base: dir.path().join("served"),
            name: "config.git".into(),
        };
        origin.commit_text("tenant", &tenant(apps).files());
        let bump: Vec<(String, String)> = app_names(BUMPED)
            .iter()
            .map(|app| (app_values_path(app, "dev"), app_values(app, "1.1.0")))
            .collect();
        origin.commit_text(&format!("bump {BUMPED} apps in dev"), &bump);
        let fake = FakeGitHub::start();
        fake.add_repo(REPO, &origin.path(), "main");
        fake.add_token(TOKEN, &[REPO]);
        let url = fake.git_url(REPO);
        Hub {
            apps,
            fake,
            origin,
            url,
            cache: dir.path().join("cache"),
            out: dir.path().join("out.json"),
            err: dir.path().join("err.txt"),
            dir,
        }
    }

    /// Runs `ladder ARGS -o json` against the fake and measures it; it must succeed.
    fn ladder(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ladder"));
        command
            .args(args)
            .args(["-o", "json", "--repo", &self.url, "--cache-dir"])
            .arg(&self.cache)
            .env("LADDER_GITHUB_API_URL", self.fake.api_url())
            .env("LADDER_GITHUB_TOKEN", TOKEN)
            .env_remove("LADDER_GIT_USERNAME")
            .env_remove("LADDER_GIT_PASSWORD")
            .env_remove("LADDER_GIT_PASSWORD_FILE")
            .env_remove("LADDER_GITHUB_TOKEN_FILE")
            .env_remove("LADDER_GITHUB_APP_ID")
            .env_remove("LADDER_GITHUB_APP_KEY_FILE")
            .env_remove("LADDER_LOG")
            .stdout(std::fs::File::create(&self.out).unwrap())
            .stderr(std::fs::File::create(&self.err).unwrap());
        self.fake.clear_requests();
        let self_before = cpu(libc::RUSAGE_SELF);
        let children_before = cpu(libc::RUSAGE_CHILDREN);
        let start = Instant::now();
        // Reaped by wait4 below, which `Child::wait` cannot replace (it discards rusage).
        #[allow(clippy::zombie_processes)]
        let child = command.spawn().expect("ladder starts");
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let wall = start.elapsed();
        assert_eq!(waited, pid, "wait4 failed");
        let ladder_cpu = rusage_cpu(&usage);
        // This process is the fake (the bench's own thread sleeps in wait4); its reaped
        // children are ladder (with what it ran) and the git the fake runs.
        let fake_cpu = (cpu(libc::RUSAGE_SELF) - self_before)
            + (cpu(libc::RUSAGE_CHILDREN) - children_before).saturating_sub(ladder_cpu);
        let text = std::fs::read_to_string(&self.out).unwrap();
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "ladder {args:?} failed\n{text}\n{}",
            std::fs::read_to_string(&self.err).unwrap_or_default()
        );
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        Run {
            wall,
            rss_kib: usage.ru_maxrss as u64,
            ladder_cpu,
            fake_cpu,
            requests: self.fake.requests(),
            json,
        }
    }

    fn open_ladder_pulls(&self) -> usize {
        let pulls = self.fake.pulls(REPO);
        let open: Vec<_> = pulls
            .iter()
            .filter(|p| p.state == "open" && p.head_ref.starts_with("ladder/"))
            .collect();
        let heads: std::collections::BTreeSet<&str> =
            open.iter().map(|p| p.head_ref.as_str()).collect();
        assert_eq!(heads.len(), open.len(), "one pull request per branch");
        open.len()
    }

    fn refs(&self) -> String {
        ladder_testkit::git(
            &self.origin.path(),
            &["for-each-ref", "--format=%(objectname) %(refname)"],
        )
    }

    fn assert_conforms(&self) {
        assert_eq!(
            self.fake.openapi_violations(),
            Vec::<String>::new(),
            "exchanges off GitHub's OpenAPI description"
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pages(open: usize) -> usize {
    open.div_ceil(PER_PAGE).max(1)
}

/// One line of figures for a run, or for the median of several (by wall time; the call
/// counts of every run are printed when they differ).
fn report(label: &str, runs: &mut [Run], open_pulls: usize) -> usize {
    runs.sort_by_key(|r| r.wall);
    let median = &runs[runs.len() / 2];
    let calls = median.requests.len();
    let page_count = pages(open_pulls);
    println!(
        "{label:<44} runs {:>2}  min {:>8.1} ms  median {:>8.1} ms  peak RSS {:>5.1} MB  ladder CPU {:>7.1} ms  fake CPU {:>7.1} ms",
        runs.len(),
        ms(runs[0].wall),
        ms(median.wall),
        runs.iter().map(|r| r.rss_kib).max().unwrap() as f64 / 1024.0,
        ms(median.ladder_cpu),
        ms(median.fake_cpu),
    );
    println!(
        "    API calls {calls}: writes {}, reads {}, 304s {} (conditional requests {}), list pages of open PRs {}; {open_pulls} open PRs = {page_count} page(s) of {PER_PAGE}: {:.1} calls per page",
        median.writes(),
        median.reads(),
        median.not_modified(),
        median.conditional(),
        median.list_pages(),
        calls as f64 / page_count as f64,
    );
    let counts: Vec<(usize, usize, usize)> = runs
        .iter()
        .map(|r| (r.requests.len(), r.writes(), r.not_modified()))
        .collect();
    if counts.iter().any(|c| *c != counts[0]) {
        println!("    (calls, writes, 304s) per run differ: {counts:?}");
    }
    println!("    by endpoint:");
    print_endpoints(&median.requests);
    calls
}

/// The first promote (500 pull requests to open), then the idle runs; returns the idle
/// runs' reads (median run).
fn promote_and_idle(hub: &Hub, measure_first: bool) -> usize {
    let first = hub.ladder(&["promote"]);
    let opened = first.actions("open");
    let open_pulls = hub.open_ladder_pulls();
    if measure_first {
        report(
            &format!("promote, {BUMPED} PRs to open ({} apps)", hub.apps),
            &mut [first],
            open_pulls,
        );
    } else {
        println!(
            "promote, {BUMPED} PRs to open ({} apps): {:.1} ms, {} API calls ({} writes)",
            hub.apps,
            ms(first.wall),
            first.requests.len(),
            first.writes()
        );
    }
    println!("    opened {opened}, open ladder PRs on the fake {open_pulls}");
    assert_eq!(opened, BUMPED, "pull requests opened");
    assert_eq!(open_pulls, BUMPED, "all {BUMPED} pull requests exist");

    let refs_before = hub.refs();
    let mut idle: Vec<Run> = (0..RUNS).map(|_| hub.ladder(&["promote"])).collect();
    report(
        &format!("promote, nothing to do ({} apps)", hub.apps),
        &mut idle,
        open_pulls,
    );
    let unchanged = hub.refs() == refs_before;
    let kept: Vec<usize> = idle.iter().map(|r| r.actions("keep")).collect();
    println!(
        "    kept per run {kept:?}, all {} refs of the repo unchanged: {unchanged}",
        refs_before.lines().count()
    );
    for run in &idle {
        let writes: Vec<String> = run
            .requests
            .iter()
            .filter(|r| r.write)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(writes, Vec::<String>::new(), "an idle promote wrote");
        assert_eq!(run.json["writes"], 0, "ladder reports writes");
        assert_eq!(run.actions("keep"), BUMPED);
    }
    assert!(unchanged, "an idle promote changed refs");
    assert_eq!(hub.open_ladder_pulls(), BUMPED);
    idle[idle.len() / 2].reads()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let started = Instant::now();
    let openapi_load = FakeGitHub::load_openapi().unwrap_or_else(|e| {
        panic!("GitHub's OpenAPI description is missing ({e}): run `make reference` first")
    });
    println!(
        "GitHub's OpenAPI description loaded in {:.0} ms (outside the timed runs)",
        ms(openapi_load)
    );

    let hub = Hub::new(APPS);
    println!(
        "tenant: {APPS} Helm apps x 3 environments, one commit bumping image.tag of {BUMPED} apps in dev; fake GitHub at {}, repo {}",
        hub.fake.api_url(),
        hub.url
    );

    // The plan before anything is proposed (500 due), with the clone, then warm.
    let cold = hub.ladder(&["plan"]);
    let rows = cold.json["promotions"].as_array().map_or(0, Vec::len);
    report("plan, empty cache (includes the clone)", &mut [cold], 0);
    let mut warm: Vec<Run> = (0..RUNS).map(|_| hub.ladder(&["plan"])).collect();
    report("plan, cache up to date, no PR open", &mut warm, 0);
    println!("    plan rows: {rows}");

    let idle_reads = promote_and_idle(&hub, true);

    let mut planned: Vec<Run> = (0..RUNS).map(|_| hub.ladder(&["plan"])).collect();
    report(
        &format!("plan, {BUMPED} PRs open"),
        &mut planned,
        hub.open_ladder_pulls(),
    );
    hub.assert_conforms();

    // Twice the apps, the same 500 bumped: the idle reads must stay put.
    let more = Hub::new(MORE_APPS);
    println!(
        "tenant: {MORE_APPS} Helm apps x 3 environments, the same {BUMPED} bumped; a fake GitHub of its own"
    );
    let more_reads = promote_and_idle(&more, false);
    println!(
        "idle reads: {idle_reads} with {APPS} apps, {more_reads} with {MORE_APPS} apps ({BUMPED} open PRs each: {} list pages of {PER_PAGE})",
        pages(BUMPED)
    );
    assert!(
        more_reads <= idle_reads + 2,
        "idle reads grow with the number of apps: {idle_reads} -> {more_reads}"
    );
    more.assert_conforms();
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());

    if std::env::var_os("GITHUB_SCALE_KEEP").is_some() {
        println!("kept for inspection: {}", hub.dir.keep().display());
        println!("kept for inspection: {}", more.dir.keep().display());
    }
}
