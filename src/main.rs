//! The `okta-mfa-notifier` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    okta_mfa_notifier::cli::main()
}
