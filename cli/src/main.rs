//! `idbsync`: move IndexedDB exports into Parquet on HDFS (or a local folder) and back.

#[cfg(feature = "mimalloc")]
mod allocator;
mod args;
mod convert_cmd;
#[cfg(feature = "sync")]
mod convert_delta;
#[cfg(feature = "sync")]
mod create_cmd;
mod download_cmd;
mod infer_cmd;
mod interrupt;
#[cfg(feature = "sync")]
mod maintain_cmd;
mod progress;
mod query_cmd;
mod redact;
#[cfg(feature = "sync")]
mod serve_cmd;
mod size;
#[cfg(feature = "sync")]
mod sync_cmd;
mod transfer_cmd;
mod tree;

use clap::Parser;

fn main() -> std::process::ExitCode {
    redact::install(redact::from_args(std::env::args_os().map(|a| a.to_string_lossy().into_owned())));
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // Usage errors echo arguments: they are printed through the redactor too.
        Err(e) if e.use_stderr() => {
            eprint!("{}", redact::text(&e.render().to_string()));
            std::process::exit(e.exit_code());
        }
        Err(e) => e.exit(),
    };
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
        #[cfg(feature = "sync")]
        args::Command::Push(a) => sync_cmd::push(a),
        #[cfg(feature = "sync")]
        args::Command::Pull(a) => sync_cmd::pull(a),
        #[cfg(feature = "sync")]
        args::Command::Serve(a) => serve_cmd::serve(a),
        #[cfg(feature = "sync")]
        args::Command::Token(args::TokenCommand::New(a)) => serve_cmd::token_new(a),
        #[cfg(feature = "sync")]
        args::Command::History(a) => maintain_cmd::history(a),
        #[cfg(feature = "sync")]
        args::Command::Optimize(a) => maintain_cmd::optimize(a),
        #[cfg(feature = "sync")]
        args::Command::Vacuum(a) => maintain_cmd::vacuum(a),
    };
    match res {
        Ok(code) => code,
        Err(e) if e.is::<interrupt::Interrupted>() => {
            eprintln!("idbsync: {}", redact::text(&e.to_string()));
            std::process::ExitCode::from(interrupt::EXIT_CODE)
        }
        Err(e) => {
            let mut above = e.to_string();
            eprintln!("idbsync: error: {}", redact::text(&above));
            for cause in e.chain().skip(1) {
                // A cause the message above already quotes (DataFusion's errors quote
                // theirs) is not repeated.
                let text = cause.to_string();
                if !above.contains(&text) {
                    eprintln!("  caused by: {}", redact::text(&text));
                }
                above = text;
            }
            std::process::ExitCode::from(1)
        }
    }
}
