//! The OCF actions, one handler each, dispatched from `run`.

mod monitor;
mod reload;
mod start;
mod stop;
pub(crate) mod validate;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::deadline::Deadline;
use crate::iscsi::iscsiadm::Iscsiadm;
use crate::iscsi::sysfs::Sysfs;
use crate::metadata;
use crate::observe::{self, Snapshot};
use crate::ocf::{self, Env, Outcome, Status};
use crate::params;
use crate::state::{Loaded, Store};
use crate::tools::Tools;

pub use start::login_failure_status;
pub use validate::window_report;

pub const ACTIONS: &[&str] = &[
    "start",
    "stop",
    "monitor",
    "status",
    "reload-agent",
    "meta-data",
    "validate-all",
    "methods",
    "usage",
];

/// Everything an action needs, read once from the environment.
pub struct Ctx {
    pub env: Env,
    pub config: Config,
    pub tools: Tools,
    pub deadline: Deadline,
    pub store: Store,
    pub sysfs: Sysfs,
    pub host_root: PathBuf,
}

impl Ctx {
    pub fn new(env: Env, config: Config, deadline: Deadline) -> Ctx {
        let host_root = config.host_root.clone();
        Ctx {
            sysfs: Sysfs::new(&host_root),
            tools: Tools::from_config(&config).withholding_iscsiadm(env.tools_withheld()),
            store: Store::new(env.rsc_tmp(), env.instance()),
            host_root,
            env,
            config,
            deadline,
        }
    }

    pub fn iscsiadm(&self) -> Iscsiadm<'_> {
        Iscsiadm::new(&self.tools.iscsiadm).withheld(self.tools.iscsiadm_withheld)
    }

    /// The cheap observation every action starts from (sysfs and the state file).
    pub fn observe(&self, state: Loaded) -> Snapshot {
        observe::take(
            &self.config,
            self.env.on_node(),
            state,
            &self.sysfs,
            &self.tools,
            self.deadline,
        )
    }
}

fn usage() -> String {
    format!(
        "usage: iscsi-mirror {{{}}}\n       iscsi-mirror {{status|doctor|cluster|check-timeouts|outdated}} [--help]\n\n\
Pacemaker OCF resource agent ocf:san:iscsi-mirror: this node's iSCSI legs of a mirror.\n\
Parameters come from OCF_RESKEY_* variables; see `iscsi-mirror meta-data`.\n",
        ACTIONS.join("|")
    )
}

pub fn run(action: &str) -> i32 {
    match action {
        "meta-data" => {
            let form = metadata::Form::for_caller(&Env::from_process());
            print!("{}", metadata::document(form));
            return Status::Success.code();
        }
        "methods" => {
            for a in ACTIONS {
                println!("{a}");
            }
            return Status::Success.code();
        }
        "usage" | "help" | "--help" | "-h" => {
            print!("{}", usage());
            return Status::Success.code();
        }
        _ => {}
    }
    let env = Env::from_process();
    if action.is_empty() {
        eprint!("{}", usage());
        return Status::ErrArgs.code();
    }
    if !ACTIONS.contains(&action) {
        eprint!("{}", usage());
        ocf::print_exit_reason(
            &env,
            &format!(
                "action '{}' is not implemented by iscsi-mirror",
                crate::text::printable(action)
            ),
        );
        return Status::ErrUnimplemented.code();
    }
    crate::logging::init(env.instance(), env.debug());
    let outcome = perform(action, env.clone());
    finish(&env, action, outcome)
}

fn finish(env: &Env, action: &str, outcome: Outcome) -> i32 {
    // The log says everything; the exit reason what matters most.
    let logged = outcome.detail.as_ref().or(outcome.reason.as_ref());
    match (&outcome.status, logged, &outcome.reason) {
        (Status::Success, Some(r), _) => tracing::info!("{action}: {r}"),
        (Status::Success, None, _) => tracing::debug!("{action}: success"),
        (Status::NotRunning, Some(r), _) => tracing::info!("{action}: not running: {r}"),
        (Status::Degraded, Some(all), Some(r)) => {
            tracing::warn!("{action}: degraded: {all}");
            ocf::print_exit_reason(env, r);
        }
        (_, Some(all), Some(r)) => {
            tracing::error!("{action}: {all}");
            ocf::print_exit_reason(env, r);
        }
        _ => {}
    }
    outcome.status.code()
}

fn perform(action: &str, env: Env) -> Outcome {
    let default = Duration::from_secs(u64::from(params::default_timeout_s(action)));
    let timeout = match env.action_timeout() {
        None => default,
        Some(Ok(t)) => t,
        Some(Err(why)) => {
            tracing::warn!("{why}: using the default {} s for {action}", default.as_secs());
            default
        }
    };
    let deadline = Deadline::for_action(timeout);
    let config = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            let store = Store::new(env.rsc_tmp(), env.instance());
            return config_error(action, &env, &store, e, deadline);
        }
    };
    let ctx = Ctx::new(env, config, deadline);

    if action == "validate-all" {
        return validate::validate_all(&ctx);
    }
    if !nix::unistd::geteuid().is_root() {
        return Outcome::with(
            Status::ErrPerm,
            format!("{action} must run as root (it manages iSCSI sessions)"),
        );
    }
    match action {
        "start" => start::start(&ctx),
        "stop" => stop::stop(&ctx),
        "monitor" => monitor::monitor(&ctx),
        "status" => monitor::status(&ctx),
        "reload-agent" => reload::reload(&ctx),
        _ => Outcome::with(
            Status::ErrUnimplemented,
            format!("action {action} is not implemented"),
        ),
    }
}

/// A configuration that cannot be read must not make a stop fail (that would fence the
/// node): stop still logs out what start recorded. Probes of a broken configuration
/// report "not running" when nothing of ours runs, as Pacemaker expects.
fn config_error(action: &str, env: &Env, store: &Store, e: ConfigError, deadline: Deadline) -> Outcome {
    match action {
        "stop" => stop::stop_without_config(env, store, &e, deadline),
        "monitor" | "status" if !store.load().started() => {
            tracing::warn!(
                "{action}: configuration invalid ({}); nothing of this resource runs here",
                e.reason
            );
            Outcome::with(Status::NotRunning, e.reason)
        }
        _ => e.into(),
    }
}
