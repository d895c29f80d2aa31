//! `idbsync`: move IndexedDB exports into Parquet on HDFS (or a local folder) and back.

mod args;
mod convert_cmd;
mod download_cmd;
mod infer_cmd;
mod location;
mod progress;
mod query_cmd;
mod size;
mod transfer_cmd;
mod tree;

use clap::Parser;

/// mimalloc keeps the large per-batch buffers out of fresh mmap'd pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    let res = match cli.command {
        args::Command::Infer(a) => infer_cmd::run(a),
        args::Command::Convert(a) => convert_cmd::run(a),
        args::Command::Demo(a) => convert_cmd::demo(a),
        args::Command::Put(a) => transfer_cmd::run(a, transfer_cmd::Direction::Put),
        args::Command::Get(a) => transfer_cmd::run(a, transfer_cmd::Direction::Get),
        args::Command::Query(a) => query_cmd::run(a),
        args::Command::Tables(a) => query_cmd::tables(a),
        args::Command::Schema(a) => query_cmd::schema(a),
        args::Command::Download(a) => download_cmd::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idbsync: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(1)
        }
    }
}
