//! The kernel's side: sysfs sessions, connections, SCSI hosts and disks, and the udev links,
//! laid out as recorded in sysfs-dump-vm-lio.txt (Debian kernel 6.1, iscsi_tcp).
//!
//! Every attribute file holds its value followed by "\n", except `uevent`, which is empty
//! (the dump shows `uevent = ` with nothing after it). Session ids grow monotonically (the
//! recorded second login got session2 after session1 had logged out); SCSI host numbers and
//! sd names take the smallest free one (the recorded re-login got host2 and sda again).

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::records::NodeRecord;

pub const TRANSPORT_VERSION: &str = "2.0-870";

/// Kernel session states (`/sys/class/iscsi_session/*/state`).
pub const SESSION_STATES: &[&str] = &["LOGGED_IN", "FAILED", "FREE"];

fn write_attr(dir: &Path, name: &str, value: &str) -> io::Result<()> {
    fs::write(dir.join(name), format!("{value}\n"))
}

fn read_attr(dir: &Path, name: &str) -> Option<String> {
    fs::read_to_string(dir.join(name))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

fn link(target: &str, at: &Path) -> io::Result<()> {
    if let Some(p) = at.parent() {
        fs::create_dir_all(p)?;
    }
    let _ = fs::remove_file(at);
    symlink(target, at)
}

/// The basic layout of a host whose kernel has iscsi_tcp loaded.
pub fn init_layout(root: &Path) -> io::Result<()> {
    for d in [
        "sys/class/iscsi_session",
        "sys/class/iscsi_connection",
        "sys/class/iscsi_host",
        "sys/class/scsi_host",
        "sys/class/iscsi_transport/tcp",
        "sys/class/scsi_device",
        "sys/class/scsi_disk",
        "sys/class/scsi_generic",
        "sys/class/bsg",
        "sys/class/block",
        "sys/devices/platform",
        "sys/block",
        "sys/module/scsi_transport_iscsi",
        "dev/disk/by-path",
        "etc/iscsi/nodes",
        "etc/iscsi/send_targets",
        "log",
        "run",
        "bin",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    write_attr(
        &root.join("sys/module/scsi_transport_iscsi"),
        "version",
        TRANSPORT_VERSION,
    )
}

fn platform(root: &Path) -> PathBuf {
    root.join("sys/devices/platform")
}

fn host_dir(root: &Path, host: u32) -> PathBuf {
    platform(root).join(format!("host{host}"))
}

fn session_dir(root: &Path, host: u32, sid: u32) -> PathBuf {
    host_dir(root, host).join(format!("session{sid}"))
}

/// `<...>/session<N>/iscsi_session/session<N>`: the session's attribute directory.
fn session_attrs(root: &Path, host: u32, sid: u32) -> PathBuf {
    session_dir(root, host, sid).join(format!("iscsi_session/session{sid}"))
}

fn conn_attrs(root: &Path, host: u32, sid: u32) -> PathBuf {
    session_dir(root, host, sid).join(format!("connection{sid}:0/iscsi_connection/connection{sid}:0"))
}

fn lun_dir(root: &Path, host: u32, sid: u32, lun: u32) -> PathBuf {
    session_dir(root, host, sid).join(format!("target{host}:0:0/{host}:0:0:{lun}"))
}

/// sd names in kernel order: sda..sdz, sdaa..
pub fn disk_name(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    format!("sd{}", String::from_utf8_lossy(&s))
}

/// The smallest free sd index and its name.
fn next_disk(root: &Path, taken: &[String]) -> (usize, String) {
    (0..)
        .map(|i| (i, disk_name(i)))
        .find(|(_, d)| !root.join("dev").join(d).exists() && !taken.contains(d))
        .unwrap_or_else(|| (701, "sdzz".into()))
}

/// The `dev` (MAJ:MIN) of sd disk `index`, as drivers/scsi/sd.c (sd_probe) numbers them:
/// 16 minors a disk; majors 8, 65-71, 128-135 by bits 4-7 of the index (sda = 8:0,
/// sdb = 8:16, sdq = 65:0).
pub fn sd_dev(index: usize) -> String {
    let major = match (index & 0xf0) >> 4 {
        0 => 8,
        i @ 1..=7 => 64 + i,
        i => 128 + i - 8,
    };
    let minor = ((index & 0xf) << 4) | (index & 0xfff00);
    format!("{major}:{minor}")
}

/// sg (SCSI generic, major 21) indexes: the smallest free one from `first`.
fn next_sg(root: &Path, first: u32, taken: &[u32]) -> u32 {
    (first..)
        .find(|n| {
            !taken.contains(n)
                && fs::symlink_metadata(root.join(format!("sys/class/scsi_generic/sg{n}"))).is_err()
        })
        .unwrap_or(first)
}

/// An INQUIRY text field as sysfs shows it (`%.Ns`): padded with spaces to `width`.
fn inquiry_field(v: &str, width: usize) -> String {
    let v: String = v.chars().take(width).collect();
    format!("{v:<width$}")
}

/// The class devices the kernel hangs under a SCSI device `H:0:0:L`, each with its
/// `/sys/class/<class>/<name>` link. Teardown removes the links of whatever is there.
const LUN_CLASSES: &[&str] = &["block", "bsg", "scsi_device", "scsi_disk", "scsi_generic"];

/// One class device under a LUN dir: `<ld>/<class>/<name>` with its `device` link back to
/// the LUN and `/sys/class/<class>/<name>` pointing at it.
fn class_dev(root: &Path, ld: &Path, rel: &str, class: &str, name: &str) -> io::Result<PathBuf> {
    let d = ld.join(class).join(name);
    fs::create_dir_all(&d)?;
    fs::write(d.join("uevent"), "")?;
    let lun = ld.file_name().unwrap_or_default().to_string_lossy();
    link(&format!("../../../{lun}"), &d.join("device"))?;
    link(
        &format!("../../{rel}/{class}/{name}"),
        &root.join("sys/class").join(class).join(name),
    )?;
    Ok(d)
}

fn next_host(root: &Path, first: u32) -> u32 {
    (first..).find(|h| !host_dir(root, *h).exists()).unwrap_or(first)
}

fn next_sid(root: &Path) -> io::Result<u32> {
    let p = root.join("run/last-sid");
    let last: u32 = fs::read_to_string(&p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    // Never reuse an id still present (a test may have copied a tree).
    let mut sid = last.saturating_add(1);
    while root
        .join(format!("sys/class/iscsi_session/session{sid}"))
        .exists()
    {
        sid = sid.saturating_add(1);
    }
    fs::create_dir_all(root.join("run"))?;
    fs::write(&p, format!("{sid}\n"))?;
    Ok(sid)
}

/// An address as the kernel prints a connection's (libiscsi `iscsi_conn_get_addr_param`):
/// `%pI4`, or `%pI6`, which writes all eight groups with leading zeros, uncompressed.
pub fn kernel_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|g| format!("{g:04x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// What a login hands the kernel.
pub struct NewSession<'a> {
    pub iqn: &'a str,
    pub tpgt: i32,
    pub address: &'a str,
    pub port: u16,
    pub initiator: &'a str,
    pub local: SocketAddr,
    /// The target's end of the connection: the kernel's current `address` and `port`
    /// (numeric, whatever name the record gave as `persistent_address`).
    pub peer: SocketAddr,
    pub record: &'a NodeRecord,
    pub luns: u32,
    pub controller_lun0: bool,
    pub max_xmit_dlength: u32,
    pub creator: i32,
    pub first_host: u32,
    pub first_sg: u32,
    /// INQUIRY vendor and model of the target's disks.
    pub vendor: &'a str,
    pub model: &'a str,
    /// Partitions on each disk (sdX1..sdXN with their udev links).
    pub partitions: u32,
    /// `device/wwid` of each disk, in disk order (missing: no wwid file).
    pub wwids: &'a [String],
}

/// Creates a LOGGED_IN session with its connection, host, disks and udev links; returns
/// the session id.
pub fn create_session(root: &Path, ns: &NewSession) -> io::Result<u32> {
    let sid = next_sid(root)?;
    let host = next_host(root, ns.first_host);
    let rec = ns.record;
    let chap = rec.get("node.session.auth.authmethod") == "CHAP";
    let or_null = |v: &str| {
        if chap && !v.is_empty() {
            v.to_string()
        } else {
            "(null)".to_string()
        }
    };

    // SCSI host and iSCSI host
    let hd = host_dir(root, host);
    let ih = hd.join(format!("iscsi_host/host{host}"));
    fs::create_dir_all(&ih)?;
    write_attr(&ih, "hwaddress", "(null)")?;
    write_attr(&ih, "initiatorname", "(null)")?;
    write_attr(&ih, "ipaddress", &kernel_ip(ns.local.ip()))?;
    write_attr(&ih, "netdev", "(null)")?;
    fs::write(ih.join("uevent"), "")?;
    let sh = hd.join(format!("scsi_host/host{host}"));
    fs::create_dir_all(&sh)?;
    write_attr(&sh, "state", "running")?;
    fs::write(sh.join("uevent"), "")?;
    link(
        &format!("../../devices/platform/host{host}/iscsi_host/host{host}"),
        &root.join(format!("sys/class/iscsi_host/host{host}")),
    )?;
    link(
        &format!("../../devices/platform/host{host}/scsi_host/host{host}"),
        &root.join(format!("sys/class/scsi_host/host{host}")),
    )?;

    // session
    let sa = session_attrs(root, host, sid);
    fs::create_dir_all(&sa)?;
    let attrs: Vec<(&str, String)> = vec![
        (
            "abort_tmo",
            rec.int("node.session.err_timeo.abort_timeout").to_string(),
        ),
        ("creator", ns.creator.to_string()),
        ("data_pdu_in_order", "0".into()),
        ("data_seq_in_order", "0".into()),
        ("erl", "0".into()),
        (
            "fast_abort",
            if rec.get("node.session.iscsi.FastAbort") == "Yes" {
                "1"
            } else {
                "0"
            }
            .into(),
        ),
        ("first_burst_len", "65536".into()),
        ("ifacename", rec.iface().to_string()),
        ("immediate_data", "1".into()),
        ("initial_r2t", "1".into()),
        ("initiatorname", ns.initiator.to_string()),
        (
            "lu_reset_tmo",
            rec.int("node.session.err_timeo.lu_reset_timeout").to_string(),
        ),
        ("max_burst_len", "262144".into()),
        ("max_outstanding_r2t", "1".into()),
        ("password", or_null(rec.get("node.session.auth.password"))),
        ("password_in", or_null(rec.get("node.session.auth.password_in"))),
        (
            "recovery_tmo",
            rec.int("node.session.timeo.replacement_timeout").to_string(),
        ),
        ("state", "LOGGED_IN".into()),
        ("target_id", "0".into()),
        ("target_state", "SCANNED".into()),
        ("targetname", ns.iqn.to_string()),
        (
            "tgt_reset_tmo",
            rec.int("node.session.err_timeo.tgt_reset_timeout").to_string(),
        ),
        ("tpgt", ns.tpgt.to_string()),
        ("username", or_null(rec.get("node.session.auth.username"))),
        ("username_in", or_null(rec.get("node.session.auth.username_in"))),
    ];
    for (n, v) in &attrs {
        write_attr(&sa, n, v)?;
    }
    fs::write(sa.join("uevent"), "")?;
    link(&format!("../../../session{sid}"), &sa.join("device"))?;
    link(
        &format!("../../devices/platform/host{host}/session{sid}/iscsi_session/session{sid}"),
        &root.join(format!("sys/class/iscsi_session/session{sid}")),
    )?;

    // connection
    let ca = conn_attrs(root, host, sid);
    fs::create_dir_all(&ca)?;
    let cattrs: Vec<(&str, String)> = vec![
        ("address", kernel_ip(ns.peer.ip())),
        ("data_digest", "0".into()),
        ("exp_statsn", (112_844_265u64 + u64::from(sid) * 7919).to_string()),
        ("header_digest", "0".into()),
        ("local_port", ns.local.port().to_string()),
        ("max_recv_dlength", "262144".into()),
        ("max_xmit_dlength", ns.max_xmit_dlength.to_string()),
        ("persistent_address", ns.address.to_string()),
        ("persistent_port", ns.port.to_string()),
        (
            "ping_tmo",
            rec.int("node.conn[0].timeo.noop_out_timeout").to_string(),
        ),
        ("port", ns.peer.port().to_string()),
        (
            "recv_tmo",
            rec.int("node.conn[0].timeo.noop_out_interval").to_string(),
        ),
        ("state", "up".into()),
    ];
    for (n, v) in &cattrs {
        write_attr(&ca, n, v)?;
    }
    fs::write(ca.join("uevent"), "")?;
    link(&format!("../../../connection{sid}:0"), &ca.join("device"))?;
    link(
        &format!(
            "../../devices/platform/host{host}/session{sid}/connection{sid}:0/iscsi_connection/connection{sid}:0"
        ),
        &root.join(format!("sys/class/iscsi_connection/connection{sid}:0")),
    )?;

    // SCSI devices, disks and udev links. Every LUN is a SCSI device with bsg,
    // scsi_device and scsi_generic (sgN); a disk also has scsi_disk and block/sdX
    // (sysfs-session-logged-in.txt). tgt's LUN 0 is a RAID controller: no sd binds to it.
    let mut taken = Vec::new();
    let mut sgs = Vec::new();
    let first_disk_lun = u32::from(ns.controller_lun0);
    for lun in 0..first_disk_lun + ns.luns {
        let controller = lun < first_disk_lun;
        let ld = lun_dir(root, host, sid, lun);
        let rel = format!("devices/platform/host{host}/session{sid}/target{host}:0:0/{host}:0:0:{lun}");
        let hctl = format!("{host}:0:0:{lun}");
        fs::create_dir_all(&ld)?;
        write_attr(&ld, "state", "running")?;
        write_attr(&ld, "timeout", "30")?;
        let (vendor, model) = if controller {
            ("IET", "Controller")
        } else {
            (ns.vendor, ns.model)
        };
        write_attr(&ld, "vendor", &inquiry_field(vendor, 8))?;
        write_attr(&ld, "model", &inquiry_field(model, 16))?;
        class_dev(root, &ld, &rel, "bsg", &hctl)?;
        class_dev(root, &ld, &rel, "scsi_device", &hctl)?;
        let sg = next_sg(root, ns.first_sg, &sgs);
        sgs.push(sg);
        let g = class_dev(root, &ld, &rel, "scsi_generic", &format!("sg{sg}"))?;
        write_attr(&g, "dev", &format!("21:{sg}"))?;
        if controller {
            continue;
        }
        class_dev(root, &ld, &rel, "scsi_disk", &hctl)?;
        let (index, disk) = next_disk(root, &taken);
        taken.push(disk.clone());
        let bd = class_dev(root, &ld, &rel, "block", &disk)?;
        write_attr(&bd, "size", "524288")?;
        write_attr(&bd, "ro", "0")?;
        write_attr(&bd, "dev", &sd_dev(index))?;
        link(
            &format!("../{rel}/block/{disk}"),
            &root.join("sys/block").join(&disk),
        )?;
        fs::create_dir_all(root.join("dev"))?;
        fs::write(root.join("dev").join(&disk), "")?;
        let by_path = by_path_name(ns.address, ns.port, ns.iqn, lun);
        link(
            &format!("../../{disk}"),
            &root.join("dev/disk/by-path").join(&by_path),
        )?;
        if let Some(w) = ns.wwids.get((lun - first_disk_lun) as usize) {
            write_attr(&ld, "wwid", w)?;
        }
        for n in 1..=ns.partitions {
            add_partition(root, &bd, &disk, index, n, &by_path)?;
        }
    }
    Ok(sid)
}

/// A partition of a disk as the kernel and udev show it: `<disk dir>/sdXN` (`partition`,
/// `dev`, `start`, `size`, `ro`), `/sys/class/block/sdXN`, `/dev/sdXN` and
/// `/dev/disk/by-path/<disk's by-path name>-partN`.
fn add_partition(
    root: &Path,
    disk_dir: &Path,
    disk: &str,
    index: usize,
    n: u32,
    by_path: &str,
) -> io::Result<()> {
    let name = format!("{disk}{n}");
    let pd = disk_dir.join(&name);
    fs::create_dir_all(&pd)?;
    fs::write(pd.join("uevent"), "")?;
    write_attr(&pd, "partition", &n.to_string())?;
    let (major, minor) = sd_dev(index)
        .split_once(':')
        .map(|(a, b)| (a.to_string(), b.parse::<u32>().unwrap_or(0)))
        .unwrap_or_default();
    write_attr(&pd, "dev", &format!("{major}:{}", minor + n))?;
    write_attr(&pd, "start", &(2048 * u64::from(n)).to_string())?;
    write_attr(&pd, "size", "522240")?;
    write_attr(&pd, "ro", "0")?;
    // /sys/class/block/sdXN -> ../../devices/.../block/sdX/sdXN
    let rel = disk_dir
        .strip_prefix(root.join("sys"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    link(
        &format!("../../{rel}/{name}"),
        &root.join("sys/class/block").join(&name),
    )?;
    fs::write(root.join("dev").join(&name), "")?;
    link(
        &format!("../../{name}"),
        &root.join("dev/disk/by-path").join(format!("{by_path}-part{n}")),
    )
}

/// Gives the disk of LUN `lun` of session `sid` `n` partitions (as if partitioned now and
/// re-read), when it has none yet. Returns the disk's name.
pub fn partition_disk(root: &Path, sid: u32, lun: u32, n: u32) -> anyhow::Result<String> {
    let s = read_session(root, sid).ok_or_else(|| anyhow::anyhow!("no session {sid}"))?;
    let d = s
        .devices
        .iter()
        .find(|d| d.lun == lun)
        .ok_or_else(|| anyhow::anyhow!("session {sid} has no LUN {lun}"))?;
    let disk = d
        .disk
        .clone()
        .ok_or_else(|| anyhow::anyhow!("LUN {lun} of session {sid} is not a disk"))?;
    let bd = lun_dir(root, s.host, sid, lun).join("block").join(&disk);
    let index = (0..)
        .take(18_278)
        .find(|i| disk_name(*i) == disk)
        .ok_or_else(|| anyhow::anyhow!("odd disk name {disk}"))?;
    let by_path = by_path_name(&s.persistent_address, s.persistent_port, &s.iqn, lun);
    for k in 1..=n {
        if !bd.join(format!("{disk}{k}")).exists() {
            add_partition(root, &bd, &disk, index, k, &by_path)?;
        }
    }
    Ok(disk)
}

/// Writes the `wwid` of LUN `lun` of session `sid`.
pub fn set_wwid(root: &Path, sid: u32, lun: u32, wwid: &str) -> anyhow::Result<()> {
    let s = read_session(root, sid).ok_or_else(|| anyhow::anyhow!("no session {sid}"))?;
    write_attr(&lun_dir(root, s.host, sid, lun), "wwid", wwid)?;
    Ok(())
}

/// udev's path_id for an iSCSI disk: `ip-<persistent_address>:<persistent_port>-iscsi-
/// <targetname>-lun-<lun>`; the address is used raw, so IPv6 has no brackets
/// (systemd src/udev/udev-builtin-path_id.c, handle_scsi_iscsi, format_lun_number).
pub fn by_path_name(addr: &str, port: u16, iqn: &str, lun: u32) -> String {
    let lun = if lun < 256 {
        lun.to_string()
    } else {
        format!("0x{:04x}{:04x}00000000", lun & 0xffff, (lun >> 16) & 0xffff)
    };
    format!("ip-{addr}:{port}-iscsi-{iqn}-lun-{lun}")
}

/// One LUN of a session.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Device {
    pub host: u32,
    pub lun: u32,
    pub disk: Option<String>,
    pub state: String,
}

/// A session as sysfs shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Session {
    pub sid: u32,
    pub host: u32,
    pub iqn: String,
    pub tpgt: i32,
    /// "addr:port" (IPv6 in brackets) of the persistent portal.
    pub portal: String,
    pub address: String,
    pub port: u16,
    pub persistent_address: String,
    pub persistent_port: u16,
    pub state: String,
    pub conn_state: String,
    pub recovery_tmo: i32,
    pub recv_tmo: i32,
    pub ping_tmo: i32,
    pub abort_tmo: i32,
    pub lu_reset_tmo: i32,
    pub tgt_reset_tmo: i32,
    pub initiatorname: String,
    pub ifacename: String,
    pub username: String,
    pub password: String,
    pub username_in: String,
    pub password_in: String,
    pub creator: i32,
    pub local_address: String,
    pub host_state: String,
    pub first_burst_len: i32,
    pub max_burst_len: i32,
    pub immediate_data: i32,
    pub initial_r2t: i32,
    pub max_outstanding_r2t: i32,
    pub header_digest: i32,
    pub data_digest: i32,
    pub max_recv_dlength: i32,
    pub max_xmit_dlength: i32,
    pub devices: Vec<Device>,
}

fn num(dir: &Path, name: &str) -> i32 {
    read_attr(dir, name)
        .map(|s| crate::records::c_int(&s))
        .unwrap_or(-1)
}

/// "(null)" in sysfs reads as empty in open-iscsi.
fn text(dir: &Path, name: &str) -> String {
    match read_attr(dir, name) {
        Some(s) if s != "(null)" => s,
        _ => String::new(),
    }
}

/// Finds the host number of a session through its class link.
fn host_of(root: &Path, sid: u32) -> Option<u32> {
    let l = fs::read_link(root.join(format!("sys/class/iscsi_session/session{sid}"))).ok()?;
    let s = l.to_string_lossy();
    let h = s.split('/').find_map(|c| c.strip_prefix("host"))?;
    h.parse().ok()
}

pub fn read_session(root: &Path, sid: u32) -> Option<Session> {
    let sa = root.join(format!("sys/class/iscsi_session/session{sid}"));
    let targetname = read_attr(&sa, "targetname")?;
    let host = host_of(root, sid)?;
    let ca = root.join(format!("sys/class/iscsi_connection/connection{sid}:0"));
    let mut persistent_address = text(&ca, "persistent_address");
    let mut address = text(&ca, "address");
    if persistent_address.is_empty() {
        persistent_address = address.clone();
    }
    if address.is_empty() {
        address = persistent_address.clone();
    }
    let mut pport = num(&ca, "persistent_port");
    let mut port = num(&ca, "port");
    if pport < 0 {
        pport = port;
    }
    if port < 0 {
        port = pport;
    }
    let ih = root.join(format!("sys/class/iscsi_host/host{host}"));
    let sh = root.join(format!("sys/class/scsi_host/host{host}"));
    let mut devices = Vec::new();
    let tdir = session_dir(root, host, sid).join(format!("target{host}:0:0"));
    if let Ok(rd) = fs::read_dir(&tdir) {
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(lun) = name.rsplit(':').next().and_then(|l| l.parse().ok()) else {
                continue;
            };
            let disk = fs::read_dir(e.path().join("block"))
                .ok()
                .and_then(|mut rd| rd.next())
                .and_then(Result::ok)
                .map(|d| d.file_name().to_string_lossy().into_owned());
            devices.push(Device {
                host,
                lun,
                disk,
                state: read_attr(&e.path(), "state").unwrap_or_default(),
            });
        }
    }
    devices.sort_by_key(|d| d.lun);
    Some(Session {
        sid,
        host,
        iqn: targetname,
        tpgt: num(&sa, "tpgt"),
        portal: crate::world::join_portal(&persistent_address, pport as u16),
        address,
        port: port as u16,
        persistent_address,
        persistent_port: pport as u16,
        state: read_attr(&sa, "state").unwrap_or_default(),
        conn_state: read_attr(&ca, "state").unwrap_or_default(),
        recovery_tmo: num(&sa, "recovery_tmo"),
        recv_tmo: num(&ca, "recv_tmo"),
        ping_tmo: num(&ca, "ping_tmo"),
        abort_tmo: num(&sa, "abort_tmo"),
        lu_reset_tmo: num(&sa, "lu_reset_tmo"),
        tgt_reset_tmo: num(&sa, "tgt_reset_tmo"),
        initiatorname: text(&sa, "initiatorname"),
        ifacename: text(&sa, "ifacename"),
        username: text(&sa, "username"),
        password: text(&sa, "password"),
        username_in: text(&sa, "username_in"),
        password_in: text(&sa, "password_in"),
        creator: num(&sa, "creator"),
        local_address: text(&ih, "ipaddress"),
        host_state: read_attr(&sh, "state").unwrap_or_default(),
        first_burst_len: num(&sa, "first_burst_len"),
        max_burst_len: num(&sa, "max_burst_len"),
        immediate_data: num(&sa, "immediate_data"),
        initial_r2t: num(&sa, "initial_r2t"),
        max_outstanding_r2t: num(&sa, "max_outstanding_r2t"),
        header_digest: num(&ca, "header_digest"),
        data_digest: num(&ca, "data_digest"),
        max_recv_dlength: num(&ca, "max_recv_dlength"),
        max_xmit_dlength: num(&ca, "max_xmit_dlength"),
        devices,
    })
}

/// Session ids in the order libopeniscsiusr lists them: scandir of
/// /sys/class/iscsi_session with alphasort, so session10 comes before session2.
pub fn session_ids(root: &Path) -> Vec<u32> {
    let mut names: Vec<String> = fs::read_dir(root.join("sys/class/iscsi_session"))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("session"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|n| n.strip_prefix("session")?.parse().ok())
        .collect()
}

pub fn sessions(root: &Path) -> Vec<Session> {
    session_ids(root)
        .into_iter()
        .filter_map(|sid| read_session(root, sid))
        .collect()
}

/// Sets the kernel session state and keeps the connection and disks consistent with it,
/// as failure-timeline.txt shows: FAILED = conn failed + disks blocked; FREE = conn failed
/// + disks transport-offline; LOGGED_IN = conn up + disks running.
pub fn set_state(root: &Path, sid: u32, state: &str) -> anyhow::Result<()> {
    let (conn, dev) = match state {
        "LOGGED_IN" => ("up", "running"),
        "FAILED" => ("failed", "blocked"),
        "FREE" => ("failed", "transport-offline"),
        other => anyhow::bail!("unknown session state {other:?} (LOGGED_IN, FAILED or FREE)"),
    };
    let s = read_session(root, sid).ok_or_else(|| anyhow::anyhow!("no session {sid}"))?;
    write_attr(&session_attrs(root, s.host, sid), "state", state)?;
    write_attr(&conn_attrs(root, s.host, sid), "state", conn)?;
    for d in &s.devices {
        write_attr(&lun_dir(root, s.host, sid, d.lun), "state", dev)?;
    }
    Ok(())
}

/// Tears a session down: host, session, disks, class links and udev links.
pub fn remove_session(root: &Path, sid: u32) -> io::Result<()> {
    let Some(s) = read_session(root, sid) else {
        return Ok(());
    };
    for d in &s.devices {
        let by_path = by_path_name(&s.persistent_address, s.persistent_port, &s.iqn, d.lun);
        let ld = lun_dir(root, s.host, sid, d.lun);
        if let Some(disk) = &d.disk {
            let _ = fs::remove_file(root.join("sys/block").join(disk));
            let _ = fs::remove_file(root.join("dev").join(disk));
            // its partitions: class links, device nodes, udev links
            for e in fs::read_dir(ld.join("block").join(disk))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(n) = name.strip_prefix(disk.as_str()).filter(|n| !n.is_empty()) else {
                    continue;
                };
                let _ = fs::remove_file(root.join("sys/class/block").join(&name));
                let _ = fs::remove_file(root.join("dev").join(&name));
                let _ = fs::remove_file(root.join("dev/disk/by-path").join(format!("{by_path}-part{n}")));
            }
        }
        let _ = fs::remove_file(root.join("dev/disk/by-path").join(&by_path));
        for class in LUN_CLASSES {
            for e in fs::read_dir(ld.join(class)).into_iter().flatten().flatten() {
                let _ = fs::remove_file(root.join("sys/class").join(class).join(e.file_name()));
            }
        }
    }
    let _ = fs::remove_file(root.join(format!("sys/class/iscsi_session/session{sid}")));
    let _ = fs::remove_file(root.join(format!("sys/class/iscsi_connection/connection{sid}:0")));
    let _ = fs::remove_file(root.join(format!("sys/class/iscsi_host/host{}", s.host)));
    let _ = fs::remove_file(root.join(format!("sys/class/scsi_host/host{}", s.host)));
    fs::remove_dir_all(host_dir(root, s.host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_follow_the_kernel() {
        assert_eq!(disk_name(0), "sda");
        assert_eq!(disk_name(25), "sdz");
        assert_eq!(disk_name(26), "sdaa");
        assert_eq!(disk_name(27), "sdab");
        assert_eq!(disk_name(52), "sdba");
    }

    #[test]
    fn sd_numbers_follow_the_kernel() {
        assert_eq!(sd_dev(0), "8:0");
        assert_eq!(sd_dev(1), "8:16");
        assert_eq!(sd_dev(15), "8:240");
        assert_eq!(sd_dev(16), "65:0");
        assert_eq!(sd_dev(127), "71:240");
        assert_eq!(sd_dev(128), "128:0");
        assert_eq!(sd_dev(256), "8:256");
    }

    #[test]
    fn inquiry_fields_are_space_padded() {
        assert_eq!(inquiry_field("LIO-ORG", 8), "LIO-ORG ");
        assert_eq!(inquiry_field("disk1", 16), "disk1           ");
        assert_eq!(
            inquiry_field("a-very-long-backstore-name", 16),
            "a-very-long-back"
        );
    }

    #[test]
    fn by_path_names() {
        assert_eq!(
            by_path_name("127.0.0.1", 3260, "iqn.2024-01.lab.local:vm.disk1", 0),
            "ip-127.0.0.1:3260-iscsi-iqn.2024-01.lab.local:vm.disk1-lun-0"
        );
        assert_eq!(
            by_path_name("::1", 3260, "iqn.x:y", 2),
            "ip-::1:3260-iscsi-iqn.x:y-lun-2"
        );
    }
}
