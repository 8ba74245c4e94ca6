//! The command line: global options, subcommands, and their exit codes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::backfill::{self, Backfill};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::okta::syslog::okta_time;
use crate::okta::{AdminConsole, Delivery};
use crate::selection;
use crate::service::{self, Service};
use crate::slack::{SlackError, message};
use crate::store::Store;
use crate::telemetry;

/// Exit code for an invalid configuration (`EX_CONFIG`).
const EXIT_CONFIG: u8 = 78;
/// Exit code for a failure that may pass if tried again later (`EX_TEMPFAIL`).
const EXIT_TEMPFAIL: u8 = 75;

/// A failure worth trying again later, as opposed to one to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TryLater(String);

/// Receives Okta event hooks and alerts Slack when a user's MFA factors are reset.
#[derive(Debug, Parser)]
#[command(name = "okta-mfa-notifier", version, about)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "OKTA_MFA_NOTIFIER_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the event-hook receiver and the delivery worker (the default).
    Serve,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Alert on an event-hook body or a JSON array of System Log events, as if
    /// Okta had sent it; events already alerted on are skipped.
    Replay(ReplayArgs),
    /// Read the Okta System Log for the watched event types and alert on what
    /// the hook missed; events already alerted on are skipped.
    Backfill(BackfillArgs),
    /// List the alerts that could not be delivered, or send them again.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
    /// Post a clearly marked test alert to the configured channel and print
    /// Slack's answer; exits non-zero, saying what to fix, when Slack refuses.
    SendTest,
    /// Exit 0 if the running service's /healthz answers (for container health checks).
    Healthcheck {
        /// Ask /readyz instead: the store takes writes and the worker runs.
        #[arg(long)]
        ready: bool,
    },
}

/// Arguments of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// File to read, or `-` for standard input.
    pub file: PathBuf,
    /// Print the Slack requests instead of storing the alerts.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Start of the range, RFC 3339 (such as 2026-12-01T00:00:00Z); the
    /// System Log keeps 90 days.
    #[arg(long, value_parser = rfc3339)]
    pub since: OffsetDateTime,
    /// End of the range, RFC 3339; a minute ago when omitted or later (newer
    /// events are still on their way by hook).
    #[arg(long, value_parser = rfc3339)]
    pub until: Option<OffsetDateTime>,
    /// Print the Slack requests of the alerts that would be stored instead
    /// of storing them.
    #[arg(long)]
    pub dry_run: bool,
}

fn rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2026-12-01T00:00:00Z ({e})"))
}

/// What to do with dead letters.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List every dead letter.
    List,
    /// Queue dead letters for delivery again; the running service sends them.
    Retry {
        /// Id of the dead letter, as `list` shows it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("okta-mfa-notifier: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(settings.log.format);
    telemetry::redact_panics(settings.secret_values());

    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            print!("{}", settings.to_redacted_toml());
            warn_about_weak_settings(&settings);
            eprintln!(
                "okta-mfa-notifier: configuration is valid ({} hook secret(s) accepted, alerts go to {})",
                settings.okta.auth_secrets.len(),
                match &settings.slack.bot_token {
                    Some(_) => format!(
                        "Slack channel {}",
                        settings.slack.channel.as_deref().unwrap_or("")
                    ),
                    None => "standard output".to_owned(),
                }
            );
            Ok(())
        }
        Command::Serve => serve(&settings),
        Command::Replay(args) => block_on(replay(&settings, &args)),
        Command::Backfill(args) => block_on(backfill(&settings, &args)),
        Command::DeadLetters(command) => block_on(dead_letters(&settings, command)),
        Command::SendTest => block_on(send_test(&settings)),
        Command::Healthcheck { ready } => block_on(healthcheck(&settings, ready)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<TryLater>().is_some() => {
            eprintln!("okta-mfa-notifier: {e:#}");
            ExitCode::from(EXIT_TEMPFAIL)
        }
        Err(e) => {
            eprintln!("okta-mfa-notifier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    warn_about_weak_settings(settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let service = Service::start(settings).await?;
        service.run_until(service::shutdown_signal()).await
    })
}

/// Settings that work but that an operator most likely did not mean.
fn warn_about_weak_settings(settings: &Settings) {
    use secrecy::ExposeSecret;

    if settings.okta.auth_secrets.is_empty() {
        tracing::warn!(
            "okta.allow_unauthenticated is set and no secret is configured: \
             anyone who can reach the hook can post alerts."
        );
    }
    if settings
        .okta
        .auth_secrets
        .iter()
        .any(|s| s.expose_secret().chars().count() < 16)
    {
        tracing::warn!(
            "An okta.auth_secrets value is shorter than 16 characters; use a long random value."
        );
    }
    if let Some(token) = &settings.slack.bot_token
        && !token.expose_secret().starts_with("xoxb-")
    {
        tracing::warn!(
            "slack.bot_token does not start with xoxb-; alerts should be posted with the app's bot token."
        );
    }
}

fn block_on(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

async fn replay(settings: &Settings, args: &ReplayArgs) -> anyhow::Result<()> {
    let body = read_input(&args.file)?;
    let delivery = Delivery::parse_replay(&body).context("cannot replay this input")?;
    let selection = selection::select(&delivery, &selection::Rules::of(&settings.okta));
    let selected = selection.alerts.len();

    if args.dry_run {
        let uuids = selection
            .alerts
            .iter()
            .map(|a| a.event_uuid.clone())
            .collect();
        let known = known_events(&settings.store.path, uuids).await?;
        let fresh: Vec<_> = selection
            .alerts
            .iter()
            .filter(|a| !known.contains(&a.event_uuid))
            .collect();
        print_requests(settings, &fresh)?;
        let fresh = fresh.len();
        eprintln!(
            "replay (dry run): {} events, {selected} selected, {fresh} would be alerted, {} already known",
            delivery.len(),
            selected - fresh
        );
        return Ok(());
    }

    let store = Store::open(&settings.store.path)?;
    let stored = store
        .accept(selection.alerts, crate::store::Timing::of(settings))
        .await?;
    eprintln!(
        "replay: {} events, {selected} selected, {} stored for delivery, {} already known",
        delivery.len(),
        stored.new,
        stored.known
    );
    if stored.new > 0 {
        eprintln!("replay: the running service delivers them within seconds, or at its next start");
    }
    Ok(())
}

/// Prints the Slack request of each alert, one JSON object per line.
fn print_requests(settings: &Settings, alerts: &[&crate::alert::Alert]) -> anyhow::Result<()> {
    let console = settings
        .okta
        .org_url
        .as_deref()
        .and_then(AdminConsole::from_org_url);
    let channel = settings.slack.channel.as_deref().unwrap_or_default();
    let mut lines = String::new();
    for alert in alerts {
        let request = message::render(alert, channel, console.as_ref());
        lines.push_str(&serde_json::to_string(&request)?);
        lines.push('\n');
    }
    write_stdout(&lines)
}

/// Which of `uuids` the store already holds, without creating a store.
async fn known_events(
    path: &Path,
    uuids: Vec<String>,
) -> anyhow::Result<std::collections::HashSet<String>> {
    if !path.exists() {
        return Ok(Default::default());
    }
    Ok(Store::open(path)?.known_events(uuids).await?)
}

async fn backfill(settings: &Settings, args: &BackfillArgs) -> anyhow::Result<()> {
    let Some(backfill) = Backfill::of(settings, Arc::new(Metrics::new()))? else {
        let missing = [
            (settings.okta.org_url.is_none(), "okta.org_url"),
            (
                settings.okta.api_token.is_none(),
                "okta.api_token (or okta.api_token_file)",
            ),
        ]
        .into_iter()
        .filter_map(|(missing, key)| missing.then_some(key))
        .collect::<Vec<_>>()
        .join(" and ");
        anyhow::bail!("backfill reads the Okta System Log: set {missing}");
    };
    // Events of the last minute may still be on their way by hook; reading
    // them now would call them recovered.
    let latest = OffsetDateTime::now_utc() - backfill::SETTLE;
    let until = args.until.unwrap_or(latest).min(latest);
    anyhow::ensure!(
        okta_time(args.since) < okta_time(until),
        "--since must be earlier than --until (and than a minute ago)"
    );
    let now = OffsetDateTime::now_utc();
    if now - args.since > time::Duration::days(90) {
        eprintln!(
            "backfill: the System Log keeps 90 days; Okta may refuse or return nothing before that"
        );
    }
    let store;
    let target = if args.dry_run {
        store = settings
            .store
            .path
            .exists()
            .then(|| Store::open(&settings.store.path))
            .transpose()?;
        backfill::Target::DryRun(store.as_ref())
    } else {
        store = Some(Store::open(&settings.store.path)?);
        backfill::Target::Store(store.as_ref().context("the store is open")?)
    };
    let report = match backfill.read_range(args.since, until, target).await {
        Ok(report) => report,
        Err(error) if error.is_transient() => {
            return Err(TryLater(format!(
                "cannot read the System Log: {error}; try again later"
            ))
            .into());
        }
        Err(error) => anyhow::bail!("cannot read the System Log: {error}"),
    };
    let range = format!("{} to {}", okta_time(args.since), okta_time(until));
    if args.dry_run {
        print_requests(settings, &report.would_alert.iter().collect::<Vec<_>>())?;
        eprintln!(
            "backfill (dry run), {range}: {} events on {} pages, {} selected, {} would be alerted, {} already known, {} failed hook deliveries reported by Okta",
            report.events,
            report.pages,
            report.selected,
            report.would_alert.len(),
            report.known,
            report.hook_failures
        );
        return Ok(());
    }
    eprintln!(
        "backfill, {range}: {} events on {} pages, {} selected, {} stored for delivery, {} already known, {} new failed hook deliveries reported by Okta",
        report.events,
        report.pages,
        report.selected,
        report.recovered,
        report.known,
        report.hook_failures
    );
    if report.recovered > 0 {
        eprintln!(
            "backfill: the running service delivers them within seconds, or at its next start"
        );
    }
    Ok(())
}

fn read_input(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file == Path::new("-") {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("cannot read standard input")?;
        Ok(body)
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
    }
}

async fn dead_letters(settings: &Settings, command: DeadLetterCommand) -> anyhow::Result<()> {
    let path = &settings.store.path;
    anyhow::ensure!(
        path.exists(),
        "no store at {} (store.path); is this the service's configuration?",
        path.display()
    );
    let store = Store::open(path)?;
    match command {
        DeadLetterCommand::List => {
            let letters = store.dead_letters().await?;
            if letters.is_empty() {
                eprintln!("no dead letters");
                return Ok(());
            }
            let mut table = String::from("ID\tDEAD FOR\tEVENT UUID\tUSER\tATTEMPTS\tERROR\n");
            for letter in letters {
                let user = letter
                    .alert
                    .user
                    .as_ref()
                    .and_then(|u| u.login.clone().or_else(|| u.id.clone()))
                    .unwrap_or_else(|| "-".into());
                let age = SystemTime::now()
                    .duration_since(letter.dead_at)
                    .unwrap_or_default()
                    .as_secs();
                table.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\n",
                    letter.id,
                    format_age(age),
                    letter.alert.event_uuid.replace(char::is_control, " "),
                    user.replace(char::is_control, " "),
                    letter.attempts,
                    letter.error.replace(char::is_control, " ")
                ));
            }
            write_stdout(&table)?;
        }
        DeadLetterCommand::Retry { id, all } => {
            let id = if all { None } else { id };
            let count = store.requeue(id, settings.delivery.max_age()).await?;
            eprintln!(
                "dead-letters: {count} alert(s) queued again; the running service sends them within seconds"
            );
        }
    }
    Ok(())
}

async fn send_test(settings: &Settings) -> anyhow::Result<()> {
    let destination = service::destination(settings)?;
    let console = settings
        .okta
        .org_url
        .as_deref()
        .and_then(AdminConsole::from_org_url);
    let alert = crate::alert::Alert::test_alert();
    match destination.send(&alert, console.as_ref()).await {
        Ok(_) if settings.slack.bot_token.is_none() => {
            eprintln!(
                "send-test: no slack.bot_token is set; the test alert was printed above instead"
            );
            Ok(())
        }
        Ok(posted) => {
            println!(
                "Slack accepted the test alert: channel {}, message ts {}",
                posted.channel, posted.ts
            );
            Ok(())
        }
        Err(error) => {
            let tried = format!(
                "(channel {} at {})",
                destination.channel(),
                settings.slack.api_url
            );
            let advice = match &error {
                SlackError::Transient(reason)
                    if reason.starts_with("cannot connect") || reason.contains("timed out") =>
                {
                    "check that this host can reach slack.api_url (network, proxy, firewall), then try again"
                }
                _ if error.is_transient() => {
                    "Slack is failing or rate-limiting for now; try again in a few minutes"
                }
                _ => error.remedy(),
            };
            let text =
                format!("Slack did not accept the test alert {tried}: {error}\nTo fix: {advice}");
            if error.is_transient() {
                Err(TryLater(text).into())
            } else {
                Err(anyhow::anyhow!(text))
            }
        }
    }
}

async fn healthcheck(settings: &Settings, ready: bool) -> anyhow::Result<()> {
    let mut address = settings.admin.listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!(
        "http://{address}/{}",
        if ready { "readyz" } else { "healthz" }
    );
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

/// Writes to standard output; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn format_age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}
