//! The command line: global options, subcommands, and their exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::service::{self, Service};
use crate::telemetry;

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
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("okta-mfa-notifier: {e:#}");
            return ExitCode::from(78);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            print!("{}", settings.to_redacted_toml());
            eprintln!("okta-mfa-notifier: configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Serve => {
            telemetry::init(settings.log.format);
            match serve(&settings) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "The service failed.");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(settings: &Settings) -> anyhow::Result<()> {
    if settings.okta.auth_secrets.is_empty() {
        tracing::warn!(
            "okta.allow_unauthenticated is set and no secret is configured: \
             anyone who can reach the hook can post alerts."
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let service = Service::start(settings).await?;
        service.run_until(service::shutdown_signal()).await
    })
}
