//! `iscsi-mirror`: the OCF resource agent `ocf:san:iscsi-mirror` and its admin CLI.

fn main() {
    let code = iscsi_mirror::entry(std::env::args_os().collect());
    std::process::exit(code);
}
