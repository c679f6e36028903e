//! Resource parameters, validated into a typed configuration.
//!
//! Every failure names the parameter and says what to write instead; the status is
//! 6 (not configured) for what is wrong everywhere.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::ocf::{Env, Outcome, Status};
use crate::params::{self, Kind};
use crate::target::{Iqn, Path, Portal};
use crate::text::printable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `peers`: a clone; each node logs in to every other node's target.
    Peers,
    /// `portal` + `target`: one target, the drop-in for ocf:heartbeat:iscsi.
    Single,
}

/// iSNS's port (RFC 4171).
pub const ISNS_PORT: u16 = 3205;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    SendTargets,
    /// iSNS: the portal parameter names the iSNS server (as with ocf:heartbeat:iscsi).
    Isns,
    Static,
}

impl Discovery {
    /// iscsiadm's `-t` value.
    pub fn as_iscsiadm(self) -> Option<&'static str> {
        match self {
            Discovery::SendTargets => Some("sendtargets"),
            Discovery::Isns => Some("isns"),
            Discovery::Static => None,
        }
    }
}

/// Whether this node may run the resource's legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    Member,
    /// Peers mode: the node is not one of the entries (so every entry would look like
    /// "another node", its own target included).
    NotListed {
        node: String,
        listed: Vec<String>,
    },
    /// Single-target mode: the node is the target's own peer_node.
    IsPeerNode {
        node: String,
    },
}

impl Membership {
    pub fn reason(&self) -> Option<String> {
        match self {
            Membership::Member => None,
            Membership::NotListed { node, listed } => Some(format!(
                "this node is '{node}', not in peers ({}): name nodes as crm_node -n does",
                listed.join(", ")
            )),
            Membership::IsPeerNode { node } => Some(format!(
                "this node '{node}' is peer_node, which serves the target: it would log in to itself"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPolicy {
    Enforce,
    Warn,
    Ignore,
}

/// One storage node's target and the portals that lead to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// The cluster node serving the target, when known.
    pub node: Option<String>,
    pub target: Iqn,
    pub portals: Vec<Portal>,
}

impl Leg {
    pub fn paths(&self) -> impl Iterator<Item = Path> + '_ {
        self.portals.iter().map(|p| Path {
            target: self.target.clone(),
            portal: p.clone(),
        })
    }
    /// A short name for messages: the peer node, else the IQN's own part.
    pub fn label(&self) -> String {
        match &self.node {
            Some(n) => n.clone(),
            None => {
                let t = self.target.as_str();
                t.rsplit_once(':')
                    .map(|(_, id)| id)
                    .filter(|id| !id.is_empty())
                    .unwrap_or(t)
                    .to_string()
            }
        }
    }
}

/// The four open-iscsi timers the agent may write (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timers {
    pub noop_out_interval: Option<i64>,
    pub noop_out_timeout: Option<i64>,
    pub replacement_timeout: Option<i64>,
    pub login_timeout: Option<i64>,
}

/// A timer as the node record holds it: the parameter, its record key, its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTimer {
    pub param: &'static str,
    pub key: &'static str,
    pub value: Option<i64>,
}

impl Timers {
    /// The timers in the order start writes them to a node record.
    pub fn in_record(&self) -> [RecordTimer; 4] {
        let t = |param, key, value| RecordTimer { param, key, value };
        [
            t(
                params::NOOP_OUT_INTERVAL,
                "node.conn[0].timeo.noop_out_interval",
                self.noop_out_interval,
            ),
            t(
                params::NOOP_OUT_TIMEOUT,
                "node.conn[0].timeo.noop_out_timeout",
                self.noop_out_timeout,
            ),
            t(
                params::REPLACEMENT_TIMEOUT,
                "node.session.timeo.replacement_timeout",
                self.replacement_timeout,
            ),
            t(
                params::LOGIN_TIMEOUT,
                "node.conn[0].timeo.login_timeout",
                self.login_timeout,
            ),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    legs: Vec<Leg>,
    pub discovery: Discovery,
    pub iscsiadm: String,
    pub udev: bool,
    pub try_recovery: bool,
    pub timers: Timers,
    pub timeout_policy: TimeoutPolicy,
    pub token_ms: Option<u64>,
    /// The admin's reconnect_jitter; `None`: the default for each leg (`jitter_for`).
    pub reconnect_jitter_ms: Option<u64>,
    pub pool: Option<String>,
    /// Bring returned remote vdevs back (`zpool online`); only meaningful with a pool.
    pub auto_online: bool,
    pub crm_mon: String,
    pub zpool: String,
    /// node_exporter textfile the monitor keeps, when set.
    pub metrics_file: Option<PathBuf>,
    pub corosync_cmapctl: String,
    pub host_root: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub status: Status,
    pub reason: String,
}

impl From<ConfigError> for Outcome {
    fn from(e: ConfigError) -> Outcome {
        Outcome::with(e.status, e.reason)
    }
}

fn invalid(reason: impl Into<String>) -> ConfigError {
    ConfigError {
        status: Status::ErrConfigured,
        reason: reason.into(),
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let get = |name: &str| env.param(name).map(str::trim).filter(|v| !v.is_empty());
        let peers = get(params::PEERS);
        let portal = get(params::PORTAL);
        let target = get(params::TARGET);
        let discovery = match get(params::DISCOVERY_TYPE).unwrap_or("sendtargets") {
            "sendtargets" | "st" => Discovery::SendTargets,
            "isns" => Discovery::Isns,
            "static" => Discovery::Static,
            other => {
                return Err(invalid(format!(
                    "discovery_type '{}' is not supported: use sendtargets (st), isns or static",
                    printable(other)
                )))
            }
        };
        // With iSNS a portal names the iSNS server (as with ocf:heartbeat:iscsi): its
        // port is iSNS's when none is given.
        let default_port = match discovery {
            Discovery::Isns => ISNS_PORT,
            _ => crate::target::DEFAULT_PORT,
        };

        let (mode, legs) = match (peers, portal, target) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(invalid(
                    "give either peers (clone mode) or portal and target, not both",
                ))
            }
            (Some(p), None, None) => (Mode::Peers, parse_peers(p, default_port)?),
            (None, Some(portal), Some(target)) => {
                let target = Iqn::parse(target).map_err(|e| invalid(format!("target: {e}")))?;
                let portal = Portal::parse_with_default(portal, default_port)
                    .map_err(|e| invalid(format!("portal: {e}")))?;
                let node = get(params::PEER_NODE)
                    .map(|n| parse_node_name(n, params::PEER_NODE))
                    .transpose()?;
                (
                    Mode::Single,
                    vec![Leg {
                        node,
                        target,
                        portals: vec![portal],
                    }],
                )
            }
            (None, Some(_), None) => {
                return Err(invalid(
                    "portal is set but target is not: set target to the IQN of the peer's target",
                ))
            }
            (None, None, Some(_)) => {
                return Err(invalid(
                    "target is set but portal is not: set portal to the target's address[:port]",
                ))
            }
            (None, None, None) => {
                return Err(invalid(
                    "no target configured: set peers (NODE=IQN@PORTAL ...) or portal and target",
                ))
            }
        };
        if mode == Mode::Peers && get(params::PEER_NODE).is_some() {
            return Err(invalid(
                "peer_node goes with portal and target; in peers mode each entry names its node",
            ));
        }

        let timeout_policy = match get(params::TIMEOUT_POLICY).unwrap_or("warn") {
            "enforce" => TimeoutPolicy::Enforce,
            "warn" => TimeoutPolicy::Warn,
            "ignore" => TimeoutPolicy::Ignore,
            other => {
                return Err(invalid(format!(
                    "timeout_policy '{}' is not one of enforce, warn, ignore",
                    printable(other)
                )))
            }
        };
        let timers = Timers {
            noop_out_interval: integer(env, params::NOOP_OUT_INTERVAL, 0, 3600)?,
            noop_out_timeout: integer(env, params::NOOP_OUT_TIMEOUT, 0, 3600)?,
            replacement_timeout: integer(env, params::REPLACEMENT_TIMEOUT, -1, 86_400)?,
            login_timeout: integer(env, params::LOGIN_TIMEOUT, 1, 3600)?,
        };
        let pool = get(params::POOL)
            .map(|p| {
                if p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
                    && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                {
                    Ok(p.to_string())
                } else {
                    Err(invalid(format!("pool '{}' is not a ZFS pool name", printable(p))))
                }
            })
            .transpose()?;

        Ok(Config {
            mode,
            legs,
            discovery,
            iscsiadm: program(env, params::ISCSIADM)?,
            udev: boolean(env, params::UDEV)?,
            try_recovery: boolean(env, params::TRY_RECOVERY)?,
            timers,
            timeout_policy,
            token_ms: integer(env, params::TOKEN_MS, 1, 600_000)?.map(|v| v as u64),
            reconnect_jitter_ms: integer(env, params::RECONNECT_JITTER, 0, 600_000)?.map(|v| v as u64),
            auto_online: match env.param(params::AUTO_ONLINE) {
                Some(_) => boolean(env, params::AUTO_ONLINE)?,
                None => pool.is_some(),
            },
            pool,
            crm_mon: program(env, params::CRM_MON)?,
            zpool: program(env, params::ZPOOL)?,
            metrics_file: match get(params::METRICS_FILE) {
                None => None,
                Some(_) => {
                    let p = path_param(env, params::METRICS_FILE)?;
                    if !p.starts_with('/') {
                        return Err(invalid(format!(
                            "metrics_file '{}' must be an absolute path",
                            printable(&p)
                        )));
                    }
                    Some(PathBuf::from(p))
                }
            },
            corosync_cmapctl: program(env, params::COROSYNC_CMAPCTL)?,
            host_root: PathBuf::from(path_param(env, params::HOST_ROOT)?),
        })
    }

    /// Every configured leg, this node's own entry included (peers mode).
    pub fn all_legs(&self) -> &[Leg] {
        &self.legs
    }

    /// The reconnect jitter for a leg: the admin's, else short for a target a cluster node
    /// serves, long for one outside the cluster (see `decide::reconnect`).
    pub fn jitter_for(&self, leg: &Leg) -> u64 {
        self.reconnect_jitter_ms
            .unwrap_or_else(|| crate::decide::reconnect::default_jitter_ms(leg.node.is_some()))
    }

    pub fn membership(&self, this_node: &str) -> Membership {
        let same = |n: &String| n.eq_ignore_ascii_case(this_node);
        match self.mode {
            Mode::Peers if !self.legs.iter().any(|l| l.node.as_ref().is_some_and(same)) => {
                Membership::NotListed {
                    node: this_node.to_string(),
                    listed: self.legs.iter().filter_map(|l| l.node.clone()).collect(),
                }
            }
            Mode::Single if self.legs.iter().any(|l| l.node.as_ref().is_some_and(same)) => {
                Membership::IsPeerNode {
                    node: this_node.to_string(),
                }
            }
            _ => Membership::Member,
        }
    }

    /// The legs this node logs in to: every entry not served by this node. None at all
    /// for a node that is not a member: it must never log in to its own target.
    pub fn legs_for(&self, this_node: &str) -> Vec<&Leg> {
        if self.membership(this_node) != Membership::Member {
            return Vec::new();
        }
        self.legs
            .iter()
            .filter(|leg| match (self.mode, &leg.node) {
                (Mode::Peers, Some(n)) => !n.eq_ignore_ascii_case(this_node),
                _ => true,
            })
            .collect()
    }

    pub fn paths_for(&self, this_node: &str) -> Vec<Path> {
        self.legs_for(this_node)
            .into_iter()
            .flat_map(|l| l.paths().collect::<Vec<_>>())
            .collect()
    }
}

/// Every path the parameters name, as far as they parse, whatever else is wrong with the
/// configuration: for stop, which must find what this resource logged in to.
pub fn paths_leniently(env: &Env) -> Vec<Path> {
    let mut out = Vec::new();
    let default_port = match env.param(params::DISCOVERY_TYPE).map(str::trim) {
        Some("isns") => ISNS_PORT,
        _ => crate::target::DEFAULT_PORT,
    };
    if let (Some(portal), Some(target)) = (env.param(params::PORTAL), env.param(params::TARGET)) {
        if let (Ok(portal), Ok(target)) = (
            Portal::parse_with_default(portal, default_port),
            Iqn::parse(target),
        ) {
            out.push(Path { target, portal });
        }
    }
    for entry in env.param(params::PEERS).unwrap_or("").split_whitespace() {
        let Some((_, rest)) = entry.split_once('=') else {
            continue;
        };
        let Some((iqn, portals)) = rest.split_once('@') else {
            continue;
        };
        let Ok(target) = Iqn::parse(iqn) else { continue };
        for p in portals.split(',') {
            if let Ok(portal) = Portal::parse_with_default(p, default_port) {
                out.push(Path {
                    target: target.clone(),
                    portal,
                });
            }
        }
    }
    out
}

fn parse_node_name(name: &str, param: &str) -> Result<String, ConfigError> {
    if !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        Ok(name.to_string())
    } else {
        Err(invalid(format!(
            "{param}: '{}' is not a cluster node name",
            printable(name)
        )))
    }
}

fn parse_peers(text: &str, default_port: u16) -> Result<Vec<Leg>, ConfigError> {
    let mut legs = Vec::new();
    let mut nodes = BTreeSet::new();
    for entry in text.split_whitespace() {
        let shape = || {
            invalid(format!(
                "peers entry '{}' is not NODE=IQN@PORTAL[,PORTAL...]",
                printable(entry)
            ))
        };
        let (node, rest) = entry.split_once('=').ok_or_else(shape)?;
        let (iqn, portals) = rest.split_once('@').ok_or_else(shape)?;
        let node = parse_node_name(node, "peers")?;
        if !nodes.insert(node.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "peers names node '{node}' twice: one entry per node"
            )));
        }
        let target = Iqn::parse(iqn).map_err(|e| invalid(format!("peers entry for {node}: {e}")))?;
        let mut list = Vec::new();
        for p in portals.split(',') {
            let portal = Portal::parse_with_default(p, default_port)
                .map_err(|e| invalid(format!("peers entry for {node}: {e}")))?;
            if list.contains(&portal) {
                return Err(invalid(format!(
                    "peers entry for {node} lists portal {portal} twice"
                )));
            }
            list.push(portal);
        }
        legs.push(Leg {
            node: Some(node),
            target,
            portals: list,
        });
    }
    if legs.is_empty() {
        return Err(invalid("peers is empty: give NODE=IQN@PORTAL entries"));
    }
    Ok(legs)
}

fn default_of(name: &str) -> Option<&'static str> {
    params::spec(name).and_then(|s| s.default)
}

fn boolean(env: &Env, name: &str) -> Result<bool, ConfigError> {
    debug_assert_eq!(params::spec(name).map(|s| s.kind), Some(Kind::Boolean));
    let raw = env.param(name).or_else(|| default_of(name)).unwrap_or("false");
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" | "y" => Ok(true),
        "0" | "no" | "false" | "off" | "n" => Ok(false),
        _ => Err(invalid(format!(
            "{name} '{}' is not a boolean: use true or false",
            printable(raw)
        ))),
    }
}

fn integer(env: &Env, name: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
    debug_assert_eq!(params::spec(name).map(|s| s.kind), Some(Kind::Integer));
    let Some(raw) = env.param(name).or_else(|| default_of(name)) else {
        return Ok(None);
    };
    match raw.trim().parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
        Ok(v) => Err(invalid(format!("{name} {v} is out of range {min}..{max}"))),
        Err(_) => Err(invalid(format!(
            "{name} '{}' is not a whole number",
            printable(raw)
        ))),
    }
}

fn path_param(env: &Env, name: &str) -> Result<String, ConfigError> {
    let raw = env.param(name).or_else(|| default_of(name)).unwrap_or("");
    if raw.is_empty()
        || raw.chars().any(|c| {
            c.is_control()
                || matches!(
                    c,
                    ';' | '|'
                        | '&'
                        | '$'
                        | '`'
                        | '<'
                        | '>'
                        | '"'
                        | '\''
                        | '\\'
                        | '*'
                        | '?'
                        | '('
                        | ')'
                        | '{'
                        | '}'
                        | '!'
                        | ' '
                )
        })
    {
        return Err(invalid(format!(
            "{name} '{}' is not a plain path (no spaces or shell characters)",
            printable(raw)
        )));
    }
    Ok(raw.to_string())
}

/// A program parameter: an absolute path or a bare name found in the standard directories.
fn program(env: &Env, name: &str) -> Result<String, ConfigError> {
    let raw = path_param(env, name)?;
    if !raw.starts_with('/') && raw.contains('/') {
        return Err(invalid(format!(
            "{name} '{}' must be an absolute path or a bare program name",
            printable(&raw)
        )));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        )
    }

    const PEERS: &str = "storage-a=iqn.2025-01.lab.home:storage-a@10.10.10.1 storage-b=iqn.2025-01.lab.home:storage-b@10.10.10.2:3260,[fd00::2]:3260";

    #[test]
    fn peers_mode_selects_the_other_nodes() {
        let c = Config::from_env(&env(&[("peers", PEERS)])).unwrap();
        assert_eq!(c.mode, Mode::Peers);
        let legs = c.legs_for("storage-a");
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].node.as_deref(), Some("storage-b"));
        assert_eq!(legs[0].portals.len(), 2);
        assert_eq!(c.paths_for("storage-b").len(), 1);
        // A node that is not listed gets no legs at all, never its own target.
        assert_eq!(c.paths_for("elsewhere").len(), 0);
        let why = c.membership("storage-a.lab.home").reason().unwrap();
        assert!(
            why.contains("storage-a.lab.home") && why.contains("storage-a, storage-b"),
            "{why}"
        );
        assert_eq!(c.membership("STORAGE-B"), Membership::Member);
    }

    #[test]
    fn the_peer_node_itself_is_not_a_member() {
        let c = Config::from_env(&env(&[
            ("portal", "10.10.10.2"),
            ("target", "iqn.2025-01.lab.home:storage-b"),
            ("peer_node", "storage-b"),
        ]))
        .unwrap();
        assert!(c.paths_for("storage-b").is_empty());
        assert!(c
            .membership("storage-b")
            .reason()
            .unwrap()
            .contains("log in to itself"));
        assert_eq!(c.paths_for("storage-a").len(), 1);
    }

    #[test]
    fn single_mode_is_the_heartbeat_drop_in() {
        let c = Config::from_env(&env(&[
            ("portal", "10.10.10.2"),
            ("target", "iqn.2025-01.lab.home:storage-b"),
        ]))
        .unwrap();
        assert_eq!(c.mode, Mode::Single);
        assert_eq!(c.paths_for("storage-a").len(), 1);
        assert!(c.udev);
        assert!(!c.try_recovery);
        assert_eq!(c.iscsiadm, "iscsiadm");
        assert_eq!(c.reconnect_jitter_ms, None);
        // Without peer_node the target is outside the cluster: the long default.
        assert_eq!(c.jitter_for(c.legs_for("storage-a")[0]), 8000);
        let p = Config::from_env(&env(&[("peers", PEERS)])).unwrap();
        assert_eq!(p.jitter_for(p.legs_for("storage-a")[0]), 2000);
        assert_eq!(c.timeout_policy, TimeoutPolicy::Warn);
    }

    #[test]
    fn bad_input_is_not_configured_with_a_reason() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("peers", PEERS), ("portal", "10.0.0.1")],
            &[("portal", "10.0.0.1")],
            &[("target", "iqn.2025-01.lab.home:x")],
            &[("peers", "storage-a")],
            &[("peers", "a=iqn.2025-01.x:y@1.2.3.4 a=iqn.2025-01.x:z@1.2.3.5")],
            &[("peers", "a=iqn.2025-01.x:y@1.2.3.4;reboot")],
            &[("peers", "a=notaniqn@1.2.3.4")],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("udev", "maybe"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("noop_out_interval", "two"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("timeout_policy", "strict"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("iscsiadm", "/sbin/iscsiadm; rm -rf /"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("iscsiadm", "bin/iscsiadm"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("discovery_type", "slp"),
            ],
            &[
                ("portal", "10.0.0.1"),
                ("target", "iqn.2025-01.x:y"),
                ("pool", "san pool"),
            ],
            &[("peers", PEERS), ("peer_node", "storage-b")],
        ];
        for case in cases {
            let err = Config::from_env(&env(case)).unwrap_err();
            assert_eq!(err.status, Status::ErrConfigured, "{case:?}");
            assert!(!err.reason.is_empty() && !err.reason.contains('\n'), "{case:?}");
        }
    }
}
