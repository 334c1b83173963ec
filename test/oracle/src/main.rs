//! kvindex-oracle: the reference for kvindex's differential tests and speed
//! race, a thin driver over NVIDIA Dynamo's `dynamo-kv-router` 1.6.1 `RadixTree`.
//!
//!   kvindex-oracle [conform]                    JSON-lines protocol on stdin/stdout
//!   kvindex-oracle race --workload DIR [--json] timed replay of a workload

mod alloc;
mod conform;
mod json;
mod race;

#[global_allocator]
static GLOBAL: alloc::CountingAlloc = alloc::CountingAlloc;

const USAGE: &str = "\
usage:
  kvindex-oracle [conform]                     read JSON commands on stdin, answer one line each
  kvindex-oracle race --workload DIR [--json]  replay a workload directory and report speed
  kvindex-oracle --version | --help";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        None | Some("conform") if args.len() <= 1 => match conform::run() {
            Ok(()) => 0,
            // A closed stdout (e.g. the test harness went away) is not our error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
            Err(e) => {
                eprintln!("kvindex-oracle: {e}");
                1
            }
        },
        Some("race") => race::main(&args[1..]),
        Some("--version") | Some("-V") => {
            println!("kvindex-oracle {} (dynamo-kv-router 1.6.1 RadixTree)", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help") | Some("-h") => {
            println!("{USAGE}");
            0
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
