//! The `watchword` binary: parse arguments, set up logging, run one command, map the error
//! to an exit code (0 ok, 1 user error, 2 runtime failure). All the work is in the library.

use std::io::IsTerminal;

use clap::Parser;

fn main() {
    bound_the_heap();
    let cli = match watchword::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with 0; usage errors are the user's (exit 1).
            let _ = error.print();
            std::process::exit(if error.use_stderr() { 1 } else { 0 });
        }
    };
    // `RUST_LOG` wins over the level of `-v`, `-q` and the command.
    let level = watchword::cli::log_level(&cli, std::io::stderr().is_terminal());
    watchword::cli::init_logs(cli.log_format, level);
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

/// Buffers above this size get their own memory map, returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Keeps freed large buffers from staying in the process. glibc's malloc raises its mmap
/// threshold each time a mapped buffer is freed (up to 32 MiB), after which bodies and parsed
/// feeds of up to that size come from the per-thread heaps, which keep the memory once it
/// is freed: polling feeds with 10 MiB bodies then held several times that. A fixed
/// threshold turns the adjustment off (`mallopt(3)`): 1,000 feeds with a hostile tenth
/// peaked at 185–198 MB before, under 70 MB after (docs/performance.md, "Memory with hostile feeds").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_the_heap() {
    // SAFETY: mallopt only sets a malloc parameter; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_the_heap() {}
