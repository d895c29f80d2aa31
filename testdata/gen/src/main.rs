//! `idbsync-gen`: writes deterministic test records (web-shop orders by default, or another
//! shape) as NDJSON or a Dexie export.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Parser, ValueEnum};
use testdata_gen::{Format, OrderGen, Shape};

/// Generate deterministic test records (NDJSON or Dexie export v1): web-shop orders, or
/// another shape.
#[derive(Parser, Debug)]
#[command(name = "idbsync-gen", version, about)]
#[command(group(ArgGroup::new("amount").args(["records", "size"])))]
struct Args {
    /// Number of records [default: 1000].
    #[arg(short = 'n', long)]
    records: Option<u64>,
    /// Approximate output size instead of a record count, e.g. 400MB, 1.5GiB, 20000.
    #[arg(short, long, value_parser = parse_size)]
    size: Option<u64>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = CliFormat::Ndjson)]
    format: CliFormat,
    /// What the records look like.
    #[arg(long, value_enum, default_value_t = CliShape::Orders)]
    shape: CliShape,
    /// Random seed; the same seed and count give byte-identical output.
    #[arg(long, default_value_t = OrderGen::DEFAULT_SEED)]
    seed: u64,
    /// Output file [default: stdout].
    #[arg(short, long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliFormat {
    /// One JSON record per line, Dates as ISO-8601 strings.
    Ndjson,
    /// Dexie export v1 (dexie-export-import), Dates as typeson-tagged epoch ms.
    Dexie,
}

impl From<CliFormat> for Format {
    fn from(f: CliFormat) -> Self {
        match f {
            CliFormat::Ndjson => Format::Ndjson,
            CliFormat::Dexie => Format::Dexie,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliShape {
    /// Web-shop orders, as always: `giftMessage` from 90% of the records on, `lateKey` and a
    /// string `customerId` in the last record.
    Orders,
    /// The same orders without late keys: every key and type from the first records on.
    OrdersSteady,
    /// orders-steady plus `lateKey` in the last 1% of the records and a string `customerId`
    /// in the last one.
    OrdersLate,
    /// User profiles: 200 optional keys, each in ~5% of the records.
    WideSparse,
    /// Application log lines: long free-text messages, many distinct hosts, paths, agents.
    Logs,
    /// Device readings: many float and integer fields.
    Telemetry,
    /// CMS pages: objects 6 levels deep, lists of structs in lists of structs.
    Nested,
}

impl From<CliShape> for Shape {
    fn from(s: CliShape) -> Self {
        match s {
            CliShape::Orders => Shape::Orders,
            CliShape::OrdersSteady => Shape::OrdersSteady,
            CliShape::OrdersLate => Shape::OrdersLate,
            CliShape::WideSparse => Shape::WideSparse,
            CliShape::Logs => Shape::Logs,
            CliShape::Telemetry => Shape::Telemetry,
            CliShape::Nested => Shape::Nested,
        }
    }
}

/// Parses `400MB`, `1.5GiB`, `64k`, `20000` (SI units are powers of 1000, `i` units of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| format!("invalid size {s:?}: expected e.g. 400MB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        u => return Err(format!("invalid size unit {u:?} in {s:?}")),
    };
    Ok((num * mult as f64).round() as u64)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let format = Format::from(args.format);
    let mut gen = OrderGen::new().with_shape(args.shape.into()).with_seed(args.seed);
    if let Some(n) = args.records {
        gen = gen.with_records(n);
    } else if let Some(bytes) = args.size {
        gen = gen.with_target_size(bytes, format);
    }

    let start = Instant::now();
    let written = match &args.out {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            gen.write(format, file).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            let stdout = io::stdout().lock();
            match gen.write(format, stdout) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e).context("cannot write to stdout"),
            }
        }
    };
    let secs = start.elapsed().as_secs_f64();
    if written == 0 && gen.records() > 0 {
        bail!("nothing written");
    }
    let mut err = io::stderr().lock();
    writeln!(
        err,
        "idbsync-gen: {} {} records, {} bytes ({:.1} B/record) in {:.2}s, {:.0} MB/s",
        gen.records(),
        gen.shape(),
        written,
        written as f64 / gen.records().max(1) as f64,
        secs,
        written as f64 / 1e6 / secs.max(1e-9),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("400MB"), Ok(400_000_000));
        assert_eq!(parse_size("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("20000"), Ok(20_000));
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("MB").is_err());
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["g", "--records", "5", "--size", "1MB"]).is_err());
        // Every shape of the library has its --shape value, named as Shape::name says.
        let names: Vec<String> =
            CliShape::value_variants().iter().map(|v| v.to_possible_value().unwrap().get_name().to_owned()).collect();
        let shapes: Vec<Shape> = CliShape::value_variants().iter().map(|&v| v.into()).collect();
        assert_eq!(shapes, Shape::ALL);
        assert_eq!(names, Shape::ALL.map(|s| s.name()));
        let a = Args::try_parse_from(["g", "--shape", "orders-late"]).unwrap();
        assert_eq!(Shape::from(a.shape), Shape::OrdersLate);
        assert_eq!(Shape::from(Args::try_parse_from(["g"]).unwrap().shape), Shape::Orders);
    }
}
