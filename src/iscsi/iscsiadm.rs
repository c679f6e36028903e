//! The only module that runs `iscsiadm`. Login and logout address one exact target and
//! portal; exit codes become kinds with a reason an admin can act on.

use std::collections::BTreeMap;

use crate::deadline::Deadline;
use crate::process::{self, RunError};
use crate::redact;
use crate::target::{Iqn, Path, Portal};

/// open-iscsi's exit codes (usr/iscsi_err.h), grouped by what the agent does about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    NotInstalled,
    TimedOut,
    /// 15: a session for this record already exists.
    SessionExists,
    /// 21: no records, sessions or targets matched.
    NothingFound,
    /// 5: the login failed in a way worth retrying (a target error such as "out of
    /// resources": a busy target).
    LoginFailed,
    /// 24: CHAP or ACL refused us.
    AuthFailed,
    /// 4 (connection failure: a name iscsid could not resolve, a connection that broke),
    /// 8 (transport timeout), 11 (PDU timeout): the portal did not answer.
    Unreachable,
    /// Not iscsiadm's: the portal's host name does not resolve (the resolver knows no
    /// such name), so there is nothing to log in to.
    UnknownHost,
    /// Not iscsiadm's: the discovery server (iSNS) gave no portal for the target.
    NotDiscovered,
    /// 19: the target refused the login for good (unknown target, ACL).
    LoginRefused,
    /// 20, 18: iscsid is not running or not answering.
    IscsidDown,
    /// 12: the iscsi_tcp transport module is not loaded.
    DriverMissing,
    /// 13: not permitted.
    Permission,
    Other(i32),
}

impl ErrorKind {
    pub fn from_code(code: i32) -> ErrorKind {
        match code {
            5 => ErrorKind::LoginFailed,
            4 | 8 | 11 => ErrorKind::Unreachable,
            12 => ErrorKind::DriverMissing,
            13 => ErrorKind::Permission,
            15 => ErrorKind::SessionExists,
            18 | 20 => ErrorKind::IscsidDown,
            19 => ErrorKind::LoginRefused,
            21 => ErrorKind::NothingFound,
            24 => ErrorKind::AuthFailed,
            other => ErrorKind::Other(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// `iscsiadm -m node --login` or similar: which operation failed.
    pub operation: String,
    /// The tool's own last words (secrets masked).
    pub detail: String,
}

impl Error {
    /// A short line for an exit reason (Pacemaker keeps 128 characters): what failed and
    /// what to do about it.
    pub fn reason(&self) -> String {
        format!("{}: {}", self.operation, self.advice())
    }

    /// What went wrong and what to do, without naming the operation.
    pub fn advice(&self) -> String {
        match &self.kind {
            ErrorKind::NotInstalled => "iscsiadm not found; install open-iscsi".to_string(),
            ErrorKind::TimedOut => "iscsiadm timed out and was killed; check iscsid".to_string(),
            ErrorKind::SessionExists => "session exists".to_string(),
            ErrorKind::NothingFound => "no matching record or session".to_string(),
            ErrorKind::LoginFailed => "iSCSI login failure (target busy?)".to_string(),
            ErrorKind::AuthFailed => "CHAP authentication failed; check node.session.auth.*".to_string(),
            ErrorKind::Unreachable => "portal did not answer; check the storage network".to_string(),
            ErrorKind::NotDiscovered => {
                "no portal for the target; check the server and the target's registration".to_string()
            }
            ErrorKind::UnknownHost => {
                "the host name does not resolve; fix DNS or /etc/hosts, or give the address".to_string()
            }
            ErrorKind::LoginRefused => "target refused the login; check its ACL and LUN export".to_string(),
            ErrorKind::IscsidDown => "iscsid is not running; start it".to_string(),
            ErrorKind::DriverMissing => "iscsi_tcp module not loaded; modprobe iscsi_tcp".to_string(),
            ErrorKind::Permission => "permission denied; run as root".to_string(),
            ErrorKind::Other(code) => format!("iscsiadm exit code {code}"),
        }
    }

    /// The reason with the tool's own words and the target, for the log.
    pub fn detailed(&self) -> String {
        if self.detail.is_empty() {
            self.reason()
        } else {
            format!("{} [{}]", self.reason(), self.detail)
        }
    }
}

/// How a login ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    LoggedIn,
    AlreadyLoggedIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logout {
    LoggedOut,
    NotLoggedIn,
}

/// A discovered target: `addr:port,tpgt iqn` as sendtargets reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub address: String,
    pub port: u16,
    pub tpgt: i64,
    pub target: String,
}

pub struct Iscsiadm<'a> {
    program: &'a str,
    withheld: bool,
}

impl<'a> Iscsiadm<'a> {
    pub fn new(program: &'a str) -> Self {
        Iscsiadm {
            program,
            withheld: false,
        }
    }

    /// Treats iscsiadm as not installed, whatever is on disk: ocf-tester's "missing
    /// binaries" check ([`crate::ocf::Env::tools_withheld`]).
    pub fn withheld(self, withheld: bool) -> Self {
        Iscsiadm { withheld, ..self }
    }

    /// Whether iscsiadm can be run: found and executable, and not withheld.
    pub fn installed(&self) -> bool {
        !self.withheld && process::resolve(self.program).is_some()
    }

    fn run(&self, operation: String, args: &[&str], deadline: Deadline) -> Result<String, Error> {
        let fail = |kind, detail: String| Error {
            kind,
            operation: operation.clone(),
            detail,
        };
        if self.withheld {
            return Err(fail(
                ErrorKind::NotInstalled,
                format!("{} withheld (OCF_TESTER_FAIL_HAVE_BINARY)", self.program),
            ));
        }
        if deadline.expired() {
            return Err(fail(
                ErrorKind::TimedOut,
                "not run: the action's time was used up".to_string(),
            ));
        }
        tracing::debug!("running {} {}", self.program, args.join(" "));
        match process::run(self.program, args, deadline) {
            Ok(out) if out.success() => Ok(out.stdout),
            Ok(out) => {
                let code = out.code.unwrap_or(-1);
                let detail = last_words(&out.stderr, &out.stdout);
                tracing::debug!("{operation}: exit {code}: {detail}");
                Err(fail(ErrorKind::from_code(code), detail))
            }
            Err(RunError::NotFound(_)) => Err(fail(
                ErrorKind::NotInstalled,
                format!("{} not found", self.program),
            )),
            Err(RunError::Spawn(e)) => Err(fail(ErrorKind::Other(-1), e)),
            Err(e @ RunError::TimedOut { .. }) => Err(fail(ErrorKind::TimedOut, e.to_string())),
        }
    }

    /// `iscsiadm -m node -T TARGET -p PORTAL <op...>`: always one exact record.
    fn node(&self, path: &Path, op: &[&str], operation: String, deadline: Deadline) -> Result<String, Error> {
        let portal = path.portal.to_iscsiadm();
        let mut args = vec!["-m", "node", "-T", path.target.as_str(), "-p", portal.as_str()];
        args.extend_from_slice(op);
        self.run(operation, &args, deadline)
    }

    /// Whether open-iscsi has a node record for exactly this target and portal.
    pub fn record_exists(&self, path: &Path, deadline: Deadline) -> Result<bool, Error> {
        match self.record(path, deadline) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NothingFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The node record's settings; secret values are dropped.
    pub fn record(&self, path: &Path, deadline: Deadline) -> Result<BTreeMap<String, String>, Error> {
        let what = format!("reading the node record of {}", path.portal);
        Ok(parse_record(&self.node(path, &["-o", "show"], what, deadline)?))
    }

    /// Every node record: `-m node` lines `addr:port,tpgt iqn`. None found is an empty list.
    pub fn records(&self, deadline: Deadline) -> Result<Vec<Discovered>, Error> {
        match self.run("listing node records".to_string(), &["-m", "node"], deadline) {
            Ok(out) => Ok(out.lines().filter_map(parse_discovered).collect()),
            Err(e) if e.kind == ErrorKind::NothingFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    pub fn new_record(&self, path: &Path, deadline: Deadline) -> Result<(), Error> {
        let what = format!("creating a node record for {}", path.portal);
        self.node(path, &["-o", "new"], what, deadline).map(drop)
    }

    pub fn delete_record(&self, path: &Path, deadline: Deadline) -> Result<(), Error> {
        let what = format!("deleting the node record of {}", path.portal);
        self.node(path, &["-o", "delete"], what, deadline).map(drop)
    }

    pub fn update(&self, path: &Path, key: &str, value: &str, deadline: Deadline) -> Result<(), Error> {
        let what = format!("setting {key} for {}", path.portal);
        self.node(path, &["-o", "update", "-n", key, "-v", value], what, deadline)
            .map(drop)
    }

    /// Discovery against one portal (`kind`: sendtargets, or isns against an iSNS server).
    pub fn discover(
        &self,
        kind: &str,
        portal: &Portal,
        deadline: Deadline,
    ) -> Result<Vec<Discovered>, Error> {
        let p = portal.to_iscsiadm();
        let out = self.run(
            format!("discovery at {portal}"),
            &["-m", "discovery", "-t", kind, "-p", &p],
            deadline,
        )?;
        Ok(out.lines().filter_map(parse_discovered).collect())
    }

    pub fn login(&self, path: &Path, deadline: Deadline) -> Result<Login, Error> {
        match self.node(path, &["--login"], format!("login to {}", path.portal), deadline) {
            Ok(_) => Ok(Login::LoggedIn),
            Err(e) if e.kind == ErrorKind::SessionExists => Ok(Login::AlreadyLoggedIn),
            Err(e) => Err(e),
        }
    }

    pub fn logout(&self, path: &Path, deadline: Deadline) -> Result<Logout, Error> {
        match self.node(
            path,
            &["--logout"],
            format!("logout from {}", path.portal),
            deadline,
        ) {
            Ok(_) => Ok(Logout::LoggedOut),
            Err(e) if e.kind == ErrorKind::NothingFound => Ok(Logout::NotLoggedIn),
            Err(e) => Err(e),
        }
    }

    /// Logout by session id: the fallback when the record-based logout cannot find it.
    pub fn logout_session(&self, sid: u32, deadline: Deadline) -> Result<Logout, Error> {
        let sid = sid.to_string();
        match self.run(
            format!("logout of session {sid}"),
            &["-m", "session", "-r", &sid, "--logout"],
            deadline,
        ) {
            Ok(_) => Ok(Logout::LoggedOut),
            Err(e) if matches!(e.kind, ErrorKind::NothingFound | ErrorKind::Other(22)) => {
                Ok(Logout::NotLoggedIn)
            }
            Err(e) => Err(e),
        }
    }
}

/// The last meaningful line the tool printed, secrets masked, for a one-line reason.
pub fn last_words(stderr: &str, stdout: &str) -> String {
    let text = redact::secrets(if stderr.trim().is_empty() { stdout } else { stderr });
    let noise = |l: &&str| {
        l.contains("Could not log into all portals")
            || l.contains("has not been booted with systemd")
            || l.contains("Failed to connect to bus")
    };
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !noise(l))
        .find(|l| l.contains("reported error") || l.contains("initiator"))
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .rfind(|l| !noise(l))
        })
        .unwrap_or("");
    line.trim_start_matches("iscsiadm: ").chars().take(200).collect()
}

/// `key = value` lines of `iscsiadm -m node -o show`; secrets and `<empty>` dropped.
pub fn parse_record(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.contains("password"))
        .filter(|(_, v)| v != "<empty>")
        .collect()
}

/// `127.0.0.1:3260,1 iqn...` or `[fd00::2]:3260,1 iqn...`.
pub fn parse_discovered(line: &str) -> Option<Discovered> {
    let (portal, target) = line.trim().split_once(' ')?;
    let (addr_port, tpgt) = portal.rsplit_once(',')?;
    let (addr, port) = addr_port.rsplit_once(':')?;
    Some(Discovered {
        address: addr.trim_start_matches('[').trim_end_matches(']').to_string(),
        port: port.parse().ok()?,
        tpgt: tpgt.parse().ok()?,
        target: target.trim().to_string(),
    })
}

impl Discovered {
    pub fn is(&self, target: &Iqn, portal: &Portal) -> bool {
        self.target == target.as_str() && portal.matches(&self.address, self.port)
    }

    /// The path this record stands for, when its names parse.
    pub fn path(&self) -> Option<Path> {
        let portal = if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        };
        Some(Path {
            target: Iqn::parse(&self.target).ok()?,
            portal: Portal::parse(&portal).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_map_to_kinds() {
        assert_eq!(ErrorKind::from_code(15), ErrorKind::SessionExists);
        assert_eq!(ErrorKind::from_code(21), ErrorKind::NothingFound);
        assert_eq!(ErrorKind::from_code(24), ErrorKind::AuthFailed);
        assert_eq!(ErrorKind::from_code(4), ErrorKind::Unreachable);
        assert_eq!(ErrorKind::from_code(8), ErrorKind::Unreachable);
        assert_eq!(ErrorKind::from_code(11), ErrorKind::Unreachable);
        assert_eq!(ErrorKind::from_code(19), ErrorKind::LoginRefused);
        assert_eq!(ErrorKind::from_code(20), ErrorKind::IscsidDown);
        assert_eq!(ErrorKind::from_code(12), ErrorKind::DriverMissing);
        assert_eq!(ErrorKind::from_code(99), ErrorKind::Other(99));
    }

    #[test]
    fn the_tool_s_reason_line_is_kept_and_noise_dropped() {
        let stderr = "System has not been booted with systemd as init system (PID 1). Can't operate.\n\
Failed to connect to bus: Host is down\n\
iscsiadm: can not connect to iSCSI daemon (111)!\n\
iscsiadm: Could not login to [iface: default, target: iqn.2024-01.lab.local:host.disk1, portal: 127.0.0.1,3260].\n\
iscsiadm: initiator reported error (20 - could not connect to iscsid)\n\
iscsiadm: Could not log into all portals\n";
        assert_eq!(
            last_words(stderr, ""),
            "initiator reported error (20 - could not connect to iscsid)"
        );
    }

    #[test]
    fn records_drop_secrets_and_empties() {
        let rec = parse_record("# BEGIN RECORD 2.1.8\nnode.name = iqn.x\nnode.session.auth.password = pw\nnode.session.auth.username = <empty>\nnode.conn[0].timeo.noop_out_interval = 5\n# END RECORD\n");
        assert_eq!(rec.get("node.name").map(String::as_str), Some("iqn.x"));
        assert_eq!(
            rec.get("node.conn[0].timeo.noop_out_interval")
                .map(String::as_str),
            Some("5")
        );
        assert!(!rec.keys().any(|k| k.contains("password")));
        assert!(!rec.contains_key("node.session.auth.username"));
    }

    #[test]
    fn discovery_lines() {
        let d = parse_discovered("127.0.0.1:3260,1 iqn.2024-01.lab.local:vm.disk1").unwrap();
        assert_eq!((d.address.as_str(), d.port, d.tpgt), ("127.0.0.1", 3260, 1));
        let v6 = parse_discovered("[fd00::2]:3260,1 iqn.2024-01.lab.local:b").unwrap();
        assert_eq!(v6.address, "fd00::2");
        assert!(parse_discovered("garbage").is_none());
    }
}
