//! Soak test with fault injection: the real binary, a Slack stand-in that
//! fails at random, Okta-style redeliveries, and SIGKILLs at random moments.
//!
//! Not part of `cargo test` (the tests are `#[ignore]`d); run it with
//! `bash scripts/soak.sh`, which runs both tests here in release mode:
//!
//! - `soak_with_faults` starts the built service on a fresh store, posts
//!   about 500 `user.mfa.factor.reset_all` events of several users in random
//!   batches (some deliveries posted again at once, concurrently, and some
//!   later, after restarts too), and SIGKILLs and restarts the service
//!   several times while it accepts and delivers. The Slack stand-in answers
//!   `ok` most of the time, and otherwise `429` with `Retry-After: 1`, `500`,
//!   `ok:false` with `internal_error`, or nothing until after
//!   `slack.timeout_secs` (a timeout).
//! - `soak_clean` does the same without kills and without timeouts, and so
//!   must see no duplicate at all.
//!
//! Each run waits until the outbox is drained, then prints what it sent (events
//! accepted), what was delivered, duplicated, lost and dead-lettered, and
//! asserts that nothing was lost and that the duplicates stay within the
//! bound the service documents (see [`Outcome::check`]).
//!
//! Knobs (environment): `SOAK_SEED` (random when unset; printed, so a run can
//! be repeated as closely as timing allows), `SOAK_EVENTS` (500),
//! `SOAK_USERS` (7), `SOAK_BATCH_MAX` (8 events per delivery), `SOAK_KILLS`
//! (5) and `SOAK_TIMEOUT_PERCENT` (2, share of Slack calls answered too late);
//! the last two apply to `soak_with_faults` only.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// The hook secret the service is configured with.
const SECRET: &str = "soak-hook-secret-0123456789abcdef";
/// The bot token the Slack stand-in expects.
const BOT_TOKEN: &str = "xoxb-soak-token";
/// The channel alerts go to.
const CHANNEL: &str = "C0SOAKTEST";
/// Every event uuid starts with this; the rest is the event's number.
const UUID_PREFIX: &str = "5a0c0000-0000-4000-8000-";
/// `slack.timeout_secs` for the service.
const SLACK_TIMEOUT_SECS: u64 = 2;
/// How long the stand-in holds a request it answers too late.
const SLOW_ANSWER: Duration = Duration::from_secs(SLACK_TIMEOUT_SECS + 1);
/// Longest a run may take to accept everything and drain the outbox.
const RUN_LIMIT: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak test; run scripts/soak.sh"]
async fn soak_with_faults() {
    let plan = Plan::from_env(env_u64("SOAK_KILLS", 5), env_u64("SOAK_TIMEOUT_PERCENT", 2));
    run(plan).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak test; run scripts/soak.sh"]
async fn soak_clean() {
    run(Plan::from_env(0, 0)).await;
}

/// What one run does.
#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    events: u64,
    users: u64,
    batch_max: u64,
    kills: u64,
    faults: Faults,
}

/// Percentages of Slack calls the stand-in fails, by kind; the rest is `ok`.
#[derive(Debug, Clone, Copy)]
struct Faults {
    rate_limited: u64,
    server_error: u64,
    internal_error: u64,
    timeout: u64,
}

impl Plan {
    fn from_env(kills: u64, timeout_percent: u64) -> Self {
        let seed = std::env::var("SOAK_SEED")
            .ok()
            .map(|s| s.trim().parse().expect("SOAK_SEED is a number"))
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock after 1970")
                    .as_nanos() as u64
                    % 1_000_000_000
            });
        let plan = Self {
            seed,
            events: env_u64("SOAK_EVENTS", 500).max(1),
            users: env_u64("SOAK_USERS", 7).max(1),
            batch_max: env_u64("SOAK_BATCH_MAX", 8).max(1),
            kills,
            faults: Faults {
                rate_limited: 3,
                server_error: 4,
                internal_error: 4,
                timeout: timeout_percent.min(50),
            },
        };
        println!(
            "soak: seed {} (SOAK_SEED={} repeats it), {} events of {} users in deliveries of 1..={}, {} kills, Slack faults: {}% 429, {}% 500, {}% internal_error, {}% timeouts",
            plan.seed,
            plan.seed,
            plan.events,
            plan.users,
            plan.batch_max,
            plan.kills,
            plan.faults.rate_limited,
            plan.faults.server_error,
            plan.faults.internal_error,
            plan.faults.timeout,
        );
        plan
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a number")),
        Err(_) => default,
    }
}

/// A small xorshift64* generator: enough randomness for a test, and the same
/// sequence for the same seed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// A generator for one purpose (`stream`) of a run with `seed`.
    fn new(seed: u64, stream: u64) -> Self {
        // splitmix64 of the two, so that close seeds give unrelated sequences.
        let mut z = seed
            .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How the stand-in answered one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    /// `200 {"ok":true,…}`: posted.
    Ok,
    /// `429` with `Retry-After: 1`: not posted.
    RateLimited,
    /// `500`: not posted.
    ServerError,
    /// `200 {"ok":false,"error":"internal_error"}`: not posted.
    InternalError,
    /// No answer until after the service's timeout: counted as posted, as a
    /// real Slack may have posted it.
    Timeout,
}

impl Answer {
    /// Whether the message counts as posted in the channel.
    fn posted(self) -> bool {
        matches!(self, Self::Ok | Self::Timeout)
    }
}

/// One call the stand-in received.
#[derive(Debug, Clone)]
struct Received {
    uuid: String,
    answer: Answer,
    at: Instant,
    /// The message `ts` of an `ok` answer (a timed-out one's too).
    ts: Option<String>,
}

/// The Slack stand-in's state.
struct SlackState {
    rng: Mutex<Rng>,
    faults: Faults,
    received: Mutex<Vec<Received>>,
    /// Calls that named no uuid of this run, or several, or had a bad token.
    strange: Mutex<Vec<String>>,
    ts: AtomicU64,
}

impl SlackState {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    fn choose(&self) -> Answer {
        let roll = self.rng.lock().expect("lock").below(100);
        let f = self.faults;
        let mut edge = f.rate_limited;
        if roll < edge {
            return Answer::RateLimited;
        }
        edge += f.server_error;
        if roll < edge {
            return Answer::ServerError;
        }
        edge += f.internal_error;
        if roll < edge {
            return Answer::InternalError;
        }
        edge += f.timeout;
        if roll < edge {
            return Answer::Timeout;
        }
        Answer::Ok
    }
}

/// Starts the Slack stand-in; returns its base URL.
async fn start_slack(state: Arc<SlackState>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the Slack stand-in");
    let address = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/api/chat.postMessage", post(post_message))
        .with_state(state);
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("stand-in serves");
    });
    format!("http://{address}/api")
}

async fn post_message(
    State(state): State<Arc<SlackState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Bearer {BOT_TOKEN}").as_bytes());
    let text = String::from_utf8_lossy(&body).into_owned();
    let uuids = uuids_in(&text);
    if !authorized || uuids.len() != 1 {
        state.strange.lock().expect("lock").push(text);
        return (
            StatusCode::OK,
            axum::Json(json!({"ok": false, "error": "invalid_auth"})),
        )
            .into_response();
    }
    let uuid = uuids.into_iter().next().expect("one uuid");
    let answer = state.choose();
    let ts = answer
        .posted()
        .then(|| format!("1760000000.{:06}", state.ts.fetch_add(1, Ordering::Relaxed)));
    state.received.lock().expect("lock").push(Received {
        uuid,
        answer,
        at: Instant::now(),
        ts: ts.clone(),
    });
    match answer {
        Answer::Ok | Answer::Timeout => {
            if answer == Answer::Timeout {
                tokio::time::sleep(SLOW_ANSWER).await;
            }
            axum::Json(json!({"ok": true, "channel": CHANNEL, "ts": ts})).into_response()
        }
        Answer::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            axum::Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response(),
        Answer::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "upstream failure").into_response()
        }
        Answer::InternalError => {
            axum::Json(json!({"ok": false, "error": "internal_error"})).into_response()
        }
    }
}

/// The distinct event uuids of this run named in `text`.
fn uuids_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(UUID_PREFIX) {
        let tail = &rest[at + UUID_PREFIX.len()..];
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() == 12 {
            found.insert(format!("{UUID_PREFIX}{digits}"));
        }
        rest = tail;
    }
    found
}

fn uuid(n: u64) -> String {
    format!("{UUID_PREFIX}{n:012}")
}

/// A reset-all event of user `user` by an admin, in its own transaction.
fn reset_event(n: u64, user: u64) -> Value {
    let uuid = uuid(n);
    json!({
        "uuid": uuid,
        "published": "2026-10-24T08:42:17.305Z",
        "eventType": "user.mfa.factor.reset_all",
        "version": "0",
        "displayMessage": "Reset all factors for user",
        "severity": "INFO",
        "actor": {"id": "00uSoakAdmin00000001", "type": "User",
                  "alternateId": "helpdesk@example.com", "displayName": "Help Desk"},
        "client": {"ipAddress": "203.0.113.9", "zone": "null",
                   "geographicalContext": {"city": "Porto", "country": "Portugal"}},
        "outcome": {"result": "SUCCESS", "reason": null},
        "target": [{"id": format!("00uSoakUser{user:09}"), "type": "User",
                    "alternateId": format!("user{user}@example.com"),
                    "displayName": format!("Soak User {user}")}],
        "transaction": {"type": "WEB", "id": format!("tx-{uuid}"), "detail": {}}
    })
}

/// One Okta delivery: its body and the uuids of its events.
struct Delivery {
    body: String,
    uuids: Vec<String>,
}

fn deliveries(plan: &Plan, rng: &mut Rng) -> Vec<Arc<Delivery>> {
    let mut out = Vec::new();
    let mut next = 0;
    while next < plan.events {
        let size = (1 + rng.below(plan.batch_max)).min(plan.events - next);
        let numbers: Vec<u64> = (next..next + size).collect();
        next += size;
        let events: Vec<Value> = numbers
            .iter()
            .map(|&n| reset_event(n, rng.below(plan.users)))
            .collect();
        let body = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://example.okta.com/api/v1/eventHooks/whoSoak",
            "eventId": format!("d0000000-0000-4000-8000-{:012}", out.len()),
            "eventTime": "2026-10-24T08:42:19.871Z",
            "contentType": "application/json",
            "data": {"events": events}
        })
        .to_string();
        out.push(Arc::new(Delivery {
            body,
            uuids: numbers.into_iter().map(uuid).collect(),
        }));
    }
    out
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").port()
}

/// The service process, started again on the same store and ports after each
/// kill. Its standard output and error go to one log file.
struct ServiceProcess {
    child: Option<tokio::process::Child>,
    env: Vec<(String, String)>,
    log: PathBuf,
    admin: SocketAddr,
    http: reqwest::Client,
    starts: u32,
}

impl ServiceProcess {
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_okta-mfa-notifier"));
        for (key, _) in std::env::vars() {
            if key.starts_with("OKTA_MFA_NOTIFIER") || key.to_ascii_lowercase().ends_with("_proxy")
            {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file")
    }

    /// Starts the service and waits until `/readyz` answers 200.
    async fn start(&mut self) {
        for _ in 0..5 {
            self.starts += 1;
            let log = self.log_file();
            let mut child = self
                .command()
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().expect("log file")))
                .stderr(Stdio::from(log))
                .kill_on_drop(true)
                .spawn()
                .expect("the binary starts");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = child.try_wait().expect("child status") {
                    println!(
                        "soak: the service exited while starting ({status}); starting it again"
                    );
                    break;
                }
                let ready = self
                    .http
                    .get(format!("http://{}/readyz", self.admin))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                if ready {
                    self.child = Some(child);
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the service was not ready within 30 s; see {}",
                    self.log.display()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!(
            "the service did not start in five tries; see {}",
            self.log.display()
        );
    }

    /// SIGKILLs the service, after checking it had not ended on its own.
    async fn kill(&mut self) {
        let mut child = self.child.take().expect("the service runs");
        if let Some(status) = child.try_wait().expect("child status") {
            panic!(
                "the service ended on its own ({status}); see {}",
                self.log.display()
            );
        }
        child.start_kill().expect("SIGKILL sent");
        child.wait().await.expect("the killed service is reaped");
    }

    /// SIGTERMs the service and expects a clean exit.
    async fn terminate(&mut self) {
        let mut child = self.child.take().expect("the service runs");
        let pid = nix::unistd::Pid::from_raw(child.id().expect("pid") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
        let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .expect("the service stops within 15 s of SIGTERM")
            .expect("exit status");
        assert!(
            status.success(),
            "SIGTERM ended the service with {status}; see {}",
            self.log.display()
        );
    }

    /// The metric samples of `/metrics`, by name with labels.
    async fn metrics(&self) -> Option<BTreeMap<String, f64>> {
        let text = self
            .http
            .get(format!("http://{}/metrics", self.admin))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|line| !line.starts_with('#') && !line.is_empty())
                .filter_map(|line| {
                    let (name, value) = line.rsplit_once(' ')?;
                    Some((name.to_owned(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    /// The uuids `dead-letters list` names.
    async fn dead_letters(&self) -> BTreeSet<String> {
        let output = self
            .command()
            .args(["dead-letters", "list"])
            .stdin(Stdio::null())
            .output()
            .await
            .expect("dead-letters list runs");
        assert!(
            output.status.success(),
            "dead-letters list failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .skip(1)
            .filter_map(|line| line.split('\t').nth(2).map(str::to_owned))
            .collect()
    }
}

/// How the driver's posts to the hook went.
#[derive(Debug, Default)]
struct HookTally {
    posts: u64,
    accepted: u64,
    refused: u64,
    unavailable: u64,
    other: u64,
}

/// Posts `delivery` until the service answers 200, as Okta retries; records
/// its uuids as accepted then.
async fn post_until_accepted(
    http: reqwest::Client,
    url: String,
    delivery: Arc<Delivery>,
    accepted: Arc<Mutex<BTreeSet<String>>>,
    tally: Arc<Mutex<HookTally>>,
) {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        let answer = http
            .post(&url)
            .header("authorization", SECRET)
            .header("content-type", "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        let status = answer.as_ref().map(reqwest::Response::status);
        {
            let mut tally = tally.lock().expect("lock");
            tally.posts += 1;
            match &status {
                Ok(s) if *s == 200 => tally.accepted += 1,
                Ok(s) if *s == 503 => tally.unavailable += 1,
                Ok(_) => tally.other += 1,
                Err(_) => tally.refused += 1,
            }
        }
        match status {
            Ok(s) if s == 200 => {
                accepted
                    .lock()
                    .expect("lock")
                    .extend(delivery.uuids.iter().cloned());
                return;
            }
            Ok(s) if s == 503 || s == 408 => {}
            Ok(s) => panic!("the hook answered {s} to a valid delivery"),
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "a delivery was not accepted in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Everything a run observed, and the checks on it.
#[derive(Debug)]
struct Outcome {
    accepted: BTreeSet<String>,
    received: Vec<Received>,
    dead: BTreeSet<String>,
    kills: Vec<Instant>,
}

impl Outcome {
    /// Every uuid Slack answered `ok` for.
    fn delivered(&self) -> BTreeSet<String> {
        self.received
            .iter()
            .filter(|r| r.answer == Answer::Ok)
            .map(|r| r.uuid.clone())
            .collect()
    }

    /// The posts of each uuid, in the order the stand-in received them.
    fn posts(&self) -> BTreeMap<&str, Vec<&Received>> {
        let mut posts: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
        for r in self.received.iter().filter(|r| r.answer.posted()) {
            posts.entry(&r.uuid).or_default().push(r);
        }
        posts
    }

    fn count(&self, answer: Answer) -> usize {
        self.received.iter().filter(|r| r.answer == answer).count()
    }

    /// Prints the counts and checks them:
    ///
    /// - nothing lost: every accepted event was answered `ok` by Slack or is
    ///   a dead letter;
    /// - nothing posted that was not accepted;
    /// - duplicates (posts of a uuid after its first, where a post is an `ok`
    ///   answer or a timed-out call the stand-in received) are at most
    ///   kills + timed-out posts. The worker sends one message at a time, so
    ///   a kill can leave at most one message posted but not recorded as
    ///   delivered, and a timed-out post is sent again at most once for that
    ///   post. Each duplicate must also be explained on its own: the post
    ///   before it (of the same uuid) timed out, or a kill came between the
    ///   two, each kill explaining at most one duplicate.
    fn check(&self, wall: Duration, tally: &HookTally) {
        let delivered = self.delivered();
        let posts = self.posts();
        let duplicated: usize = posts.values().map(|p| p.len() - 1).sum();
        let timeouts = self.count(Answer::Timeout);
        let bound = self.kills.len() + timeouts;
        let lost: Vec<&String> = self
            .accepted
            .iter()
            .filter(|u| !delivered.contains(*u) && !self.dead.contains(*u))
            .collect();
        let unexpected: Vec<&&str> = posts
            .keys()
            .filter(|u| !self.accepted.contains(**u))
            .collect();

        println!(
            "soak: hook: {} posts, {} accepted (200), {} refused connections, {} 503, {} other",
            tally.posts, tally.accepted, tally.refused, tally.unavailable, tally.other
        );
        println!(
            "soak: Slack stand-in: {} calls: {} ok, {} 429, {} 500, {} internal_error, {} timeouts",
            self.received.len(),
            self.count(Answer::Ok),
            self.count(Answer::RateLimited),
            self.count(Answer::ServerError),
            self.count(Answer::InternalError),
            timeouts,
        );
        println!(
            "soak: sent (events accepted by the hook):      {}",
            self.accepted.len()
        );
        println!(
            "soak: delivered (distinct uuids Slack ok'd):    {}",
            delivered.len()
        );
        println!(
            "soak: posted (distinct uuids ok'd or timed out): {}",
            posts.len()
        );
        println!(
            "soak: duplicated (posts beyond a uuid's first): {duplicated} (bound: {} kills + {timeouts} timed-out posts = {bound})",
            self.kills.len()
        );
        println!(
            "soak: lost (accepted, neither delivered nor dead-lettered): {}",
            lost.len()
        );
        println!("soak: dead-lettered: {}", self.dead.len());
        println!("soak: wall time: {:.1} s", wall.as_secs_f64());

        assert!(lost.is_empty(), "lost alerts: {lost:?}");
        assert!(
            unexpected.is_empty(),
            "posted but never accepted: {unexpected:?}"
        );
        assert!(
            duplicated <= bound,
            "{duplicated} duplicates, more than {} kills + {timeouts} timed-out posts",
            self.kills.len()
        );
        self.check_each_duplicate(&posts);
    }

    /// Every duplicate follows a timed-out post of its uuid, or has a kill of
    /// its own between it and the post before it.
    fn check_each_duplicate(&self, posts: &BTreeMap<&str, Vec<&Received>>) {
        // Duplicates that no timeout explains, as (previous post, this post).
        let mut spans: Vec<(Instant, Instant, &str)> = Vec::new();
        for (uuid, posts) in posts {
            for pair in posts.windows(2) {
                if pair[0].answer != Answer::Timeout {
                    spans.push((pair[0].at, pair[1].at, uuid));
                }
            }
        }
        // Earliest-ending span first takes the earliest kill inside it: if
        // any one-kill-per-span assignment exists, this finds one.
        spans.sort_by_key(|s| s.1);
        let mut used = vec![false; self.kills.len()];
        for (from, to, uuid) in spans {
            let kill = self
                .kills
                .iter()
                .enumerate()
                .find(|(i, k)| !used[*i] && **k > from && **k < to);
            match kill {
                Some((i, _)) => used[i] = true,
                None => panic!(
                    "{uuid} was posted again {:?} after an ok with no kill of its own in between",
                    to - from
                ),
            }
        }
    }
}

async fn run(plan: Plan) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let slack = Arc::new(SlackState {
        rng: Mutex::new(Rng::new(plan.seed, 1)),
        faults: plan.faults,
        received: Mutex::new(Vec::new()),
        strange: Mutex::new(Vec::new()),
        ts: AtomicU64::new(1),
    });
    let slack_url = start_slack(Arc::clone(&slack)).await;
    let hook_port = free_port();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");
    let env: Vec<(String, String)> = [
        ("SERVER__LISTEN", format!("127.0.0.1:{hook_port}")),
        ("ADMIN__LISTEN", admin.to_string()),
        ("OKTA__AUTH_SECRETS", SECRET.to_owned()),
        ("OKTA__ORG_URL", "https://example.okta.com".to_owned()),
        ("SLACK__BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("SLACK__CHANNEL", CHANNEL.to_owned()),
        ("SLACK__API_URL", slack_url),
        ("SLACK__TIMEOUT_SECS", SLACK_TIMEOUT_SECS.to_string()),
        ("STORE__PATH", store.display().to_string()),
        ("DELIVERY__MESSAGES_PER_SECOND", "50".to_owned()),
        ("DELIVERY__BURST", "10".to_owned()),
        ("DELIVERY__RETRY_INITIAL_MS", "100".to_owned()),
        ("DELIVERY__RETRY_MAX_SECS", "2".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("OKTA_MFA_NOTIFIER__{k}"), v))
    .chain([("RUST_LOG".to_owned(), "info".to_owned())])
    .collect();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let log = dir.path().join("service.log");
    println!("soak: service log: {}", log.display());
    let mut service = ServiceProcess {
        child: None,
        env,
        log,
        admin,
        http: http.clone(),
        starts: 0,
    };
    service.start().await;
    let service = Arc::new(tokio::sync::Mutex::new(service));

    // Each kill comes when the hook has accepted, or the stand-in has
    // received, a random number of events or calls (half of each), so that
    // kills land while the service accepts deliveries and while it delivers.
    let mut rng = Rng::new(plan.seed, 2);
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let triggers: Vec<(bool, usize)> = (0..plan.kills)
        .map(|_| (rng.chance(50), 1 + rng.below(plan.events) as usize))
        .collect();
    let killer = {
        let service = Arc::clone(&service);
        let slack = Arc::clone(&slack);
        let accepted = Arc::clone(&accepted);
        let mut rng = Rng::new(plan.seed, 3);
        tokio::spawn(async move {
            let mut kills = Vec::new();
            for (on_accept, threshold) in triggers {
                loop {
                    let reached = if on_accept {
                        accepted.lock().expect("lock").len()
                    } else {
                        slack.received.lock().expect("lock").len()
                    };
                    if reached >= threshold {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
                let mut service = service.lock().await;
                service.kill().await;
                kills.push(Instant::now());
                // Down for a moment, as a crashed process would be.
                tokio::time::sleep(Duration::from_millis(rng.below(1_000))).await;
                service.start().await;
            }
            kills
        })
    };

    // Okta's side: deliveries in order, a few at a time, some posted twice at
    // once, some again later (after a restart, often).
    let deliveries = deliveries(&plan, &mut rng);
    let url = format!("http://127.0.0.1:{hook_port}/okta/event-hook");
    let tally = Arc::new(Mutex::new(HookTally::default()));
    let post = |delivery: &Arc<Delivery>| {
        post_until_accepted(
            http.clone(),
            url.clone(),
            Arc::clone(delivery),
            Arc::clone(&accepted),
            Arc::clone(&tally),
        )
    };
    let mut in_flight = JoinSet::new();
    let mut later: Vec<Arc<Delivery>> = Vec::new();
    let (mut at_once, mut again_later) = (0, 0);
    for delivery in &deliveries {
        while in_flight.len() >= 4 {
            in_flight.join_next().await.expect("task").expect("post");
        }
        in_flight.spawn(post(delivery));
        if rng.chance(10) {
            at_once += 1;
            in_flight.spawn(post(delivery));
        }
        if rng.chance(15) {
            again_later += 1;
            later.push(Arc::clone(delivery));
        }
        if !later.is_empty() && rng.chance(10) {
            let old = later.swap_remove(rng.below(later.len() as u64) as usize);
            in_flight.spawn(post(&old));
        }
        tokio::time::sleep(Duration::from_millis(rng.below(200))).await;
    }
    for old in later.drain(..) {
        in_flight.spawn(post(&old));
        tokio::time::sleep(Duration::from_millis(rng.below(200))).await;
    }
    while let Some(done) = in_flight.join_next().await {
        done.expect("post");
    }
    println!(
        "soak: {} deliveries accepted after {:.1} s ({at_once} posted twice at once, {again_later} again later)",
        deliveries.len(),
        started.elapsed().as_secs_f64()
    );
    let kills = killer.await.expect("killer");

    // Drained: nothing pending, twice in a row a second apart.
    let mut service = Arc::into_inner(service)
        .expect("only the driver holds the service")
        .into_inner();
    let mut quiet = 0;
    let metrics = loop {
        assert!(
            started.elapsed() < RUN_LIMIT,
            "the outbox did not drain within {RUN_LIMIT:?}; see {}",
            service.log.display()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(metrics) = service.metrics().await else {
            continue;
        };
        if metrics.get("okta_mfa_notifier_outbox_pending") == Some(&0.0) {
            quiet += 1;
            if quiet == 2 {
                break metrics;
            }
        } else {
            quiet = 0;
        }
    };
    let dead = service.dead_letters().await;
    assert_eq!(
        metrics.get("okta_mfa_notifier_dead_letters").copied(),
        Some(dead.len() as f64),
        "the dead-letter gauge and `dead-letters list` agree"
    );
    service.terminate().await;
    let strange = slack.strange.lock().expect("lock").clone();
    assert!(
        strange.is_empty(),
        "Slack calls without one uuid of this run: {strange:?}"
    );
    println!(
        "soak: {} starts, {} kills; drained after {:.1} s",
        service.starts,
        kills.len(),
        started.elapsed().as_secs_f64()
    );

    let accepted = accepted.lock().expect("lock").clone();
    assert_eq!(
        accepted.len() as u64,
        plan.events,
        "every event was accepted"
    );
    let outcome = Outcome {
        accepted,
        received: slack.received(),
        dead,
        kills,
    };
    check_store(&store, &outcome).await;
    let tally = tally.lock().expect("lock");
    outcome.check(started.elapsed(), &tally);
}

/// The store agrees: every alert it records as delivered was answered `ok`
/// by Slack, with the `ts` of one of those answers.
async fn check_store(store: &Path, outcome: &Outcome) {
    let store = okta_mfa_notifier::store::Store::open(store).expect("open the store");
    let mut recorded = 0;
    for uuid in &outcome.accepted {
        if let Some(record) = store.delivered_record(uuid).await.expect("read the store") {
            recorded += 1;
            let answered = outcome.received.iter().any(|r| {
                r.answer == Answer::Ok && &r.uuid == uuid && r.ts == Some(record.ts.clone())
            });
            assert!(
                answered && record.channel == CHANNEL,
                "the store records {uuid} as delivered ({record:?}) but Slack never answered ok with that ts"
            );
        } else {
            assert!(
                outcome.dead.contains(uuid),
                "{uuid} is neither delivered nor a dead letter in the store"
            );
        }
    }
    println!("soak: store: {recorded} alerts recorded as delivered");
}
