//! Multi-call binary: as `iscsiadm` (argv[0]'s basename, usually through the symlink
//! `$SIM/bin/iscsiadm`) it imitates open-iscsi's iscsiadm, as `zpool` (`$SIM/bin/zpool`)
//! ZFS's zpool; under any other name it is the control CLI of the simulated host.

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let base = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_default();
    let rc = match base.as_str() {
        "iscsiadm" => iscsi_simhost::iscsiadm::main(argv),
        "zpool" => iscsi_simhost::zpool::main(argv),
        _ => iscsi_simhost::control::main(argv),
    };
    std::process::exit(rc);
}
