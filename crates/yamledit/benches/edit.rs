//! `cargo bench -p ladder-yamledit`: yamledit `set` against a full parse-and-serialize
//! through yaml_serde and a ruamel.yaml round trip (if `python3 -c "import ruamel.yaml"`
//! works), on a generated 1 MB values file and on 1,000 small files.
//!
//! A plain timing harness (median of several runs) keeps the dependency list short.
//!
//! The bench runs with mimalloc, the allocator the `ladder` binary uses, so that the
//! figures are those of `ladder set`; yaml_serde runs in the same process with the same
//! allocator.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};
use yamledit::{Path, Value};

/// A Helm-style values file of about `target` bytes: comments, blank lines, quoting,
/// lists of maps, block scalars, one `tag` per service.
fn values_file(target: usize) -> String {
    let mut s =
        String::from("# Generated values for the benchmark\n\nglobal:\n  domain: example.com\n\n");
    let mut i = 0;
    while s.len() < target {
        s.push_str(&format!(
            "# Service {i}: owned by team-{t}\nservice{i}:\n  enabled: true\n  replicaCount: {r}\n  image:\n    repository: ghcr.io/acme/service-{i}  # registry\n    tag: \"v1.{i}.0\"\n    pullPolicy: IfNotPresent\n  podAnnotations:\n    prometheus.io/scrape: 'true'\n    \"k8s.grafana.com/port\": \"9090\"\n  env:\n    - name: LOG_LEVEL\n      value: info\n    - name: REGION\n      value: eu-west-1\n  resources:\n    limits: {{cpu: 500m, memory: 256Mi}}\n  config: |\n    listen = \":8080\"\n    workers = 4\n\n",
            t = i % 7,
            r = i % 5 + 1
        ));
        i += 1;
    }
    s
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    f(); // warm up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn serde_roundtrip(text: &str, service: &str) -> String {
    let mut v: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    v[service]["image"]["tag"] = serde_yaml::Value::String("v2.0.0".into());
    serde_yaml::to_string(&v).unwrap()
}

const RUAMEL: &str = r#"
import sys, time, io
from ruamel.yaml import YAML
mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
yaml = YAML()
yaml.preserve_quotes = True
def edit(text, service):
    data = yaml.load(text)
    data[service]["image"]["tag"] = "v2.0.0"
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()
if mode == "big":
    text = open(path).read()
    service = sys.argv[4]
    times = []
    for _ in range(n):
        t = time.perf_counter(); edit(text, service); times.append(time.perf_counter() - t)
    times.sort()
    print(times[len(times) // 2])
else:
    texts = [open(f"{path}/{i}.yaml").read() for i in range(n)]
    t = time.perf_counter()
    for text in texts:
        edit(text, "service0")
    print(time.perf_counter() - t)
"#;

fn ruamel(args: &[&str]) -> Option<f64> {
    let ok = Command::new("python3")
        .args(["-c", "import ruamel.yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return None;
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(RUAMEL)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "ruamel.yaml run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and only wants a
    // quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();

    // 1. One edit in a 1 MB file.
    let big = values_file(if full { 1_000_000 } else { 20_000 });
    let services = big.matches("\nservice").count();
    let target = format!("service{}", services / 2);
    let path = Path::parse(&format!("{target}.image.tag")).unwrap();
    let runs = if full { 15 } else { 1 };
    let out = yamledit::set(&big, &path, "v2.0.0").unwrap();
    assert_eq!(
        out.len(),
        big.len() - format!("v1.{}.0", services / 2).len() + "v2.0.0".len()
    );
    let t_edit = time(runs, || {
        std::hint::black_box(yamledit::set(&big, &path, "v2.0.0").unwrap());
    });
    let t_parse = time(runs, || {
        yamledit::validate(std::hint::black_box(&big)).unwrap();
    });
    let t_serde = time(runs, || {
        std::hint::black_box(serde_roundtrip(&big, &target));
    });
    let big_path = dir.path().join("big.yaml");
    std::fs::write(&big_path, &big).unwrap();
    // ruamel.yaml needs about half a minute per megabyte here: one timed run.
    let t_ruamel = ruamel(&["big", big_path.to_str().unwrap(), "1", &target]);

    println!(
        "single edit in a {:.2} MB values file ({} services), median of {runs} runs:",
        big.len() as f64 / 1e6,
        services
    );
    println!(
        "  yamledit set            {:>9.2} ms  {:>8.1} MB/s",
        t_edit.as_secs_f64() * 1e3,
        mbps(big.len(), t_edit)
    );
    println!(
        "    (of which one parse)  {:>9.2} ms  {:>8.1} MB/s",
        t_parse.as_secs_f64() * 1e3,
        mbps(big.len(), t_parse)
    );
    println!(
        "  yaml_serde round trip   {:>9.2} ms  {:>8.1} MB/s",
        t_serde.as_secs_f64() * 1e3,
        mbps(big.len(), t_serde)
    );
    match t_ruamel {
        Some(s) => println!(
            "  ruamel.yaml round trip  {:>9.2} ms  {:>8.1} MB/s",
            s * 1e3,
            big.len() as f64 / 1e6 / s
        ),
        None => println!(
            "  ruamel.yaml round trip  skipped: python3 with ruamel.yaml is not installed (pip install ruamel.yaml)"
        ),
    }

    // 2. 1,000 single edits in 1,000 small files.
    let n = if full { 1000 } else { 20 };
    let small: Vec<String> = (0..n)
        .map(|i| values_file(800).replace("v1.0.0", &format!("v1.0.{i}")))
        .collect();
    let small_dir = dir.path().join("small");
    std::fs::create_dir(&small_dir).unwrap();
    for (i, s) in small.iter().enumerate() {
        std::fs::write(small_dir.join(format!("{i}.yaml")), s).unwrap();
    }
    let small_bytes: usize = small.iter().map(String::len).sum();
    let path = Path::parse("service0.image.tag").unwrap();
    let value = Value::from("v2.0.0");
    let t_small = time(if full { 5 } else { 1 }, || {
        for s in &small {
            std::hint::black_box(yamledit::set(s, &path, value.clone()).unwrap());
        }
    });
    let t_small_io = time(if full { 5 } else { 1 }, || {
        for i in 0..n {
            let f = small_dir.join(format!("{i}.yaml"));
            let text = std::fs::read_to_string(&f).unwrap();
            let out = yamledit::set(&text, &path, value.clone()).unwrap();
            let mut tmp = tempfile::NamedTempFile::new_in(&small_dir).unwrap();
            tmp.write_all(out.as_bytes()).unwrap();
            tmp.persist(&f).unwrap();
        }
    });
    let t_small_serde = time(if full { 5 } else { 1 }, || {
        for s in &small {
            std::hint::black_box(serde_roundtrip(s, "service0"));
        }
    });
    let t_small_ruamel = ruamel(&["small", small_dir.to_str().unwrap(), &n.to_string()]);
    println!(
        "{n} single edits in {n} small files ({} bytes each), total time:",
        small_bytes / n
    );
    println!(
        "  yamledit set (in memory)          {:>9.2} ms",
        t_small.as_secs_f64() * 1e3
    );
    println!(
        "  yamledit set (read, atomic write) {:>9.2} ms",
        t_small_io.as_secs_f64() * 1e3
    );
    println!(
        "  yaml_serde round trip             {:>9.2} ms",
        t_small_serde.as_secs_f64() * 1e3
    );
    match t_small_ruamel {
        Some(s) => println!("  ruamel.yaml round trip            {:>9.2} ms", s * 1e3),
        None => {
            println!("  ruamel.yaml round trip            skipped: ruamel.yaml is not installed")
        }
    }
}
