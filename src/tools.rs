//! Every outside program the agent runs, in one table: its name, the parameter that
//! overrides where it is, which package brings it, which module owns it and what for.
//! Only the owning module runs a tool, through `process::run`.

use std::path::Path;

use crate::config::Config;
use crate::params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    /// The resource parameter naming its path, when it has one.
    pub param: Option<&'static str>,
    pub package: &'static str,
    /// The module that runs it (nothing else does).
    pub owner: &'static str,
    pub used_for: &'static str,
}

pub const ISCSIADM: Tool = Tool {
    name: "iscsiadm",
    param: Some(params::ISCSIADM),
    package: "open-iscsi",
    owner: "iscsi::iscsiadm",
    used_for: "node records, discovery, login and logout (start, stop, reconnect)",
};
pub const CRM_MON: Tool = Tool {
    name: "crm_mon",
    param: Some(params::CRM_MON),
    package: "pacemaker-cli-utils",
    owner: "cluster::crm_mon",
    used_for: "the peers' state, only when a leg is down",
};
pub const COROSYNC_CMAPCTL: Tool = Tool {
    name: "corosync-cmapctl",
    param: Some(params::COROSYNC_CMAPCTL),
    package: "corosync",
    owner: "cluster::corosync",
    used_for: "the effective token and consensus (timeout window)",
};
pub const CRM_NODE: Tool = Tool {
    name: "crm_node",
    param: None,
    package: "pacemaker-cli-utils",
    owner: "cluster::crm_node",
    used_for: "this node's cluster name when Pacemaker did not pass it",
};
pub const ATTRD_UPDATER: Tool = Tool {
    name: "attrd_updater",
    param: None,
    package: "pacemaker-cli-utils",
    owner: "cluster::attrd",
    used_for: "publishing the mirror's health (#health-iscsi-mirror), only when it changes",
};
pub const CRM_ATTRIBUTE: Tool = Tool {
    name: "crm_attribute",
    param: None,
    package: "pacemaker-cli-utils",
    owner: "cluster::attrd",
    used_for: "the permanent outdated mark (iscsi-mirror-outdated) on a stale half, and this node's ZFS hostid (iscsi-mirror-hostid) at start",
};
pub const CIBADMIN: Tool = Tool {
    name: "cibadmin",
    param: None,
    package: "pacemaker-cli-utils",
    owner: "cluster::cib",
    used_for: "the resource's parameters and node attributes for status, doctor and check-timeouts (the peers' hostids)",
};
pub const ZPOOL: Tool = Tool {
    name: "zpool",
    param: Some(params::ZPOOL),
    package: "zfsutils-linux",
    owner: "zfs::zpool",
    used_for: "vdev states, resilver progress and `zpool online` (pool set, mirror not whole)",
};

pub const PING: Tool = Tool {
    name: "ping",
    param: None,
    package: "iputils-ping",
    owner: "net",
    used_for: "doctor: whether the path to a portal carries the interface's MTU (ping -M do)",
};

pub const ALL: &[Tool] = &[
    ISCSIADM,
    CRM_MON,
    COROSYNC_CMAPCTL,
    CRM_NODE,
    ATTRD_UPDATER,
    CRM_ATTRIBUTE,
    CIBADMIN,
    ZPOOL,
    PING,
];

/// Where each tool is on this host, from the resource's parameters. Pacemaker's own tools
/// without a parameter are taken from beside `crm_mon` when that is a path, so one
/// parameter moves them all (an installation under /opt, or a test's doubles).
#[derive(Debug, Clone)]
pub struct Tools {
    pub iscsiadm: String,
    /// ocf-tester's "without its tools" check (`Env::tools_withheld`): iscsiadm, the one
    /// tool the agent cannot work without, counts as not installed.
    pub iscsiadm_withheld: bool,
    pub crm_mon: String,
    pub corosync_cmapctl: String,
    pub zpool: String,
}

impl Tools {
    pub fn from_config(c: &Config) -> Tools {
        Tools {
            iscsiadm: c.iscsiadm.clone(),
            iscsiadm_withheld: false,
            crm_mon: c.crm_mon.clone(),
            corosync_cmapctl: c.corosync_cmapctl.clone(),
            zpool: c.zpool.clone(),
        }
    }

    /// Bare names everywhere: what an admin's shell would run.
    pub fn defaults() -> Tools {
        Tools {
            iscsiadm: ISCSIADM.name.into(),
            iscsiadm_withheld: false,
            crm_mon: CRM_MON.name.into(),
            corosync_cmapctl: COROSYNC_CMAPCTL.name.into(),
            zpool: ZPOOL.name.into(),
        }
    }

    /// The program to run for `tool`: an absolute path or a bare name for the search path.
    pub fn program(&self, tool: &Tool) -> String {
        match tool.name {
            "iscsiadm" => self.iscsiadm.clone(),
            "crm_mon" => self.crm_mon.clone(),
            "corosync-cmapctl" => self.corosync_cmapctl.clone(),
            "zpool" => self.zpool.clone(),
            // Not Pacemaker's: never taken from beside crm_mon.
            "ping" => PING.name.to_string(),
            other => match Path::new(&self.crm_mon).parent() {
                Some(dir) if self.crm_mon.starts_with('/') => dir.join(other).display().to_string(),
                _ => other.to_string(),
            },
        }
    }

    pub fn withholding_iscsiadm(self, withheld: bool) -> Tools {
        Tools {
            iscsiadm_withheld: withheld,
            ..self
        }
    }

    /// Whether the tool can be run (found, executable, not withheld).
    pub fn installed(&self, tool: &Tool) -> bool {
        !(self.iscsiadm_withheld && *tool == ISCSIADM)
            && crate::process::resolve(&self.program(tool)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacemaker_tools_follow_crm_mon() {
        let mut t = Tools::defaults();
        assert_eq!(t.program(&ATTRD_UPDATER), "attrd_updater");
        t.crm_mon = "/opt/pcmk/sbin/crm_mon".into();
        assert_eq!(t.program(&ATTRD_UPDATER), "/opt/pcmk/sbin/attrd_updater");
        assert_eq!(t.program(&CIBADMIN), "/opt/pcmk/sbin/cibadmin");
        assert_eq!(t.program(&ISCSIADM), "iscsiadm");
    }

    /// The layout promise: only a tool's owner starts processes for it. A module that
    /// calls the runner must own a tool in the table.
    #[test]
    fn only_owners_run_programs() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let owners: Vec<String> = ALL
            .iter()
            .map(|t| format!("{}.rs", t.owner.replace("::", "/")))
            .collect();
        let mut offenders = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(&src).unwrap().display().to_string();
                if rel == "process.rs" || rel == "tools.rs" || owners.contains(&rel) {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains("process::run(") || text.contains("Command::new(") {
                    offenders.push(rel);
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "programs run outside their owners: {offenders:?}"
        );
    }
}
