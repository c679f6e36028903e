//! `make bench-storm`: the connection storm of seeds/002 in virtual time. N initiators
//! lose their leg when the target goes down; the target comes back at t = 0 and refuses
//! logins above a capacity. Each initiator's monitor runs the agent's own reconnect code
//! (`decide::reconnect::Reconnect`: plan, wait, probe, login, and the back-off it keeps
//! across runs), judged by the agent's own table (`decide::monitor::judge_after_reconnect`);
//! a verdict of "failed" makes Pacemaker restart the resource (stop, then a start that logs
//! in at once), and a start that fails leaves the leg down for good (Pacemaker's default
//! start-failure-is-fatal). Prints a table per scenario with the goals of issue 10 beside
//! the results; asserts nothing.
//!
//! What is simulated rather than the agent's (the `Timing` below): how long the monitor's
//! own work, a probe, a login, a stop and a start take, and the target.
//!
//!   STORM_N=200          initiators in the two storm scenarios
//!   STORM_SEEDS=5        seeds per scenario (STORM_SEED is the first; default 1)
//!   STORM_CAPACITY=20    logins/s the target accepts, for both phase models
//!                        (default: unlimited with independent phases, 20 synchronized)
//!   STORM_JITTER_MS=2000 reconnect_jitter (default: the agent's default)
//!   STORM_DOWN_S=60      how long the target was down before t = 0 (independent phases)
//!   STORM_LONE_RUNS=2000 runs of the lone-leg scenario (one random phase each)

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use iscsi_mirror::agent::login_failure_status;
use iscsi_mirror::cluster::PeerState;
use iscsi_mirror::deadline;
use iscsi_mirror::decide::monitor::{judge_after_reconnect, LegView, PathState, PathView};
use iscsi_mirror::decide::reconnect::{self, Pace, Reconnect, Step};
use iscsi_mirror::decide::verdict::Kind;
use iscsi_mirror::iscsi::iscsiadm::{Error, ErrorKind};
use iscsi_mirror::params;
use iscsi_mirror::state::Backoff;

/// Virtual time, ms; the target returns at 0. The policy sees it as ms since the epoch.
type Ms = i64;
const EPOCH_MS: i64 = 1_700_000_000_000;

fn wall(t: Ms) -> u64 {
    (EPOCH_MS + t) as u64
}

/// Durations of what is not the agent's decision, drawn uniformly from these ranges (ms).
struct Timing {
    /// The monitor's work before its reconnect: lock, sysfs, crm_mon.
    monitor_before: (Ms, Ms),
    /// After it: settle (sysfs), attrd_updater, the state file.
    monitor_after: (Ms, Ms),
    /// A TCP connect that is answered or refused (the target's host is up, its daemon down).
    probe: (Ms, Ms),
    /// A login the target accepts, and one it refuses (iscsiadm exit 5, at once).
    login_ok: (Ms, Ms),
    login_refused: (Ms, Ms),
    /// From the failed monitor to the stop, the stop itself, start's work before its login.
    restart_react: (Ms, Ms),
    stop: (Ms, Ms),
    start_before_login: (Ms, Ms),
}

const TIMING: Timing = Timing {
    monitor_before: (150, 400),
    monitor_after: (50, 150),
    probe: (1, 3),
    login_ok: (50, 200),
    login_refused: (2, 10),
    restart_react: (200, 1000),
    stop: (100, 300),
    start_before_login: (100, 300),
};

/// The agent's defaults: what a resource created without options gets.
struct Agent {
    interval_ms: Ms,
    monitor_timeout: Duration,
    jitter_ms: u64,
}

impl Agent {
    fn defaults() -> Agent {
        let monitor = params::ACTIONS.iter().find(|a| a.name == "monitor");
        // Many initiators share a target outside their clusters (single-target mode without
        // peer_node): that default. The lone leg below is the two-node SAN's (peers mode).
        let jitter = reconnect::default_jitter_ms(false);
        Agent {
            interval_ms: monitor.and_then(|a| a.interval_s).unwrap_or(10) as Ms * 1000,
            monitor_timeout: Duration::from_secs(params::default_timeout_s("monitor").into()),
            jitter_ms: env("STORM_JITTER_MS").unwrap_or(jitter),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phases {
    /// Each monitor at its own phase, uniform over an interval, running while the target
    /// was down (as on N real nodes).
    Independent,
    /// Every monitor starts its run at the instant the target returns.
    Synchronized,
}

struct Scenario {
    name: &'static str,
    phases: Phases,
    n: usize,
    /// Logins accepted in any 1 s window; None: unlimited.
    capacity: Option<usize>,
    /// How long the target was down before t = 0 (the monitors ran meanwhile).
    down_ms: Ms,
}

/// What one initiator is doing next.
enum Next {
    MonitorRun,
    /// Inside a monitor run: carry out `step` (the agent's machine says what).
    Step {
        rc: Reconnect,
        step: Step,
    },
    Restart,
    StartLogin,
}

#[derive(Default)]
struct Initiator {
    backoff: Backoff,
    up_at: Option<Ms>,
    lost: bool,
    logins: u32,
}

#[derive(Default)]
struct Outcome {
    login_times: Vec<Ms>,
    probe_times: Vec<Ms>,
    attempts: Vec<u32>,
    back_ms: Vec<Option<Ms>>,
    refused: usize,
    restarts: usize,
    lost: usize,
}

struct Target {
    capacity: Option<usize>,
    accepted: VecDeque<Ms>,
}

impl Target {
    fn up(&self, t: Ms) -> bool {
        t >= 0
    }

    /// A login arriving at `t`: accepted unless `capacity` were accepted in the last second.
    fn login(&mut self, t: Ms) -> bool {
        while self.accepted.front().is_some_and(|&a| a <= t - 1000) {
            self.accepted.pop_front();
        }
        match self.capacity {
            Some(c) if self.accepted.len() >= c => false,
            _ => {
                self.accepted.push_back(t);
                true
            }
        }
    }
}

fn draw(rng: &mut StdRng, (lo, hi): (Ms, Ms)) -> Ms {
    rng.gen_range(lo..=hi)
}

fn busy() -> Error {
    Error {
        kind: ErrorKind::from_code(5),
        operation: "login to the simulated target".into(),
        detail: "iscsiadm: initiator reported error (5 - encountered iSCSI login failure)".into(),
    }
}

/// The leg as the monitor sees it after its tries.
fn leg(up: bool) -> LegView {
    LegView {
        label: "target".into(),
        peer: PeerState::Online,
        paths: vec![PathView {
            label: "portal".into(),
            state: if up {
                PathState::LoggedIn
            } else {
                PathState::Missing
            },
            reachable: None,
        }],
    }
}

fn simulate(s: &Scenario, agent: &Agent, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut target = Target {
        capacity: s.capacity,
        accepted: VecDeque::new(),
    };
    let mut who: Vec<Initiator> = (0..s.n).map(|_| Initiator::default()).collect();
    let mut next: Vec<Option<Next>> = (0..s.n).map(|_| Some(Next::MonitorRun)).collect();
    // The monitor run a step belongs to: when it started (for its deadline).
    let mut run_start: Vec<Ms> = vec![0; s.n];
    let mut queue: BinaryHeap<Reverse<(Ms, u64, usize)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BinaryHeap<Reverse<(Ms, u64, usize)>>, t: Ms, i: usize| {
        seq += 1;
        q.push(Reverse((t, seq, i)));
    };
    for i in 0..s.n {
        let first = match s.phases {
            Phases::Independent => -s.down_ms + rng.gen_range(0..agent.interval_ms),
            Phases::Synchronized => 0,
        };
        push(&mut queue, first, i);
    }
    let usable_ms = deadline::usable(agent.monitor_timeout).as_millis() as Ms;
    let mut out = Outcome::default();
    // Far past any goal: what is not back by then is reported as not back.
    let horizon: Ms = 600_000;
    while let Some(Reverse((t, _, i))) = queue.pop() {
        if t > horizon {
            break;
        }
        let Some(what) = next[i].take() else { continue };
        let me = &mut who[i];
        match what {
            Next::MonitorRun => {
                run_start[i] = t;
                let t = t + draw(&mut rng, TIMING.monitor_before);
                let remaining = usable_ms - (t - run_start[i]);
                let (rc, step) = Reconnect::begin(
                    &me.backoff,
                    wall(t),
                    Pace {
                        jitter_ms: agent.jitter_ms,
                        interval_ms: agent.interval_ms as u64,
                    },
                    reconnect::wait_budget_ms(remaining.max(0) as u64),
                    rng.gen(),
                    false,
                );
                next[i] = Some(Next::Step { rc, step });
                push(&mut queue, t, i);
            }
            Next::Step { rc, step } => match step {
                Step::Wait { ms, .. } => {
                    let step = rc.waited();
                    next[i] = Some(Next::Step { rc, step });
                    push(&mut queue, t + ms as Ms, i);
                }
                Step::Probe => {
                    let answered = target.up(t);
                    if answered {
                        out.probe_times.push(t);
                    }
                    let done = t + draw(&mut rng, TIMING.probe);
                    let step = rc.probed(&mut me.backoff, answered, wall(done));
                    next[i] = Some(Next::Step { rc, step });
                    push(&mut queue, done, i);
                }
                Step::Login => {
                    me.logins += 1;
                    out.login_times.push(t);
                    let ok = target.up(t) && target.login(t);
                    let done = t + draw(&mut rng, if ok { TIMING.login_ok } else { TIMING.login_refused });
                    let e = busy();
                    let result = if ok {
                        me.up_at = Some(done);
                        Ok(())
                    } else {
                        out.refused += 1;
                        Err(&e)
                    };
                    let step = rc.login_ended(&mut me.backoff, result, wall(done), rng.gen());
                    next[i] = Some(Next::Step { rc, step });
                    push(&mut queue, done, i);
                }
                Step::Done(tried) => {
                    let up = me.up_at.is_some();
                    if up {
                        // settle_backoff: the kernel shows the session.
                        reconnect::after_success(&mut me.backoff);
                    }
                    let kind = judge_after_reconnect(&leg(up), &[(0, tried)]).kind;
                    let end = t + draw(&mut rng, TIMING.monitor_after);
                    match kind {
                        Kind::Healthy => {}
                        Kind::Failed => {
                            out.restarts += 1;
                            next[i] = Some(Next::Restart);
                            push(&mut queue, end + draw(&mut rng, TIMING.restart_react), i);
                        }
                        Kind::Degraded | Kind::NotRunning => {
                            next[i] = Some(Next::MonitorRun);
                            push(&mut queue, end + agent.interval_ms, i);
                        }
                    }
                }
            },
            Next::Restart => {
                // stop removes the state file (and the back-off with it); start logs in at
                // once, without a jitter.
                me.backoff = Backoff::default();
                let t = t + draw(&mut rng, TIMING.stop) + draw(&mut rng, TIMING.start_before_login);
                next[i] = Some(Next::StartLogin);
                push(&mut queue, t, i);
            }
            Next::StartLogin => {
                me.logins += 1;
                out.login_times.push(t);
                let up = target.up(t);
                if up && target.login(t) {
                    me.up_at = Some(t + draw(&mut rng, TIMING.login_ok));
                    continue;
                }
                out.refused += 1;
                let kind = if up { busy().kind } else { ErrorKind::Unreachable };
                let done = t + draw(&mut rng, TIMING.login_refused);
                if login_failure_status(&kind, || target.up(done)).is_some() {
                    // start failed: Pacemaker keeps the instance off this node until an
                    // admin cleans it up.
                    me.lost = true;
                    out.lost += 1;
                } else {
                    next[i] = Some(Next::MonitorRun);
                    push(&mut queue, done + agent.interval_ms, i);
                }
            }
        }
    }
    for w in &who {
        out.attempts.push(w.logins);
        out.back_ms.push(w.up_at.filter(|_| !w.lost));
    }
    out.login_times.retain(|&t| t >= 0);
    out
}

/// The most events in any 1 s window.
fn peak(times: &[Ms]) -> usize {
    let mut t = times.to_vec();
    t.sort_unstable();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..t.len() {
        while t[hi] - t[lo] >= 1000 {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

struct Row {
    peak_logins: usize,
    peak_probes: usize,
    attempts_mean: f64,
    attempts_max: u32,
    refused: usize,
    restarts: usize,
    lost: usize,
    /// Until every leg is back; None: some never came back.
    all_back_s: Option<f64>,
    median_back_s: Option<f64>,
}

impl Row {
    fn of(o: &Outcome) -> Row {
        let mut back: Vec<Ms> = o.back_ms.iter().flatten().copied().collect();
        back.sort_unstable();
        let all = back.len() == o.back_ms.len();
        Row {
            peak_logins: peak(&o.login_times),
            peak_probes: peak(&o.probe_times),
            attempts_mean: o.attempts.iter().sum::<u32>() as f64 / o.attempts.len().max(1) as f64,
            attempts_max: o.attempts.iter().copied().max().unwrap_or(0),
            refused: o.refused,
            restarts: o.restarts,
            lost: o.lost,
            all_back_s: back.last().filter(|_| all).map(|&t| t as f64 / 1000.0),
            median_back_s: back.get(back.len() / 2).map(|&t| t as f64 / 1000.0),
        }
    }
}

fn secs(v: Option<f64>) -> String {
    v.map(|s| format!("{s:.1}")).unwrap_or_else(|| "never".into())
}

/// A goal: its label and whether the worst seen meets it.
struct Goal {
    what: String,
    seen: String,
    met: bool,
}

fn print_table(s: &Scenario, agent: &Agent, seeds: &[u64], rows: &[Row], goals: &[Goal]) {
    println!();
    println!(
        "### {}: N={}, capacity {}, reconnect_jitter {} ms, monitor every {} s (timeout {} s){}",
        s.name,
        s.n,
        s.capacity
            .map(|c| format!("{c} logins/s"))
            .unwrap_or_else(|| "unlimited".into()),
        agent.jitter_ms,
        agent.interval_ms / 1000,
        agent.monitor_timeout.as_secs(),
        if s.phases == Phases::Independent {
            format!(", target down {} s before t=0", s.down_ms / 1000)
        } else {
            String::new()
        }
    );
    println!();
    println!("| seed | peak logins/s | peak probes/s | attempts mean | attempts max | refused | restarts | lost | median back (s) | all back (s) |");
    println!("|------|---------------|---------------|---------------|--------------|---------|----------|------|-----------------|--------------|");
    for (seed, r) in seeds.iter().zip(rows) {
        println!(
            "| {seed:>4} | {:>13} | {:>13} | {:>13.2} | {:>12} | {:>7} | {:>8} | {:>4} | {:>15} | {:>12} |",
            r.peak_logins,
            r.peak_probes,
            r.attempts_mean,
            r.attempts_max,
            r.refused,
            r.restarts,
            r.lost,
            secs(r.median_back_s),
            secs(r.all_back_s),
        );
    }
    let n = rows.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let all_back: Option<Vec<f64>> = rows.iter().map(|r| r.all_back_s).collect();
    let median_back: Option<Vec<f64>> = rows.iter().map(|r| r.median_back_s).collect();
    println!(
        "| mean | {:>13.1} | {:>13.1} | {:>13.2} | {:>12.1} | {:>7.0} | {:>8.1} | {:>4.1} | {:>15} | {:>12} |",
        mean(&|r| r.peak_logins as f64),
        mean(&|r| r.peak_probes as f64),
        mean(&|r| r.attempts_mean),
        mean(&|r| r.attempts_max as f64),
        mean(&|r| r.refused as f64),
        mean(&|r| r.restarts as f64),
        mean(&|r| r.lost as f64),
        secs(median_back.map(|v| v.iter().sum::<f64>() / n)),
        secs(all_back.map(|v| v.iter().sum::<f64>() / n)),
    );
    println!();
    for g in goals {
        println!(
            "goal {:<48} worst seen {:<10} {}",
            g.what,
            g.seen,
            if g.met { "PASS" } else { "MISS" }
        );
    }
}

fn worst_back(rows: &[Row]) -> Option<f64> {
    rows.iter()
        .map(|r| r.all_back_s)
        .try_fold(0.0f64, |m, b| b.map(|b| m.max(b)))
}

fn back_goal(rows: &[Row], limit_s: f64, what: String) -> Goal {
    let worst = worst_back(rows);
    Goal {
        what,
        seen: secs(worst),
        met: worst.is_some_and(|w| w <= limit_s),
    }
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let agent = Agent::defaults();
    let n: usize = env("STORM_N").unwrap_or(200);
    let first: u64 = env("STORM_SEED").unwrap_or(1);
    let seeds: Vec<u64> = (first..first + env::<u64>("STORM_SEEDS").unwrap_or(5)).collect();
    let capacity: Option<usize> = env("STORM_CAPACITY");
    let down_ms: Ms = env::<Ms>("STORM_DOWN_S").unwrap_or(60) * 1000;
    let interval_s = agent.interval_ms as f64 / 1000.0;

    println!("Connection storm (seeds/002), virtual time; the agent's reconnect policy and monitor table.");
    println!("Rates: logins and probes the target is offered in any 1 s window after it returns (t=0).");
    println!("Attempts: logins per initiator, the restart's start included. Back: seconds after t=0.");

    let independent = Scenario {
        name: "independent phases",
        phases: Phases::Independent,
        n,
        capacity,
        down_ms,
    };
    let rows: Vec<Row> = seeds
        .iter()
        .map(|&seed| Row::of(&simulate(&independent, &agent, seed)))
        .collect();
    let max_logins = rows.iter().map(|r| r.peak_logins).max().unwrap_or(0);
    let max_probes = rows.iter().map(|r| r.peak_probes).max().unwrap_or(0);
    let goals = [
        Goal {
            what: "peak logins/s <= 30".into(),
            seen: max_logins.to_string(),
            met: max_logins <= 30,
        },
        Goal {
            what: "peak probes/s <= 30".into(),
            seen: max_probes.to_string(),
            met: max_probes <= 30,
        },
        back_goal(
            &rows,
            2.0 * interval_s,
            format!("every leg back within 2 intervals ({:.0} s)", 2.0 * interval_s),
        ),
    ];
    print_table(&independent, &agent, &seeds, &rows, &goals);

    let synchronized = Scenario {
        name: "synchronized (worst case)",
        phases: Phases::Synchronized,
        n,
        capacity: capacity.or(Some(20)),
        down_ms: 0,
    };
    let rows: Vec<Row> = seeds
        .iter()
        .map(|&seed| Row::of(&simulate(&synchronized, &agent, seed)))
        .collect();
    let attempts = rows.iter().map(|r| r.attempts_mean).fold(0.0, f64::max);
    let goals = [
        back_goal(&rows, 60.0, "every leg back within 60 s".into()),
        Goal {
            what: "login attempts per initiator <= 3 on average".into(),
            seen: format!("{attempts:.2}"),
            met: attempts <= 3.0,
        },
    ];
    print_table(&synchronized, &agent, &seeds, &rows, &goals);

    // One leg, its portal answering at t = 0, the monitor at a random phase; many runs,
    // for the worst phase. The two-node SAN's leg: its target is a cluster node's, with
    // that default jitter unless STORM_JITTER_MS says otherwise.
    let agent = Agent {
        jitter_ms: env("STORM_JITTER_MS").unwrap_or(reconnect::default_jitter_ms(true)),
        ..agent
    };
    let lone = Scenario {
        name: "lone leg",
        phases: Phases::Independent,
        n: 1,
        capacity: None,
        down_ms,
    };
    let runs: u64 = env("STORM_LONE_RUNS").unwrap_or(2000);
    let back: Vec<Option<f64>> = (0..runs)
        .map(|k| {
            Row::of(&simulate(
                &lone,
                &agent,
                first.wrapping_mul(1_000_003).wrapping_add(k),
            ))
            .all_back_s
        })
        .collect();
    let got: Vec<f64> = back.iter().flatten().copied().collect();
    let worst = back.iter().try_fold(0.0f64, |m, b| b.map(|b| m.max(b)));
    let limit = interval_s + 3.0;
    println!();
    println!(
        "### lone leg: one initiator, its portal answering at t=0, {runs} runs at random phases, reconnect_jitter {} ms",
        agent.jitter_ms
    );
    println!();
    println!(
        "back after: mean {:.1} s, worst {}",
        got.iter().sum::<f64>() / got.len().max(1) as f64,
        secs(worst)
    );
    println!();
    println!(
        "goal {:<48} worst seen {:<10} {}",
        format!("back within 1 interval + 3 s ({limit:.0} s)"),
        secs(worst),
        if worst.is_some_and(|w| w <= limit) {
            "PASS"
        } else {
            "MISS"
        }
    );
}
