//! The control CLI for shell lab scripts: `iscsi-simhost --root DIR <command>`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::{Fault, Leaf, SimHost, Suspend, Target};

pub const USAGE: &str = "\
usage: iscsi-simhost [--root DIR] <command>   (DIR defaults to $ISCSI_SIM_ROOT)
commands:
  init [--binary PATH]                 make DIR a sim root; bin/iscsiadm, bin/zpool -> PATH
                                       (default: this executable)
  add-target IQN PORTAL[,PORTAL...] [--luns N] [--tpgt N] [--tgt]
                                       export IQN at the portals (addr:port, [v6]:port);
                                       --tgt: as tgt does (LUN 0 controller, disks 1..)
  remove-target IQN
  chap IQN USERNAME PASSWORD           require CHAP for logins to IQN
  initiator-name NAME                  the initiator's IQN
  unreachable-delay MS                 how long a login/discovery to a dead portal takes
  fault hang OP                        OP: login logout session node discovery any
  fault auth-fail IQN | fault login-refused IQN | fault iscsid-down | fault clear
  session-state SID STATE              STATE: LOGGED_IN FAILED FREE
  sessions                             the sysfs sessions as JSON
  node-record IQN PORTAL               a node record as JSON (null if none)
  invocations                          log/iscsiadm.log as JSON
  world                                sim.json
  lun-wwid SID LUN WWID                device/wwid of a session's LUN (naa.6001405...)
the ZFS side (bin/zpool):
  pool-create POOL LEAF...             mirror-0 of the leaves, imported, healthy; prints
                                       the leaf paths. LEAF: /dev/NAME or /dev/disk/by-*/X
                                       (a local device made under DIR), session:SID[:LUN]
                                       (partition 1 of the session's LUN, by its by-path
                                       name), path:/P (taken as is)
  pool-remove POOL
  pool-fault POOL LEAF                 the storage link cut, as the ZFS version showed it:
                                       2.3 FAULTED too many errors, 2.1 UNAVAIL (pool
                                       DEGRADED); 3 read / 71 write errors
  pool-leaf POOL LEAF state STATE      ONLINE DEGRADED FAULTED OFFLINE REMOVED UNAVAIL
  pool-leaf POOL LEAF errors R W C     the error counters
  pool-leaf POOL LEAF missed BYTES     what a resilver will copy to it
  pool-resilver POOL start|PERCENT|finish
  pool-export POOL | pool-import POOL
  pool-suspend POOL io|mmp | pool-resume POOL
  pool-prop POOL NAME VALUE            e.g. multihost on
  zfs-version 2.3|2.1                  2.1: no -j, the older scan lines (from source)
  zfs-clock SECS|real                  time(NULL) for the simulated zpool
  pools                                the pools as JSON
  zpool-invocations                    log/zpool.log as JSON
";

/// Entry point of the `iscsi-simhost` personality; returns the exit code.
pub fn main(argv: Vec<String>) -> i32 {
    match run(&argv[1.min(argv.len())..]) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("iscsi-simhost: {e:#}");
            2
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let mut root: Option<PathBuf> = std::env::var_os("ISCSI_SIM_ROOT").map(PathBuf::from);
    let mut rest: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--root" => {
                i += 1;
                root = Some(PathBuf::from(
                    args.get(i).ok_or_else(|| anyhow!("--root needs a directory"))?,
                ));
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            a => rest.push(a),
        }
        i += 1;
    }
    let Some((cmd, cargs)) = rest.split_first() else {
        bail!("no command\n{USAGE}");
    };
    let root = root.ok_or_else(|| anyhow!("no sim root: pass --root DIR or set ISCSI_SIM_ROOT"))?;
    if *cmd == "init" {
        let binary = match cargs {
            ["--binary", p] => PathBuf::from(p),
            [] => std::env::current_exe()?,
            _ => bail!("usage: init [--binary PATH]"),
        };
        let h = SimHost::create_with_binary(&root, binary)?;
        println!("{}", h.root().display());
        return Ok(());
    }
    let host = SimHost::open(&root)?;
    match (*cmd, cargs) {
        ("add-target", [iqn, portals, opts @ ..]) => {
            let ps: Vec<&str> = portals.split(',').collect();
            let mut t = Target::lio(iqn, &ps, 1);
            let mut it = opts.iter();
            while let Some(o) = it.next() {
                if *o == "--tgt" {
                    t = Target {
                        luns: t.luns,
                        tpgt: t.tpgt,
                        ..Target::tgt(iqn, &ps, 1)
                    };
                    continue;
                }
                let v = it.next().ok_or_else(|| anyhow!("{o} needs a value"))?;
                match *o {
                    "--luns" => t.luns = v.parse().context("--luns")?,
                    "--tpgt" => t.tpgt = v.parse().context("--tpgt")?,
                    _ => bail!("unknown option {o}"),
                }
            }
            host.put_target(t)?;
        }
        ("remove-target", [iqn]) => host.remove_target(iqn)?,
        ("chap", [iqn, user, pass]) => host.set_chap(iqn, user, pass)?,
        ("initiator-name", [name]) => host.set_initiator_name(name)?,
        ("unreachable-delay", [ms]) => host.set_unreachable_delay_ms(ms.parse()?)?,
        ("fault", ["hang", op]) => host.set_fault(Fault::Hang(op.to_string()))?,
        ("fault", ["auth-fail", iqn]) => host.set_fault(Fault::AuthFail(iqn.to_string()))?,
        ("fault", ["login-refused", iqn]) => host.set_fault(Fault::LoginRefused(iqn.to_string()))?,
        ("fault", ["login-busy", iqn]) => host.set_fault(Fault::LoginBusy(iqn.to_string()))?,
        ("fault", ["iscsid-down"]) => host.set_fault(Fault::IscsidDown)?,
        ("fault", ["clear"]) => host.clear_faults()?,
        ("session-state", [sid, state]) => host.set_session_state(sid.parse().context("SID")?, state)?,
        ("sessions", []) => println!("{}", serde_json::to_string_pretty(&host.sessions())?),
        ("node-record", [iqn, portal]) => println!(
            "{}",
            serde_json::to_string_pretty(&host.node_record(iqn, portal))?
        ),
        ("invocations", []) => {
            println!("{}", serde_json::to_string_pretty(&host.invocations())?)
        }
        ("world", []) => println!("{}", serde_json::to_string_pretty(&host.world()?)?),
        ("lun-wwid", [sid, lun, wwid]) => {
            host.set_lun_wwid(sid.parse().context("SID")?, lun.parse().context("LUN")?, wwid)?
        }
        ("pool-create", [pool, leaves @ ..]) if !leaves.is_empty() => {
            let mut ls = Vec::new();
            for l in leaves {
                ls.push(if let Some(s) = l.strip_prefix("session:") {
                    let (sid, lun) = s.split_once(':').unwrap_or((s, "0"));
                    Leaf::Remote {
                        sid: sid.parse().context("SID")?,
                        lun: lun.parse().context("LUN")?,
                    }
                } else if let Some(p) = l.strip_prefix("path:") {
                    Leaf::Path(p.to_string())
                } else {
                    Leaf::Local(l.to_string())
                });
            }
            for p in host.create_pool(pool, &ls)? {
                println!("{p}");
            }
        }
        ("pool-remove", [pool]) => host.remove_pool(pool)?,
        ("pool-fault", [pool, leaf]) => host.fault_leaf(pool, leaf)?,
        ("pool-leaf", [pool, leaf, "state", state]) => host.set_leaf_state(pool, leaf, state)?,
        ("pool-leaf", [pool, leaf, "errors", r, w, c]) => {
            host.set_leaf_errors(pool, leaf, r.parse()?, w.parse()?, c.parse()?)?
        }
        ("pool-leaf", [pool, leaf, "missed", bytes]) => {
            let bytes: u64 = bytes.parse()?;
            host.update_pool(pool, |p, _| {
                p.find_mut(leaf)
                    .ok_or_else(|| anyhow!("no vdev {leaf} in {pool}"))?
                    .missed = bytes;
                Ok(())
            })?
        }
        ("pool-resilver", [pool, "start"]) => {
            if !host.start_resilver(pool)? {
                bail!("no leaf of {pool} missed anything: no resilver");
            }
        }
        ("pool-resilver", [pool, "finish"]) => host.finish_resilver(pool)?,
        ("pool-resilver", [pool, pct]) => host.advance_resilver(pool, pct.parse().context("PERCENT")?)?,
        ("pool-export", [pool]) => host.set_imported(pool, false)?,
        ("pool-import", [pool]) => host.set_imported(pool, true)?,
        ("pool-suspend", [pool, why]) => host.suspend_pool(
            pool,
            Some(match *why {
                "io" => Suspend::Io,
                "mmp" => Suspend::Mmp,
                other => bail!("suspend why {other:?}: io or mmp"),
            }),
        )?,
        ("pool-resume", [pool]) => host.suspend_pool(pool, None)?,
        ("pool-prop", [pool, name, value]) => host.set_pool_prop(pool, name, value)?,
        ("zfs-version", [v]) => host.set_zfs_version(v)?,
        ("zfs-clock", ["real"]) => host.set_zfs_clock(None)?,
        ("zfs-clock", [secs]) => host.set_zfs_clock(Some(secs.parse().context("SECS")?))?,
        ("pools", []) => println!("{}", serde_json::to_string_pretty(&host.world()?.zfs.pools)?),
        ("zpool-invocations", []) => {
            println!("{}", serde_json::to_string_pretty(&host.zpool_invocations())?)
        }
        _ => bail!("unknown command or arguments: {}\n{USAGE}", rest.join(" ")),
    }
    Ok(())
}
