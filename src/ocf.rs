//! The OCF contract: exit codes, the environment Pacemaker passes, exit reasons.

use std::collections::BTreeMap;
use std::time::Duration;

/// OCF exit codes (resource-agents' ocf-returncodes; 190 from OCF 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    ErrGeneric,
    ErrArgs,
    ErrUnimplemented,
    ErrPerm,
    ErrInstalled,
    ErrConfigured,
    NotRunning,
    Degraded,
}

impl Status {
    pub fn code(self) -> i32 {
        match self {
            Status::Success => 0,
            Status::ErrGeneric => 1,
            Status::ErrArgs => 2,
            Status::ErrUnimplemented => 3,
            Status::ErrPerm => 4,
            Status::ErrInstalled => 5,
            Status::ErrConfigured => 6,
            Status::NotRunning => 7,
            Status::Degraded => 190,
        }
    }
}

/// What an action ends with: a status and, for anything but plain success, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// The exit reason: one line, what matters most.
    pub reason: Option<String>,
    /// Everything, for the log, when the reason had to leave something out.
    pub detail: Option<String>,
}

impl Outcome {
    pub fn ok() -> Self {
        Outcome {
            status: Status::Success,
            reason: None,
            detail: None,
        }
    }
    pub fn with(status: Status, reason: impl Into<String>) -> Self {
        Outcome {
            status,
            reason: Some(reason.into()),
            detail: None,
        }
    }
}

/// The OCF environment of one invocation, read once at the edge.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Non-UTF-8 values are kept lossily (U+FFFD), so they fail validation instead of
    /// panicking in `std::env::vars`.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
                .collect(),
        }
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// A resource parameter (`OCF_RESKEY_<name>`); empty counts as unset, as in ocf-shellfuncs.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.get(&format!("OCF_RESKEY_{name}")).filter(|v| !v.is_empty())
    }

    pub fn instance(&self) -> &str {
        self.get("OCF_RESOURCE_INSTANCE").unwrap_or("iscsi-mirror")
    }

    /// The action timeout Pacemaker gave us (`OCF_RESKEY_CRM_meta_timeout`, milliseconds):
    /// `None` when unset, an error (to log) when it is not a usable number of ms.
    pub fn action_timeout(&self) -> Option<Result<Duration, String>> {
        let raw = self.param("CRM_meta_timeout")?;
        Some(match raw.trim().parse::<u64>() {
            Ok(0) => Err("CRM_meta_timeout is 0 ms".to_string()),
            // Longer than a day is no timeout Pacemaker would give; a typo, or worse.
            Ok(ms) if ms > MAX_TIMEOUT_MS => Err(format!("CRM_meta_timeout {ms} ms is longer than a day")),
            Ok(ms) => Ok(Duration::from_millis(ms)),
            Err(_) => Err(format!(
                "CRM_meta_timeout '{}' is not a number of milliseconds",
                crate::text::printable(raw)
            )),
        })
    }

    /// The recurring monitor's interval (`OCF_RESKEY_CRM_meta_interval`, ms); zero when
    /// unset or unusable (a probe, or an action run by hand).
    pub fn monitor_interval(&self) -> Duration {
        self.param("CRM_meta_interval")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms <= MAX_TIMEOUT_MS)
            .map(Duration::from_millis)
            .unwrap_or_default()
    }

    /// A probe is a monitor without a recurring interval: report the truth, repair nothing.
    pub fn is_probe(&self) -> bool {
        self.param("CRM_meta_interval")
            .map(|v| v.trim() == "0")
            .unwrap_or(true)
    }

    /// ocf-tester's check of an agent without its tools: it sets OCF_TESTER_FAIL_HAVE_BINARY
    /// (any value) for meta-data and for a probe of the stopped resource, and expects 0 and
    /// 7 (or 5). Policy: the agent then treats iscsiadm, the one tool it cannot work
    /// without, as not installed: [`crate::iscsi::iscsiadm::Iscsiadm::installed`] is false
    /// and no iscsiadm runs. Optional tools (crm_node, crm_mon, attrd_updater, zpool,
    /// corosync-cmapctl) are unaffected: every action already copes with their absence.
    pub fn tools_withheld(&self) -> bool {
        self.get("OCF_TESTER_FAIL_HAVE_BINARY").is_some()
    }

    pub fn check_level(&self) -> u32 {
        self.get("OCF_CHECK_LEVEL")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The node Pacemaker runs us on, when it told us.
    pub fn on_node(&self) -> Option<&str> {
        self.param("CRM_meta_on_node")
    }

    /// 190 (degraded) exists from OCF 1.1 on; older callers get 0 and a warning.
    pub fn supports_degraded(&self) -> bool {
        self.speaks_ocf_1_1()
    }

    /// The caller says it speaks OCF 1.1 or later (OCF_RA_VERSION_MAJOR/MINOR, which
    /// Pacemaker 2.1 passes to every OCF action, meta-data included).
    pub fn speaks_ocf_1_1(&self) -> bool {
        let major: u32 = self
            .get("OCF_RA_VERSION_MAJOR")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let minor: u32 = self
            .get("OCF_RA_VERSION_MINOR")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (major, minor) >= (1, 1)
    }

    pub fn exit_reason_prefix(&self) -> &str {
        self.get("OCF_EXIT_REASON_PREFIX").unwrap_or("ocf-exit-reason:")
    }

    pub fn rsc_tmp(&self) -> &str {
        self.get("HA_RSCTMP")
            .filter(|v| !v.is_empty())
            .unwrap_or("/run/resource-agents")
    }

    /// Debug logging, as Pacemaker's own `pcmk__env_option_enabled` reads it (lib/common/options.c):
    /// `PCMK_debug`, else the older `HA_debug` (resource-agents' ocf_log reads only that one);
    /// a boolean (yes/true/on/y/1), or a comma-separated list of daemons naming the executor.
    /// pacemakerd sets both names from corosync's `logging.debug` only when neither is
    /// configured, so an administrator's `PCMK_debug` (Pacemaker 3.0's sysconfig spelling)
    /// reaches agents without an `HA_debug`.
    pub fn debug(&self) -> bool {
        let Some(value) = self.get("PCMK_debug").or_else(|| self.get("HA_debug")) else {
            return false;
        };
        let v = value.trim().to_ascii_lowercase();
        match v.as_str() {
            "true" | "on" | "yes" | "y" | "1" => true,
            "false" | "off" | "no" | "n" | "0" => false,
            list => list
                .split(',')
                .any(|d| matches!(d.trim(), "pacemaker-execd" | "pacemaker-remoted")),
        }
    }

    pub fn is_clone(&self) -> bool {
        self.param("CRM_meta_clone_max").is_some()
    }
}

/// The longest action timeout taken from Pacemaker (a day).
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;

/// Pacemaker keeps this much of an exit reason.
pub const EXIT_REASON_MAX: usize = 128;

/// Writes the one-line exit reason Pacemaker shows as `exitreason=` in crm_mon.
pub fn print_exit_reason(env: &Env, reason: &str) {
    eprintln!("{}{}", env.exit_reason_prefix(), fit_exit_reason(reason));
}

/// One line, at most EXIT_REASON_MAX bytes, cut at a character boundary.
pub fn fit_exit_reason(reason: &str) -> String {
    let one_line: String = reason.replace(['\n', '\r'], " ");
    crate::text::ellipsis(&one_line, EXIT_REASON_MAX)
}

/// The one mapping from a verdict to what Pacemaker sees: the exit reason is the first
/// (most important) reason, the log gets them all.
pub fn encode(env: &Env, v: &crate::decide::verdict::Verdict) -> Outcome {
    use crate::decide::verdict::Kind;
    let mut o = match v.kind {
        Kind::Healthy => return Outcome::ok(),
        Kind::NotRunning => Outcome::with(
            Status::NotRunning,
            v.headline()
                .unwrap_or_else(|| "no session to any peer target; not started on this node".into()),
        ),
        Kind::Degraded => degraded_for(env, v.headline().unwrap_or_default()),
        Kind::Failed => Outcome::with(Status::ErrGeneric, v.headline().unwrap_or_default()),
    };
    if v.reasons.len() > 1 && o.reason.is_some() {
        o.detail = v.describe();
    }
    o
}

/// Maps a degraded verdict to what the caller understands.
pub fn degraded_for(env: &Env, reason: String) -> Outcome {
    if env.supports_degraded() {
        Outcome::with(Status::Degraded, reason)
    } else {
        tracing::warn!("degraded (reported as success: caller is older than OCF 1.1): {reason}");
        Outcome::ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_reasons_fit_what_pacemaker_keeps() {
        let long = "é".repeat(100);
        let fitted = super::fit_exit_reason(&long);
        assert!(fitted.len() <= super::EXIT_REASON_MAX && fitted.ends_with("..."));
        assert_eq!(super::fit_exit_reason("a\nb"), "a b");
    }

    #[test]
    fn debug_as_pacemaker_reads_it() {
        let env = |pairs: &[(&str, &str)]| super::Env::from_pairs(pairs.iter().copied());
        assert!(!env(&[]).debug());
        assert!(env(&[("HA_debug", "1")]).debug());
        assert!(
            env(&[("PCMK_debug", "yes")]).debug(),
            "PCMK_debug without HA_debug"
        );
        assert!(env(&[("PCMK_debug", "pacemaker-controld,pacemaker-execd")]).debug());
        assert!(!env(&[("PCMK_debug", "pacemaker-controld")]).debug());
        assert!(
            !env(&[("PCMK_debug", "0"), ("HA_debug", "1")]).debug(),
            "PCMK_ first"
        );
        assert!(!env(&[("HA_debug", "0")]).debug());
    }

    #[test]
    fn the_monitor_interval_as_pacemaker_gives_it() {
        use std::time::Duration;
        let env = |pairs: &[(&str, &str)]| super::Env::from_pairs(pairs.iter().copied());
        let interval = |v: &str| env(&[("OCF_RESKEY_CRM_meta_interval", v)]).monitor_interval();
        assert_eq!(interval("10000"), Duration::from_secs(10));
        assert_eq!(interval(" 2500 "), Duration::from_millis(2500));
        for unusable in ["0", "10s", "-1", "", "99999999999999999999"] {
            assert_eq!(interval(unusable), Duration::ZERO, "{unusable:?}");
        }
        assert_eq!(env(&[]).monitor_interval(), Duration::ZERO);
    }
}
