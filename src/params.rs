//! The agent's parameters: one table that both the meta-data and the parser read.

/// OCF content types allowed by ra-api-1.dtd as checked by ocf-tester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    /// Unique across resources of this type (Pacemaker warns on duplicates).
    pub unique: bool,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    /// Shown only in advanced listings (`pcs resource describe --full`).
    pub advanced: bool,
    /// OCF 1.1 `reloadable`: a change takes effect through `reload-agent`, without a
    /// logout. Only parameters that do not name what the instance is logged in to
    /// (peers, portal, target, peer_node), where it looks (host_root), or the pool whose
    /// memory its state file holds.
    pub reloadable: bool,
}

const fn p(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    shortdesc: &'static str,
    longdesc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        default,
        unique: false,
        shortdesc,
        longdesc,
        advanced: false,
        reloadable: false,
    }
}

/// Marks a parameter reloadable (see [`ParamSpec::reloadable`]).
const fn reloadable(spec: ParamSpec) -> ParamSpec {
    ParamSpec {
        reloadable: true,
        ..spec
    }
}

pub const PEERS: &str = "peers";
pub const PEER_NODE: &str = "peer_node";
pub const PORTAL: &str = "portal";
pub const TARGET: &str = "target";
pub const DISCOVERY_TYPE: &str = "discovery_type";
pub const ISCSIADM: &str = "iscsiadm";
pub const UDEV: &str = "udev";
pub const TRY_RECOVERY: &str = "try_recovery";
pub const NOOP_OUT_INTERVAL: &str = "noop_out_interval";
pub const NOOP_OUT_TIMEOUT: &str = "noop_out_timeout";
pub const REPLACEMENT_TIMEOUT: &str = "replacement_timeout";
pub const LOGIN_TIMEOUT: &str = "login_timeout";
pub const TIMEOUT_POLICY: &str = "timeout_policy";
pub const TOKEN_MS: &str = "token_ms";
pub const RECONNECT_JITTER: &str = "reconnect_jitter";
pub const POOL: &str = "pool";
pub const AUTO_ONLINE: &str = "auto_online";
pub const ZPOOL: &str = "zpool";
pub const METRICS_FILE: &str = "metrics_file";
pub const CRM_MON: &str = "crm_mon";
pub const COROSYNC_CMAPCTL: &str = "corosync_cmapctl";
pub const HOST_ROOT: &str = "host_root";

pub const PARAMS: &[ParamSpec] = &[
    p(
        PEERS,
        Kind::String,
        None,
        "Mirror peers (clone mode): NODE=IQN@PORTAL[,PORTAL...] ...",
        "Clone mode. Space-separated entries NODE=IQN@PORTAL[,PORTAL...], one per storage \
node: the node's cluster name, the IQN of the target it exports to its peer, and the \
portal(s) of that target. The instance running on node N logs in to every entry whose NODE \
is not N. Several portals for one target are paths (multipath): all up is healthy, some up \
is degraded. Example: storage-a=iqn.2025-01.lab.home:storage-a@10.10.10.1:3260 \
storage-b=iqn.2025-01.lab.home:storage-b@10.10.10.2:3260. Give either peers, or portal and \
target.",
    ),
    ParamSpec {
        unique: false,
        ..p(
            PORTAL,
            Kind::String,
            None,
            "Portal address (single-target mode)",
            "The iSCSI portal of the target, as with ocf:heartbeat:iscsi: \
{ip_address|hostname}[:port] or [ipv6_address]:port; the port defaults to 3260. Matched \
exactly, never as a prefix. A host name is resolved once, at start (within 5 s); monitor and \
stop use the address it resolved to and never ask DNS. Used with target; not with peers.",
        )
    },
    ParamSpec {
        unique: true,
        ..p(
            TARGET,
            Kind::String,
            None,
            "Target IQN (single-target mode)",
            "The iSCSI target IQN (or eui./naa. name), as with ocf:heartbeat:iscsi. Used with \
portal; not with peers.",
        )
    },
    p(
        PEER_NODE,
        Kind::String,
        None,
        "Cluster node that serves the target (single-target mode)",
        "With portal and target: the name of the cluster node that exports the target. The \
monitor then judges a down session by that node's state in the cluster (a leg down because \
its node is down is expected, not a failure).",
    ),
    reloadable(p(
        DISCOVERY_TYPE,
        Kind::String,
        Some("sendtargets"),
        "Target discovery type",
        "How to create the open-iscsi node record when none exists: sendtargets (discovery \
against the portal; when the portal cannot be reached a static record is written instead, so \
that the leg can join later), static (always a static record), or isns: then each portal \
names an iSNS server (port 3205 unless given), which start asks for the target's portal at \
every start; the session is made there. Sendtargets discovery runs only when no node record \
exists.",
    )),
    reloadable(p(
        ISCSIADM,
        Kind::String,
        Some("iscsiadm"),
        "iscsiadm binary",
        "open-iscsi administration utility: an absolute path, or a name searched in \
/usr/sbin:/usr/bin:/sbin:/bin.",
    )),
    reloadable(p(
        UDEV,
        Kind::Boolean,
        Some("true"),
        "Wait for udev links",
        "After login, wait for the /dev/disk/by-path links of the target's LUNs, so that a \
dependent resource finds its devices. The wait is bounded by the start timeout.",
    )),
    reloadable(p(
        TRY_RECOVERY,
        Kind::Boolean,
        Some("false"),
        "Let the kernel recover a failed session in monitor",
        "When a session is FAILED (the kernel is reconnecting), wait in monitor for the kernel \
to recover it before judging, within the monitor's timeout (never longer).",
    )),
    reloadable(p(
        NOOP_OUT_INTERVAL,
        Kind::Integer,
        None,
        "NOP-Out interval (s)",
        "node.conn[0].timeo.noop_out_interval written to the node records before login. The \
kernel pings the target this often when the link is idle. With a Corosync token of 4000 ms: \
2 (check-timeouts --recommend gives the values for yours).",
    )),
    reloadable(p(
        NOOP_OUT_TIMEOUT,
        Kind::Integer,
        None,
        "NOP-Out timeout (s)",
        "node.conn[0].timeo.noop_out_timeout written to the node records before login: how \
long a ping may go unanswered before the connection is declared dead: a dead peer is noticed \
after noop_out_interval + noop_out_timeout, which must fit in the Corosync token. With a token \
of 4000 ms: 2.",
    )),
    reloadable(p(
        REPLACEMENT_TIMEOUT,
        Kind::Integer,
        None,
        "Replacement timeout (s)",
        "node.session.timeo.replacement_timeout written to the node records before login, and \
to live sessions' recovery_tmo: how long I/O is queued on a failed session before it fails \
up to ZFS (which then faults the remote vdev and goes on with the local half). With a token \
of 4000 ms: 5.",
    )),
    reloadable(p(
        LOGIN_TIMEOUT,
        Kind::Integer,
        None,
        "Login timeout (s)",
        "node.conn[0].timeo.login_timeout written to the node records before login. With a token \
of 4000 ms: \
value: 10.",
    )),
    reloadable(p(
        TIMEOUT_POLICY,
        Kind::String,
        Some("warn"),
        "What to do when iSCSI timeouts fall outside the Corosync window",
        "enforce: validate-all and start fail (not configured) when the iSCSI timers cannot \
notice a dead peer within the Corosync token; warn: log it and go on; ignore: do not check.",
    )),
    reloadable(p(
        TOKEN_MS,
        Kind::Integer,
        None,
        "Corosync token (ms) override",
        "The Corosync token to judge the iSCSI timers against, for hosts where the running \
Corosync cannot be read. Overrides corosync-cmapctl and corosync.conf.",
    )),
    reloadable(p(
        RECONNECT_JITTER,
        Kind::Integer,
        None,
        "Reconnect jitter (ms)",
        "Upper bound of the random delay before a monitor's reconnect attempt (the portal probe, \
then the login), so that many initiators recovering at once do not storm the target. A lone leg \
is back within one monitor interval plus this bound of its portal answering. After a refused or \
failed login, the next attempt is drawn from a window of 2, 4, 8, then 16 times this bound that \
opens one monitor interval after the failure. Default: 2000 for a target served by a cluster \
node (peers mode, or peer_node given: a two-node SAN's lone leg comes back fast); 8000 for a \
target outside the cluster, which hundreds of initiators may share.",
    )),
    p(
        POOL,
        Kind::String,
        None,
        "ZFS pool riding on these sessions",
        "The ZFS pool whose remote vdevs are the iSCSI disks (e.g. san-pool). Used by the deep \
monitor (OCF_CHECK_LEVEL 20) and by status.",
    ),
    reloadable(p(
        AUTO_ONLINE,
        Kind::Boolean,
        None,
        "Bring returned remote vdevs back into the pool",
        "On the node where the pool is imported: when a remote vdev is not ONLINE while the \
session that carries it has been logged in and stable for two monitor intervals, run \
`zpool online` for it (never in a probe, never for a vdev an admin took OFFLINE, never on a \
suspended pool, never while a resilver runs; one action per monitor, each logged with why). \
Default: true when pool is set.",
    )),
    reloadable(p(
        CRM_MON,
        Kind::String,
        Some("crm_mon"),
        "crm_mon binary",
        "Pacemaker's crm_mon, used to learn the peers' state when a session is down.",
    )),
    reloadable(p(
        COROSYNC_CMAPCTL,
        Kind::String,
        Some("corosync-cmapctl"),
        "corosync-cmapctl binary",
        "Used to read Corosync's runtime token and consensus.",
    )),
    reloadable(p(
        METRICS_FILE,
        Kind::String,
        None,
        "Prometheus textfile to keep",
        "A file for node_exporter's textfile collector (e.g. \
/var/lib/prometheus/node-exporter/iscsi_mirror.prom): the monitor writes the mirror's metrics \
there (verdict, health, reasons, each path's state, reconnects, resilver, outdated marks), \
only when a value changed and without a child process. Empty: no file.",
    )),
    ParamSpec {
        reloadable: true,
        advanced: true,
        ..p(
            ZPOOL,
            Kind::String,
            Some("zpool"),
            "zpool binary",
            "ZFS's zpool, used only while the mirror is not whole (vdev states, resilver \
progress) and for `zpool online`: an absolute path, or a name searched in the standard \
directories.",
        )
    },
    ParamSpec {
        advanced: true,
        ..p(
            HOST_ROOT,
            Kind::String,
            Some("/"),
            "Root of the kernel interfaces (testing only)",
            "Directory under which sys/class/iscsi_session, sys/class/iscsi_connection, \
dev/disk/by-path, etc/iscsi/iscsid.conf and etc/corosync/corosync.conf are read. Leave at / on \
real hosts; tests point it at a simulated host.",
        )
    },
];

pub fn spec(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|s| s.name == name)
}

/// Default action timeouts, advertised in meta-data and used when Pacemaker gives none.
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout_s: u32,
    pub interval_s: Option<u32>,
    pub depth: Option<u32>,
    /// Defined by OCF 1.1 and unknown to resource-agents' ra-api-1.dtd: advertised only to
    /// callers that speak OCF 1.1 (see `metadata`).
    pub ocf_1_1: bool,
}

pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "start",
        timeout_s: 90,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
    ActionSpec {
        name: "stop",
        timeout_s: 90,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
    ActionSpec {
        name: "monitor",
        timeout_s: 30,
        interval_s: Some(10),
        depth: Some(0),
        ocf_1_1: false,
    },
    // Depth 10 also re-checks the timeout window against the live sessions' timers.
    ActionSpec {
        name: "monitor",
        timeout_s: 30,
        interval_s: Some(60),
        depth: Some(10),
        ocf_1_1: false,
    },
    // Depth 20 also reads the pool every time (a periodic full check of the mirror).
    ActionSpec {
        name: "monitor",
        timeout_s: 60,
        interval_s: Some(120),
        depth: Some(20),
        ocf_1_1: false,
    },
    ActionSpec {
        name: "status",
        timeout_s: 30,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
    ActionSpec {
        name: "reload-agent",
        timeout_s: 30,
        interval_s: None,
        depth: None,
        ocf_1_1: true,
    },
    ActionSpec {
        name: "validate-all",
        timeout_s: 20,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
    ActionSpec {
        name: "meta-data",
        timeout_s: 5,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
    ActionSpec {
        name: "methods",
        timeout_s: 5,
        interval_s: None,
        depth: None,
        ocf_1_1: false,
    },
];

pub fn default_timeout_s(action: &str) -> u32 {
    ACTIONS
        .iter()
        .find(|a| a.name == action)
        .map(|a| a.timeout_s)
        .unwrap_or(30)
}
