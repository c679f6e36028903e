//! The control CLI for shell lab scripts: `iscsi-simhost --root DIR <command>`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::{Fault, SimHost, Target};

pub const USAGE: &str = "\
usage: iscsi-simhost [--root DIR] <command>   (DIR defaults to $ISCSI_SIM_ROOT)
commands:
  init [--binary PATH]                 make DIR a sim root; bin/iscsiadm -> PATH
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
        _ => bail!("unknown command or arguments: {}\n{USAGE}", rest.join(" ")),
    }
    Ok(())
}
