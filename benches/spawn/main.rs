//! `make bench-spawn`: what one `process::run` costs beyond the child's own run time, for
//! the runner the agent uses (pidfd + poll) and the polling runner it replaced
//! (old_runner.rs). Calls alternate between the two so both see the same machine load.
//! Prints a table; asserts nothing.
//!
//!   BENCH_N=500 make bench-spawn     more calls per row (default 200)

mod old_runner;

use std::time::{Duration, Instant};

use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::process;

struct Workload {
    label: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    /// What the child itself takes; the overhead is the call's time beyond it.
    own: Duration,
    n: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(runner: &str, w: &Workload, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    println!(
        "| {runner:<20} | {:<15} | {:>4} | {:>9.3} | {:>9.3} | {:>9.3} | {:>9.3} | {:>9.3} |",
        w.label,
        samples.len(),
        mean,
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        samples.first().copied().unwrap_or(f64::NAN),
        samples.last().copied().unwrap_or(f64::NAN),
    );
}

fn main() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let workloads = [
        Workload {
            label: "/bin/true",
            program: "/bin/true",
            args: &[],
            own: Duration::ZERO,
            n,
        },
        Workload {
            label: "sleep 0.02",
            program: "/bin/sleep",
            args: &["0.02"],
            own: Duration::from_millis(20),
            n: (n / 4).max(10),
        },
    ];
    let deadline = || Deadline::after(Duration::from_secs(10));
    println!("per-call time of spawn + wait + output, milliseconds; for `sleep 0.02` the 20 ms the child sleeps are subtracted");
    println!();
    println!("| runner               | child           |    n |      mean |       p50 |       p90 |       min |       max |");
    println!("|----------------------|-----------------|------|-----------|-----------|-----------|-----------|-----------|");
    for w in &workloads {
        // Warm the page cache and the allocator for both.
        for _ in 0..5 {
            let _ = process::run(w.program, w.args, deadline());
            let _ = old_runner::run(w.program, w.args, deadline());
        }
        let (mut old, mut new) = (Vec::with_capacity(w.n), Vec::with_capacity(w.n));
        let ms = |t: Instant| t.elapsed().saturating_sub(w.own).as_secs_f64() * 1000.0;
        for _ in 0..w.n {
            let t = Instant::now();
            let r = old_runner::run(w.program, w.args, deadline());
            old.push(ms(t));
            assert!(matches!(r, Some((Some(0), _))), "old runner: {:?}", r);
            let t = Instant::now();
            let r = process::run(w.program, w.args, deadline());
            new.push(ms(t));
            assert!(r.as_ref().is_ok_and(|o| o.success()), "new runner: {r:?}");
        }
        row("old (try_wait+sleep)", w, old);
        row("new (pidfd+poll)", w, new);
    }
}
