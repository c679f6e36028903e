//! open-iscsi node records: the key table, defaults, the on-disk format and the node database
//! under `$SIM/etc/iscsi/nodes`.
//!
//! Sources: open-iscsi 2.1.8 `usr/idbm.c` (`idbm_recinfo_node`: key set, which keys can be
//! modified, masked passwords; `idbm_rec_write`: directory layout; `idbm_print`: the on-disk
//! format, which omits empty values) and `libopeniscsiusr/idbm.c` (`-o show` prints every key
//! in the order of the recorded `node-show-*.txt`, empty values as `<empty>`).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What a key holds, as `idbm_rec_update_param` parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    /// One of the listed words (TYPE_INT_O).
    Choice(&'static [&'static str]),
    /// A comma list of CHAP algorithms (TYPE_INT_LIST).
    AlgList,
}

#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// `can_modify` in idbm_recinfo_node: 0 for the keys that name the record.
    pub modifiable: bool,
    /// IDBM_MASKED: passwords print as `********` unless `--show`.
    pub masked: bool,
    /// IDBM_HIDE: never printed nor written, but known to `-o update`.
    pub hidden: bool,
    /// Built-in default (`idbm_node_setup_defaults`), as recorded in
    /// node-show-static-host-no-iscsid.txt (iscsid not running, so no iscsid.conf applied).
    pub default: &'static str,
}

const STARTUP: &[&str] = &["manual", "automatic", "onboot"];
const NO_YES: &[&str] = &["No", "Yes"];
const DISC_TYPES: &[&str] = &[
    "send_targets",
    "isns",
    "offload_send_targets",
    "slp",
    "static",
    "fw",
];
const AUTH: &[&str] = &["None", "CHAP"];
const SCAN: &[&str] = &["manual", "auto"];
const DIGEST: &[&str] = &["None", "CRC32C", "CRC32C,None", "None,CRC32C"];
pub const CHAP_ALGS: &[&str] = &["MD5", "SHA1", "SHA256", "SHA3-256"];

const fn k(name: &'static str, kind: Kind, default: &'static str) -> Key {
    Key {
        name,
        kind,
        modifiable: true,
        masked: false,
        hidden: false,
        default,
    }
}
const fn fixed(name: &'static str, kind: Kind) -> Key {
    Key {
        name,
        kind,
        modifiable: false,
        masked: false,
        hidden: false,
        default: "",
    }
}
const fn masked(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Str,
        modifiable: true,
        masked: true,
        hidden: false,
        default: "",
    }
}
const fn hidden(name: &'static str) -> Key {
    Key {
        name,
        kind: Kind::Int,
        modifiable: true,
        masked: false,
        hidden: true,
        default: "0",
    }
}
const fn s(name: &'static str) -> Key {
    k(name, Kind::Str, "")
}
const fn i(name: &'static str, default: &'static str) -> Key {
    k(name, Kind::Int, default)
}
const fn c(name: &'static str, opts: &'static [&'static str], default: &'static str) -> Key {
    k(name, Kind::Choice(opts), default)
}

/// Every node key in `-o show` order (libopeniscsiusr), which is the order of the recorded
/// node-show-*.txt files.
pub const KEYS: &[Key] = &[
    fixed("node.name", Kind::Str),
    fixed("node.tpgt", Kind::Int),
    c("node.startup", STARTUP, "manual"),
    c("node.leading_login", NO_YES, "No"),
    k("iface.iscsi_ifacename", Kind::Str, "default"),
    s("iface.net_ifacename"),
    s("iface.ipaddress"),
    i("iface.prefix_len", "0"),
    s("iface.hwaddress"),
    k("iface.transport_name", Kind::Str, "tcp"),
    s("iface.initiatorname"),
    s("iface.state"),
    i("iface.vlan_id", "0"),
    i("iface.vlan_priority", "0"),
    s("iface.vlan_state"),
    i("iface.iface_num", "0"),
    i("iface.mtu", "0"),
    i("iface.port", "0"),
    s("iface.bootproto"),
    s("iface.subnet_mask"),
    s("iface.gateway"),
    s("iface.dhcp_alt_client_id_state"),
    s("iface.dhcp_alt_client_id"),
    s("iface.dhcp_dns"),
    s("iface.dhcp_learn_iqn"),
    s("iface.dhcp_req_vendor_id_state"),
    s("iface.dhcp_vendor_id_state"),
    s("iface.dhcp_vendor_id"),
    s("iface.dhcp_slp_da"),
    s("iface.fragmentation"),
    s("iface.gratuitous_arp"),
    s("iface.incoming_forwarding"),
    s("iface.tos_state"),
    i("iface.tos", "0"),
    i("iface.ttl", "0"),
    s("iface.delayed_ack"),
    s("iface.tcp_nagle"),
    s("iface.tcp_wsf_state"),
    i("iface.tcp_wsf", "0"),
    i("iface.tcp_timer_scale", "0"),
    s("iface.tcp_timestamp"),
    s("iface.redirect"),
    i("iface.def_task_mgmt_timeout", "0"),
    s("iface.header_digest"),
    s("iface.data_digest"),
    s("iface.immediate_data"),
    s("iface.initial_r2t"),
    s("iface.data_seq_inorder"),
    s("iface.data_pdu_inorder"),
    i("iface.erl", "0"),
    i("iface.max_receive_data_len", "0"),
    i("iface.first_burst_len", "0"),
    i("iface.max_outstanding_r2t", "0"),
    i("iface.max_burst_len", "0"),
    s("iface.chap_auth"),
    s("iface.bidi_chap"),
    s("iface.strict_login_compliance"),
    s("iface.discovery_auth"),
    s("iface.discovery_logout"),
    fixed("node.discovery_address", Kind::Str),
    fixed("node.discovery_port", Kind::Int),
    fixed("node.discovery_type", Kind::Choice(DISC_TYPES)),
    i("node.session.initial_cmdsn", "0"),
    i("node.session.initial_login_retry_max", "4"),
    i("node.session.xmit_thread_priority", "-20"),
    i("node.session.cmds_max", "128"),
    i("node.session.queue_depth", "32"),
    i("node.session.nr_sessions", "1"),
    c("node.session.auth.authmethod", AUTH, "None"),
    s("node.session.auth.username"),
    masked("node.session.auth.password"),
    hidden("node.session.auth.password_length"),
    s("node.session.auth.username_in"),
    masked("node.session.auth.password_in"),
    hidden("node.session.auth.password_in_length"),
    k("node.session.auth.chap_algs", Kind::AlgList, "MD5"),
    i("node.session.timeo.replacement_timeout", "120"),
    i("node.session.err_timeo.abort_timeout", "15"),
    i("node.session.err_timeo.lu_reset_timeout", "30"),
    i("node.session.err_timeo.tgt_reset_timeout", "30"),
    i("node.session.err_timeo.host_reset_timeout", "60"),
    c("node.session.iscsi.FastAbort", NO_YES, "Yes"),
    c("node.session.iscsi.InitialR2T", NO_YES, "No"),
    c("node.session.iscsi.ImmediateData", NO_YES, "Yes"),
    i("node.session.iscsi.FirstBurstLength", "262144"),
    i("node.session.iscsi.MaxBurstLength", "16776192"),
    i("node.session.iscsi.DefaultTime2Retain", "0"),
    i("node.session.iscsi.DefaultTime2Wait", "2"),
    i("node.session.iscsi.MaxConnections", "1"),
    i("node.session.iscsi.MaxOutstandingR2T", "1"),
    i("node.session.iscsi.ERL", "0"),
    c("node.session.scan", SCAN, "auto"),
    i("node.session.reopen_max", "0"),
    fixed("node.conn[0].address", Kind::Str),
    fixed("node.conn[0].port", Kind::Int),
    c("node.conn[0].startup", STARTUP, "manual"),
    i("node.conn[0].tcp.window_size", "524288"),
    i("node.conn[0].tcp.type_of_service", "0"),
    i("node.conn[0].timeo.logout_timeout", "15"),
    i("node.conn[0].timeo.login_timeout", "30"),
    i("node.conn[0].timeo.auth_timeout", "45"),
    i("node.conn[0].timeo.noop_out_interval", "5"),
    i("node.conn[0].timeo.noop_out_timeout", "5"),
    i("node.conn[0].iscsi.MaxXmitDataSegmentLength", "0"),
    i("node.conn[0].iscsi.MaxRecvDataSegmentLength", "262144"),
    c("node.conn[0].iscsi.HeaderDigest", DIGEST, "None"),
    c("node.conn[0].iscsi.DataDigest", DIGEST, "None"),
    c("node.conn[0].iscsi.IFMarker", NO_YES, "No"),
    c("node.conn[0].iscsi.OFMarker", NO_YES, "No"),
];

/// iscsiadm's own `idbm_recinfo_node` (usr/idbm.c) orders the first iface keys differently
/// from libopeniscsiusr; this is the order of a record file on disk. The keys after
/// `iface.port` are in the same order in both.
const DISK_HEAD: &[&str] = &[
    "node.name",
    "node.tpgt",
    "node.startup",
    "node.leading_login",
    "iface.hwaddress",
    "iface.ipaddress",
    "iface.iscsi_ifacename",
    "iface.net_ifacename",
    "iface.gateway",
    "iface.subnet_mask",
    "iface.prefix_len",
    "iface.transport_name",
    "iface.initiatorname",
    "iface.state",
    "iface.vlan_id",
    "iface.vlan_priority",
    "iface.vlan_state",
    "iface.iface_num",
    "iface.mtu",
    "iface.port",
    "iface.bootproto",
];

pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// Parses like C's `strtoul(value, NULL, 10)` stored into an `int`: leading blanks, an
/// optional sign, the leading digits; no digits gives 0; wraps like the C conversion.
pub fn c_int(value: &str) -> i32 {
    let t = value.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: u64 = 0;
    for b in rest.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    let v = if neg { n.wrapping_neg() } else { n };
    v as u32 as i32
}

/// A node record: every key of [`KEYS`] with its value ("" = empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    values: BTreeMap<&'static str, String>,
}

/// Why `-o update` refused a parameter; the message is what iscsiadm prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateError(pub Vec<String>);

impl NodeRecord {
    /// The built-in defaults of `idbm_node_setup_defaults` with the naming keys set.
    pub fn builtin(iqn: &str, tpgt: i32, addr: &str, port: u16) -> NodeRecord {
        let mut values = BTreeMap::new();
        for key in KEYS {
            values.insert(key.name, key.default.to_string());
        }
        let mut r = NodeRecord { values };
        r.put("node.name", iqn);
        r.put("node.tpgt", &tpgt.to_string());
        r.put("node.conn[0].address", addr);
        r.put("node.conn[0].port", &port.to_string());
        r.put("node.discovery_address", "");
        r.put("node.discovery_port", "0");
        r.put("node.discovery_type", "static");
        r
    }

    /// Applies `node.*` settings of an iscsid.conf text, as `idbm_sync_config` does when
    /// iscsiadm gets the config file's path from a running iscsid.
    pub fn apply_conf(&mut self, conf: &str) {
        for (name, value) in conf_pairs(conf) {
            if let Some(key) = key(&name) {
                if key.modifiable && !key.hidden && name.starts_with("node.") {
                    let _ = self.update(&name, &value);
                }
            }
        }
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    fn put(&mut self, name: &'static str, value: &str) {
        self.values.insert(name, value.to_string());
    }

    pub fn iqn(&self) -> &str {
        self.get("node.name")
    }
    pub fn address(&self) -> &str {
        self.get("node.conn[0].address")
    }
    pub fn port(&self) -> u16 {
        c_int(self.get("node.conn[0].port")) as u16
    }
    pub fn tpgt(&self) -> i32 {
        c_int(self.get("node.tpgt"))
    }
    pub fn iface(&self) -> &str {
        self.get("iface.iscsi_ifacename")
    }
    pub fn int(&self, name: &str) -> i32 {
        c_int(self.get(name))
    }

    /// `disc_type`: the record's node.discovery_type ("send_targets", "isns").
    pub fn set_discovery(&mut self, disc_type: &str, addr: &str, port: u16) {
        self.put("node.discovery_address", addr);
        self.put("node.discovery_port", &port.to_string());
        let t = DISC_TYPES
            .iter()
            .find(|t| **t == disc_type)
            .copied()
            .unwrap_or("static");
        self.put("node.discovery_type", t);
    }

    /// `idbm_verify_param` + `idbm_rec_update_param`; errors carry iscsiadm's messages.
    pub fn update(&mut self, name: &str, value: &str) -> Result<(), UpdateError> {
        let Some(key) = key(name) else {
            return Err(UpdateError(vec![format!(
                "Cannot modify {name}. Invalid param name."
            )]));
        };
        if !key.modifiable {
            return Err(UpdateError(vec![format!(
                "Cannot modify {name}. It is used to look up the record and cannot be changed."
            )]));
        }
        let stored = match key.kind {
            Kind::Str => value.chars().take(255).collect(),
            Kind::Int => c_int(value).to_string(),
            Kind::Choice(opts) => {
                if !opts.contains(&value) {
                    return Err(UpdateError(vec![
                        format!("unknown value format '{value}' for parameter name '{name}'"),
                        format!("Unknown parameter {name}."),
                    ]));
                }
                value.to_string()
            }
            Kind::AlgList => {
                let mut seen: Vec<&str> = Vec::new();
                for tok in value.split([',', ' ', '\n']).filter(|t| !t.is_empty()) {
                    if CHAP_ALGS.contains(&tok) && !seen.contains(&tok) {
                        seen.push(tok);
                    }
                }
                seen.join(",")
            }
        };
        self.put(key.name, &stored);
        if key.masked {
            let len_key = if key.name.ends_with("_in") {
                "node.session.auth.password_in_length"
            } else {
                "node.session.auth.password_length"
            };
            self.put(len_key, &value.len().to_string());
        }
        Ok(())
    }

    /// `-o show` text (libopeniscsiusr `_idbm_recs_print` to stdout).
    pub fn show(&self, show_secret: bool) -> String {
        let mut out = String::from("# BEGIN RECORD 2.1.8\n");
        for key in KEYS.iter().filter(|k| !k.hidden) {
            let v = self.get(key.name);
            if key.masked && !show_secret && !v.is_empty() {
                out.push_str(&format!("{} = ********\n", key.name));
            } else if v.is_empty() {
                out.push_str(&format!("{} = <empty>\n", key.name));
            } else {
                out.push_str(&format!("{} = {}\n", key.name, v));
            }
        }
        out.push_str("# END RECORD\n");
        out
    }

    /// The record file as iscsiadm writes it (`idbm_print(..., show=1, f)`): iscsiadm's key
    /// order, cleartext passwords, empty values left out.
    pub fn to_disk(&self) -> String {
        let mut out = String::from("# BEGIN RECORD 2.1.8\n");
        let tail = KEYS
            .iter()
            .map(|k| k.name)
            .skip_while(|n| *n != "iface.subnet_mask")
            .filter(|n| !DISK_HEAD.contains(n));
        for name in DISK_HEAD.iter().copied().chain(tail) {
            let Some(key) = key(name) else { continue };
            let v = self.get(name);
            if key.hidden || v.is_empty() {
                continue;
            }
            out.push_str(&format!("{name} = {v}\n"));
        }
        out.push_str("# END RECORD\n");
        out
    }

    /// Reads a record file: keys not in the file are empty (or their default for keys that
    /// iscsiadm never leaves out).
    pub fn from_disk(text: &str) -> NodeRecord {
        let mut r = NodeRecord {
            values: BTreeMap::new(),
        };
        for key in KEYS {
            let v = match key.kind {
                Kind::Str | Kind::AlgList => "",
                _ => key.default,
            };
            r.values.insert(key.name, v.to_string());
        }
        for (name, value) in conf_pairs(text) {
            if let Some(key) = key(&name) {
                r.values.insert(key.name, value);
            }
        }
        r
    }
}

/// `key = value` pairs of an idbm-style text (comments and blank lines skipped).
pub fn conf_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Where a record lives. open-iscsi keeps a record whose tpgt is unknown (-1, `-o new`
/// without `,tpgt`) in the old style, as a FILE `<iqn>/<addr>,<port>`; every other record
/// as `<iqn>/<addr>,<port>,<tpgt>/<iface>` (usr/idbm.c `idbm_rec_write`). IPv6 addresses
/// are used raw in the name, without brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPath {
    pub iqn: String,
    pub portal_dir: String,
    pub iface: Option<String>,
}

impl RecordPath {
    pub fn for_record(iqn: &str, addr: &str, port: u16, tpgt: i32, iface: &str) -> RecordPath {
        if tpgt < 0 {
            RecordPath {
                iqn: iqn.to_string(),
                portal_dir: format!("{addr},{port}"),
                iface: None,
            }
        } else {
            RecordPath {
                iqn: iqn.to_string(),
                portal_dir: format!("{addr},{port},{tpgt}"),
                iface: Some(iface.to_string()),
            }
        }
    }

    pub fn file(&self, nodes: &Path) -> PathBuf {
        let p = nodes.join(&self.iqn).join(&self.portal_dir);
        match &self.iface {
            Some(i) => p.join(i),
            None => p,
        }
    }
}

/// The node database under `<root>/etc/iscsi/nodes`.
pub struct NodeDb {
    pub nodes: PathBuf,
}

impl NodeDb {
    pub fn new(root: &Path) -> NodeDb {
        NodeDb {
            nodes: root.join("etc/iscsi/nodes"),
        }
    }

    fn sorted_entries(dir: &Path) -> Vec<(String, PathBuf)> {
        let mut v: Vec<(String, PathBuf)> = match fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .filter(|(n, _)| !n.starts_with('.'))
                .collect(),
            Err(_) => Vec::new(),
        };
        // scandir(..., alphasort) under LANG=C: byte order.
        v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        v
    }

    /// Every record, in the order libopeniscsiusr lists them (alphasort of target, portal,
    /// iface).
    pub fn all(&self) -> Vec<(RecordPath, NodeRecord)> {
        let mut out = Vec::new();
        for (iqn, tdir) in Self::sorted_entries(&self.nodes) {
            if !tdir.is_dir() {
                continue;
            }
            for (portal, p) in Self::sorted_entries(&tdir) {
                if p.is_file() {
                    if let Ok(text) = fs::read_to_string(&p) {
                        let rp = RecordPath {
                            iqn: iqn.clone(),
                            portal_dir: portal.clone(),
                            iface: None,
                        };
                        out.push((rp, NodeRecord::from_disk(&text)));
                    }
                } else if p.is_dir() {
                    for (iface, f) in Self::sorted_entries(&p) {
                        if let Ok(text) = fs::read_to_string(&f) {
                            let rp = RecordPath {
                                iqn: iqn.clone(),
                                portal_dir: portal.clone(),
                                iface: Some(iface),
                            };
                            out.push((rp, NodeRecord::from_disk(&text)));
                        }
                    }
                }
            }
        }
        out
    }

    /// `idbm_rec_read`: the old-style file first, then `<addr>,<port>,<tpgt>/<iface>`.
    pub fn read(
        &self,
        iqn: &str,
        addr: &str,
        port: u16,
        tpgt: i32,
        iface: &str,
    ) -> Option<(RecordPath, NodeRecord)> {
        let old = RecordPath::for_record(iqn, addr, port, -1, iface);
        let new = RecordPath::for_record(iqn, addr, port, tpgt, iface);
        for rp in [old, new] {
            let f = rp.file(&self.nodes);
            if f.is_file() {
                let text = fs::read_to_string(&f).ok()?;
                return Some((rp, NodeRecord::from_disk(&text)));
            }
        }
        None
    }

    pub fn write(&self, rec: &NodeRecord) -> io::Result<RecordPath> {
        let rp = RecordPath::for_record(rec.iqn(), rec.address(), rec.port(), rec.tpgt(), rec.iface());
        self.write_at(&rp, rec)?;
        Ok(rp)
    }

    pub fn write_at(&self, rp: &RecordPath, rec: &NodeRecord) -> io::Result<()> {
        let f = rp.file(&self.nodes);
        if let Some(parent) = f.parent() {
            fs::create_dir_all(parent)?;
        }
        let tmp = f.with_extension("sim-tmp");
        fs::write(&tmp, rec.to_disk())?;
        fs::rename(&tmp, &f)
    }

    /// `idbm_delete_node`: removes the file, then the portal and target folders once empty.
    pub fn delete(&self, rp: &RecordPath) -> io::Result<()> {
        let f = rp.file(&self.nodes);
        fs::remove_file(&f)?;
        if rp.iface.is_some() {
            if let Some(p) = f.parent() {
                let _ = fs::remove_dir(p);
            }
        }
        let _ = fs::remove_dir(self.nodes.join(&rp.iqn));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_int_is_strtoul_into_int() {
        assert_eq!(c_int("25"), 25);
        assert_eq!(c_int(" 7x"), 7);
        assert_eq!(c_int("abc"), 0);
        assert_eq!(c_int("-1"), -1);
        assert_eq!(c_int("-20"), -20);
    }

    #[test]
    fn disk_format_round_trips_and_omits_empty_values() {
        let mut r = NodeRecord::builtin("iqn.x:y", -1, "10.0.0.1", 3260);
        r.update("node.session.auth.authmethod", "CHAP").unwrap();
        r.update("node.session.auth.password", "s3cret").unwrap();
        let disk = r.to_disk();
        assert!(!disk.contains("<empty>"));
        assert!(!disk.contains("iface.net_ifacename"));
        assert!(disk.contains("node.session.auth.password = s3cret\n"));
        assert!(!disk.contains("password_length"));
        let back = NodeRecord::from_disk(&disk);
        assert_eq!(back.show(true), r.show(true));
        assert!(r.show(false).contains("node.session.auth.password = ********\n"));
        // every visible key appears exactly once on disk or is empty
        let n = KEYS.iter().filter(|k| !k.hidden).count();
        assert_eq!(r.show(false).lines().count(), n + 2);
    }

    #[test]
    fn update_errors_are_iscsiadm_messages() {
        let mut r = NodeRecord::builtin("iqn.x:y", 1, "10.0.0.1", 3260);
        assert_eq!(
            r.update("node.bogus", "1").unwrap_err().0,
            vec!["Cannot modify node.bogus. Invalid param name."]
        );
        assert!(r.update("node.name", "x").unwrap_err().0[0].contains("look up"));
        assert_eq!(
            r.update("node.startup", "sometimes").unwrap_err().0,
            vec![
                "unknown value format 'sometimes' for parameter name 'node.startup'",
                "Unknown parameter node.startup."
            ]
        );
        r.update("node.conn[0].timeo.noop_out_interval", "007").unwrap();
        assert_eq!(r.get("node.conn[0].timeo.noop_out_interval"), "7");
    }
}
