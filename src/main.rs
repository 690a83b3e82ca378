//! The `watchword` binary: parse arguments, set up logging, run one command, map the error
//! to an exit code (0 ok, 1 user error, 2 runtime failure). All the work is in the library.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use watchword::cli::LogFormat;

fn main() {
    let cli = match watchword::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with 0; usage errors are the user's (exit 1).
            let _ = error.print();
            std::process::exit(if error.use_stderr() { 1 } else { 0 });
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        // Colours only on a terminal: journald and log files get plain text.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    if let Err(error) = watchword::cli::run(cli) {
        let code = watchword::cli::exit_code(&error);
        if code != 0 {
            // Errors can quote feed text (`test --feed`): no escape sequence reaches the
            // terminal.
            eprintln!(
                "watchword: {}",
                watchword::text::sanitize_lines(&format!("{error:#}"))
            );
        }
        std::process::exit(code);
    }
}
