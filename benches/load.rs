//! The load benchmark: how close the service runs to what this machine
//! allows, in one run.
//!
//! `bash scripts/bench.sh` installs `wrk` when it is missing and runs this
//! with `cargo bench --bench load`, in release mode. It measures, each for a
//! fixed time after a warm-up, with `wrk` on the same machine:
//!
//! 1. a bare axum handler answering 200 to a 4 KB POST (this binary started
//!    again with `--bare-server`): the machine's limit;
//! 2. deliveries of 4 KB whose events are all ignored;
//! 3. deliveries of one distinct `user.mfa.factor.reset_all` each, the
//!    durable path (each 200 means committed with `synchronous = FULL`);
//! 4. deliveries of 50 events, 5 of them distinct resets;
//!
//! and then prints requests per second, p50 and p99 of the answer, each
//! run's ratio to run 1, the service's resident memory idle and at its peak,
//! the time from start to `/readyz` answering 200, and the p50 and p99 time
//! from a POST to the Slack stand-in receiving its message at a low steady
//! rate. The Slack stand-in runs in this process and answers at once.
//!
//! Knobs, as environment variables: `BENCH_SECONDS` (10) per measured run,
//! `BENCH_WARMUP_SECONDS` (3), `BENCH_CONNECTIONS` (64), `BENCH_THREADS`
//! (2, wrk's), `BENCH_LATENCY_SAMPLES` (200) and `BENCH_LATENCY_RATE` (20 a
//! second).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

/// The hook secret the benchmark's service is configured with.
const SECRET: &str = "bench-secret-0123456789abcdef";
/// The path of the hook, as the service's default.
const HOOK_PATH: &str = "/okta/event-hook";
/// The mark in a body template where a distinct event uuid goes.
const UUID_SLOT: &str = "@@UUID@@";
/// Events of the mixed example, one of each type.
const MIXED: &str = include_str!("../examples/okta/03-mixed-batch.json");

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--bare-server") {
        let address = args.get(at + 1).context("--bare-server needs an address")?;
        return bare_server(address.parse()?);
    }
    // The driver's own runtime: one thread, so that it takes as little as
    // it can from the two processes being measured.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(run())
}

/// Run 1's server: a handler that reads the body and answers 200, on the
/// same runtime and HTTP stack as the service.
fn bare_server(address: SocketAddr) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async move {
        let router = Router::new().route(HOOK_PATH, post(|_body: Bytes| async { StatusCode::OK }));
        let listener = tokio::net::TcpListener::bind(address).await?;
        axum::serve(listener, router).await?;
        Ok(())
    })
}

/// How a run is driven.
#[derive(Clone)]
struct Knobs {
    seconds: u64,
    warmup: u64,
    connections: u64,
    threads: u64,
    latency_samples: usize,
    latency_rate: f64,
}

impl Knobs {
    fn from_env() -> Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={v} is not a number")),
                Err(_) => Ok(default),
            }
        }
        Ok(Self {
            seconds: var("BENCH_SECONDS", 10)?,
            warmup: var("BENCH_WARMUP_SECONDS", 3)?,
            connections: var("BENCH_CONNECTIONS", 64)?,
            threads: var("BENCH_THREADS", 2)?,
            latency_samples: var("BENCH_LATENCY_SAMPLES", 200)?,
            latency_rate: var("BENCH_LATENCY_RATE", 20.0)?,
        })
    }
}

/// What wrk measured in one run.
#[derive(Debug, Clone, Copy)]
struct Load {
    requests: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Bodies for one run: a template whose `UUID_SLOT`s get distinct uuids per
/// request, or none for the same body every time.
struct Bodies {
    name: &'static str,
    template: String,
}

/// One measured run and its outcome.
struct Outcome {
    title: &'static str,
    load: Load,
    /// CPU time of the server process per request, in microseconds.
    cpu_us: f64,
}

async fn run() -> Result<()> {
    let knobs = Knobs::from_env()?;
    which("wrk").context("wrk is needed: run `bash scripts/bench.sh`, which installs it")?;
    let work = tempfile::tempdir()?;
    let events = example_events()?;

    let ignored_4k = envelope(&fill_to(&events.ignored, 4096)?);
    let one_reset = envelope(std::slice::from_ref(&events.reset));
    let batch: Vec<Value> = (0..50)
        .map(|i| {
            if i % 10 == 0 {
                events.reset.clone()
            } else {
                events.ignored[i % events.ignored.len()].clone()
            }
        })
        .collect();
    let batch = envelope(&batch);
    eprintln!(
        "bodies: ignored {} B, one reset {} B, batch of 50 {} B",
        ignored_4k.len(),
        one_reset.len(),
        batch.len()
    );
    let mut outcomes = Vec::new();

    // Run 1: the bare handler.
    let bare_address = free_address()?;
    let bare = Guard(
        Command::new(std::env::current_exe()?)
            .args(["--bare-server", &bare_address.to_string()])
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_for_port(bare_address).await?;
    let bare_url = format!("http://{bare_address}{HOOK_PATH}");
    let same_4k = Bodies {
        name: "bare",
        template: ignored_4k.clone(),
    };
    let (load, cpu_us) = measure(&knobs, &work, &bare_url, &same_4k, bare.0.id()).await?;
    outcomes.push(Outcome {
        title: "1 bare axum handler, 4 KB POST",
        load,
        cpu_us,
    });
    drop(bare);

    // The service, with a fresh store and the Slack stand-in.
    let slack = SlackStandIn::start().await?;
    // First on its own store, with Slack's pacing raised, so that the
    // latency run measures the service rather than the pacing.
    let latency = {
        let service = Service::start(
            &work,
            "latency",
            slack.address,
            "messages_per_second = 100.0\nburst = 10",
        )
        .await?;
        slack_latency(&knobs, &service, &slack).await?
    };
    // Then with the shipped delivery settings, for everything else.
    let service = Service::start(&work, "load", slack.address, "").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_kib = service.memory_kib("VmRSS")?;

    let url = format!("http://{}{HOOK_PATH}", service.address);
    let pid = service.pid()?;
    let ignored = Bodies {
        name: "ignored",
        template: ignored_4k,
    };
    let (load, cpu_us) = measure(&knobs, &work, &url, &ignored, pid).await?;
    outcomes.push(Outcome {
        title: "2 4 KB delivery, every event ignored",
        load,
        cpu_us,
    });
    let stored_before = service.stored().await?;
    let resets = Bodies {
        name: "reset",
        template: one_reset.replacen(&events.reset_uuid, UUID_SLOT, 1),
    };
    let (load, cpu_us) = measure(&knobs, &work, &url, &resets, pid).await?;
    let stored_in_run3 = service.stored().await? - stored_before;
    outcomes.push(Outcome {
        title: "3 one distinct reset_all (durable)",
        load,
        cpu_us,
    });
    let batches = Bodies {
        name: "batch",
        template: batch.replace(&events.reset_uuid, UUID_SLOT),
    };
    let (load, cpu_us) = measure(&knobs, &work, &url, &batches, pid).await?;
    outcomes.push(Outcome {
        title: "4 50 events, 5 distinct resets",
        load,
        cpu_us,
    });
    let peak_kib = service.memory_kib("VmHWM")?;
    let stop = service.stop()?;

    println!();
    println!("okta-mfa-notifier load benchmark");
    println!("machine: {}", machine());
    println!(
        "wrk: {} threads, {} connections, {} s per run after {} s of warm-up",
        knobs.threads, knobs.connections, knobs.seconds, knobs.warmup
    );
    println!();
    println!(
        "{:<40} {:>9} {:>8} {:>8} {:>9} {:>10} {:>7}",
        "run", "req/s", "p50 ms", "p99 ms", "vs run 1", "server CPU", "failed"
    );
    let limit = outcomes[0].load.per_second();
    for outcome in &outcomes {
        let load = outcome.load;
        println!(
            "{:<40} {:>9.0} {:>8.2} {:>8.2} {:>8.0}% {:>7.1} us {:>7}",
            outcome.title,
            load.per_second(),
            load.p50_ms,
            load.p99_ms,
            100.0 * load.per_second() / limit,
            outcome.cpu_us,
            load.failed
        );
    }
    println!("(server CPU: the server process's CPU time per request)");
    println!();
    let run3 = outcomes[2].load;
    println!(
        "run 3 durability: {} alerts committed in its warm-up and run; {} answered 200 in the measured part",
        stored_in_run3,
        run3.requests - run3.failed
    );
    println!(
        "memory (resident): idle {:.1} MiB, peak {:.1} MiB",
        idle_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
    println!(
        "start to /readyz 200: {:.1} ms; SIGTERM to exit: {:.1} ms",
        ms(stop.ready),
        ms(stop.stopped)
    );
    println!(
        "POST to the Slack stand-in at {} a second ({} samples): p50 {:.2} ms, p99 {:.2} ms \
         (the 200 answer: p50 {:.2} ms, p99 {:.2} ms)",
        knobs.latency_rate,
        latency.to_slack.len(),
        percentile(&latency.to_slack, 50.0),
        percentile(&latency.to_slack, 99.0),
        percentile(&latency.answer, 50.0),
        percentile(&latency.answer, 99.0),
    );
    if outcomes.iter().any(|o| o.load.failed > 0) {
        bail!("some requests were not answered 200; see the failed column");
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time (user and system) a process has used so far.
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("odd /proc stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .context("short /proc stat")?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks()))
}

/// Clock ticks per second of `/proc` CPU times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Runs wrk for the warm-up, then for the measured time; gives what wrk
/// saw and the CPU time `server` used per request meanwhile.
async fn measure(
    knobs: &Knobs,
    work: &tempfile::TempDir,
    url: &str,
    bodies: &Bodies,
    server: u32,
) -> Result<(Load, f64)> {
    let script = work.path().join(format!("{}.lua", bodies.name));
    std::fs::write(&script, lua_script(&bodies.template))?;
    eprintln!("run {}: warming up for {} s", bodies.name, knobs.warmup);
    if knobs.warmup > 0 {
        wrk(knobs, &script, url, knobs.warmup, "warmup").await?;
    }
    eprintln!("run {}: measuring for {} s", bodies.name, knobs.seconds);
    let before = cpu_time(server)?;
    let load = wrk(knobs, &script, url, knobs.seconds, "measured").await?;
    let used = cpu_time(server)? - before;
    let per_request = used.as_secs_f64() * 1e6 / load.requests.max(1) as f64;
    Ok((load, per_request))
}

async fn wrk(knobs: &Knobs, script: &Path, url: &str, seconds: u64, phase: &str) -> Result<Load> {
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{}", knobs.threads))
        .arg(format!("-c{}", knobs.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(url)
        .arg("--")
        .arg(phase)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .with_context(|| format!("wrk printed no summary: {stdout}"))?;
    let summary: Value = serde_json::from_str(line)?;
    let number = |key: &str| summary[key].as_f64().unwrap_or(0.0);
    Ok(Load {
        requests: number("requests") as u64,
        seconds: number("duration_us") / 1e6,
        p50_ms: number("p50_us") / 1e3,
        p99_ms: number("p99_us") / 1e3,
        failed: number("failed") as u64,
    })
}

/// A wrk script posting `template`, with a distinct uuid in each of its
/// slots per request, and printing a one-line JSON summary.
fn lua_script(template: &str) -> String {
    let pieces: Vec<String> = template
        .split(UUID_SLOT)
        .map(|p| format!("[==[{p}]==]"))
        .collect();
    let requests = if pieces.len() == 1 {
        format!("wrk.body = {}\n", pieces[0])
    } else {
        format!(
            r#"local pieces = {{ {} }}
local count = 0
request = function()
  count = count + 1
  local parts = {{}}
  for i = 1, #pieces - 1 do
    parts[#parts + 1] = pieces[i]
    parts[#parts + 1] = "bench-" .. phase .. "-" .. tid .. "-" .. count .. "-" .. i
  end
  parts[#parts + 1] = pieces[#pieces]
  return wrk.format(nil, nil, nil, table.concat(parts))
end
"#,
            pieces.join(", ")
        )
    };
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{SECRET}"
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function(args)
  phase = args[1] or "run"
end
{requests}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"failed":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"#
    )
}

/// Events taken from the shipped mixed example.
struct Events {
    reset: Value,
    reset_uuid: String,
    ignored: Vec<Value>,
}

fn example_events() -> Result<Events> {
    let mixed: Value = serde_json::from_str(MIXED)?;
    let all = mixed["data"]["events"]
        .as_array()
        .context("the mixed example has no events")?;
    let reset = all
        .iter()
        .find(|e| e["eventType"] == "user.mfa.factor.reset_all")
        .context("the mixed example has no reset")?
        .clone();
    let reset_uuid = reset["uuid"]
        .as_str()
        .context("reset without uuid")?
        .to_owned();
    let ignored = all
        .iter()
        .filter(|e| {
            !e["eventType"].as_str().is_some_and(|t| {
                t.starts_with("user.mfa.factor.reset") || t.ends_with("deactivate")
            })
        })
        .cloned()
        .collect::<Vec<_>>();
    if ignored.is_empty() {
        bail!("the mixed example has no event to ignore");
    }
    Ok(Events {
        reset,
        reset_uuid,
        ignored,
    })
}

/// Ignored events, repeated, until a delivery of them is about `size` bytes.
fn fill_to(ignored: &[Value], size: usize) -> Result<Vec<Value>> {
    let mut events = Vec::new();
    for event in ignored.iter().cycle().take(1000) {
        let mut next = events.clone();
        next.push(event.clone());
        if envelope(&next).len() > size {
            break;
        }
        events = next;
    }
    // Pad the last event's display message to the exact size.
    let short = size.saturating_sub(envelope(&events).len());
    if let Some(last) = events.last_mut() {
        let message = last["displayMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        last["displayMessage"] = Value::String(format!("{message}{}", " ".repeat(short)));
    }
    Ok(events)
}

fn envelope(events: &[Value]) -> String {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/whoBench",
        "eventId": "b0000000-0000-4000-8000-000000000000",
        "eventTime": "2026-10-24T08:42:19.871Z",
        "contentType": "application/json",
        "data": {"events": events}
    })
    .to_string()
}

/// The Slack stand-in: answers `ok` at once and notes when each message of
/// the latency run arrived.
struct SlackStandIn {
    address: SocketAddr,
    arrivals: Arc<Mutex<HashMap<u64, Instant>>>,
    _server: tokio::task::JoinHandle<()>,
}

/// The prefix of the uuids of the latency run.
const LATENCY_PREFIX: &str = "bench-latency-";

impl SlackStandIn {
    async fn start() -> Result<Self> {
        let arrivals: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let router = Router::new()
            .route("/chat.postMessage", post(slack_post))
            .with_state(Arc::clone(&arrivals));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            arrivals,
            _server: server,
        })
    }
}

async fn slack_post(
    State(arrivals): State<Arc<Mutex<HashMap<u64, Instant>>>>,
    body: Bytes,
) -> axum::Json<Value> {
    let now = Instant::now();
    let text = String::from_utf8_lossy(&body);
    if let Some(at) = text.find(LATENCY_PREFIX) {
        let digits: String = text[at + LATENCY_PREFIX.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse()
            && let Ok(mut arrivals) = arrivals.lock()
        {
            arrivals.entry(n).or_insert(now);
        }
    }
    axum::Json(json!({"ok": true, "channel": "C0BENCH", "ts": "1700000000.000100"}))
}

/// Latencies of the low-rate run, in milliseconds.
struct Latency {
    to_slack: Vec<f64>,
    answer: Vec<f64>,
}

/// Posts one reset a time at a low steady rate and times each to its 200
/// and to its arrival at Slack.
async fn slack_latency(knobs: &Knobs, service: &Service, slack: &SlackStandIn) -> Result<Latency> {
    eprintln!(
        "latency: {} resets at {} a second",
        knobs.latency_samples, knobs.latency_rate
    );
    let events = example_events()?;
    let client = reqwest::Client::new();
    let url = format!("http://{}{HOOK_PATH}", service.address);
    let mut sent = HashMap::new();
    let mut answer = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / knobs.latency_rate));
    let warmup = 10;
    for n in 0..(knobs.latency_samples + warmup) as u64 {
        tick.tick().await;
        let mut event = events.reset.clone();
        event["uuid"] = Value::String(format!("{LATENCY_PREFIX}{n}"));
        let body = envelope(&[event]);
        let started = Instant::now();
        let response = client
            .post(&url)
            .header("authorization", SECRET)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if response.status() != StatusCode::OK {
            bail!("the latency run's delivery {n} got {}", response.status());
        }
        if n >= warmup as u64 {
            answer.push(ms(started.elapsed()));
            sent.insert(n, started);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let arrived = slack.arrivals.lock().map(|a| a.len()).unwrap_or(0);
        if arrived >= knobs.latency_samples + warmup {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {arrived} of the latency run's messages reached Slack");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrivals = slack.arrivals.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let to_slack = sent
        .iter()
        .filter_map(|(n, started)| arrivals.get(n).map(|at| ms(at.duration_since(*started))))
        .collect();
    Ok(Latency { to_slack, answer })
}

/// The service under test, started from its release binary.
struct Service {
    child: Option<Child>,
    address: SocketAddr,
    admin: SocketAddr,
    ready: Duration,
}

/// How the service started and stopped.
struct Stopped {
    ready: Duration,
    stopped: Duration,
}

impl Service {
    /// Starts the service on a store of its own named `name`, with extra
    /// `[delivery]` settings.
    async fn start(
        work: &tempfile::TempDir,
        name: &str,
        slack: SocketAddr,
        delivery: &str,
    ) -> Result<Self> {
        let address = free_address()?;
        let admin = free_address()?;
        let config = work.path().join(format!("{name}.toml"));
        let store: PathBuf = work.path().join(name).join("store.db");
        std::fs::write(
            &config,
            format!(
                r#"[server]
listen = "{address}"
[admin]
listen = "{admin}"
[okta]
auth_secrets = ["{SECRET}"]
org_url = "https://example.okta.com"
[slack]
bot_token = "xoxb-bench-token"
channel = "C0BENCH"
api_url = "http://{slack}"
[store]
path = "{}"
[delivery]
{delivery}
"#,
                store.display()
            ),
        )?;
        let log_path = work.path().join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("NO_COLOR", "1")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut service = Self {
            child: Some(child),
            address,
            admin,
            ready: Duration::ZERO,
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()?;
        let ready_url = format!("http://{admin}/readyz");
        loop {
            if let Ok(response) = client.get(&ready_url).send().await
                && response.status() == StatusCode::OK
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!(
                    "the service was not ready within 10 s; its log: {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        service.ready = started.elapsed();
        Ok(service)
    }

    fn pid(&self) -> Result<u32> {
        Ok(self.child.as_ref().context("the service is stopped")?.id())
    }

    /// A memory figure from `/proc/<pid>/status`, in KiB.
    fn memory_kib(&self, key: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {key} in /proc status"))
    }

    /// Alerts the service has stored, from its metrics.
    async fn stored(&self) -> Result<u64> {
        let text = reqwest::get(format!("http://{}/metrics", self.admin))
            .await?
            .text()
            .await?;
        text.lines()
            .find_map(|l| l.strip_prefix("okta_mfa_notifier_alerts_stored_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .context("no okta_mfa_notifier_alerts_stored_total in /metrics")
    }

    /// Sends SIGTERM and times the exit.
    fn stop(mut self) -> Result<Stopped> {
        let mut child = self.child.take().context("already stopped")?;
        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let status = child.wait()?;
        let stopped = started.elapsed();
        if !status.success() {
            bail!("the service exited with {status} on SIGTERM");
        }
        Ok(Stopped {
            ready: self.ready,
            stopped,
        })
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn wait_for_port(address: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on {address}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn which(program: &str) -> Result<()> {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        Ok(())
    } else {
        bail!("{program} not found")
    }
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The CPU, cores and kernel of this machine.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|s| s.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {kernel}")
}
