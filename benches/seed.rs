//! `cargo bench --bench seed`: how fast the dataset is generated and seeded.
//!
//! 1. criterion: the generator alone (generate and encode to binary COPY, one core) over the
//!    appointments of `clinic` at scale 0.1 (100,000 rows), in rows per second (target: 3M/s).
//! 2. The seed's ratios on a throwaway embedded cluster, as `qcheck seed --timings` prints them: load
//!    throughput against a raw server-side binary COPY of the same rows, end to end against the serial
//!    sum of the unavoidable steps. Scale `QCHECK_BENCH_SCALE` (default 1, about 1M appointments;
//!    takes a minute or two); `QCHECK_BENCH_SCALE=0` skips it. Under `cargo test --benches`
//!    (criterion's test mode) it runs once at scale 0.01, to prove the code works.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use qcheck::cluster::{Cluster, PgBin};
use qcheck::dataset::Profile;
use qcheck::db::Target;
use qcheck::generate::produce::{Segment, generate_only};
use qcheck::generate::{SeedRequest, World};
use qcheck::progress::{Progress, ProgressMode};
use qcheck::report::seed::TimingRows;
use qcheck::report::{self, Format};

mod common;
use common::Invocation;

fn generator(c: &mut Criterion) {
    let profile = Profile::resolve("clinic").expect("clinic profile");
    let world = World::plan(&profile, 0.1, 42).expect("plan");
    let segs: Vec<Segment> = (0..world.months.len()).map(Segment::Appointments).collect();
    let mut group = c.benchmark_group("generate");
    group.throughput(Throughput::Elements(world.counts.appointments));
    group.sample_size(10);
    group.bench_function("appointments (clinic, scale 0.1)", |b| {
        b.iter(|| black_box(generate_only(&world, &segs)));
    });
    group.finish();
}

fn seed_ratios(scale: f64) -> qcheck::Result<()> {
    let base = common::throwaway_home("seed");
    let base = base.path();
    let run = || -> qcheck::Result<qcheck::generate::Timings> {
        let explicit = std::env::var_os("QCHECK_PG_BIN").map(std::path::PathBuf::from);
        let bin = PgBin::locate(explicit.as_deref())?;
        let cluster = Cluster::new(bin, base.join("home"))?;
        let session = Target::Embedded(cluster).open()?;
        let request = SeedRequest::new("clinic", scale, 42, "tuned")?;
        let timings =
            qcheck::generate::measure(&session, &request, &Progress::new(ProgressMode::Plain))?;
        session.close()?;
        Ok(timings)
    };
    let t = run()?;
    println!(
        "\nseed ratios (clinic, scale {scale}, {} appointments):\n{}",
        t.appointments,
        report::table(Format::Table, &["measure", "value", "target"], &t.rows())
    );
    Ok(())
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    generator(&mut c);
    c.final_summary();
    let scale: f64 = match common::invocation() {
        // `cargo bench -- --list` only enumerates; do not seed then.
        Invocation::List => return,
        Invocation::Test => 0.01,
        Invocation::Bench => std::env::var("QCHECK_BENCH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1.0),
    };
    if scale > 0.0 {
        if let Err(e) = seed_ratios(scale) {
            eprintln!("seed bench: {e}");
            std::process::exit(2);
        }
    }
}
