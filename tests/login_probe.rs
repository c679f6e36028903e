//! The iSCSI login-phase probe against a real target: tgt's userspace tgtd on loopback.
//! What it answers for an open target, a missing one, an ACL that does not admit us, and
//! a target that requires CHAP. (LIO's answers are checked in the VM: see docs/doctor.md.)

mod util;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::iscsi::probe::{self, Outcome};
use util::tgt::Tgt;

const IQN: &str = "iqn.2025-01.lab.home:storage-b";
const ME: &str = "iqn.1993-08.org.debian:01:doctor-test";

fn ask(t: &Tgt, target: &str, initiator: &str) -> Outcome {
    let addr: SocketAddr = t.spec().parse().unwrap();
    probe::probe(
        addr,
        initiator,
        target,
        probe::random_isid([9, 8, 7]),
        Deadline::after(Duration::from_secs(5)),
    )
}

fn status(o: &Outcome) -> (u8, u8, Option<String>) {
    match o {
        Outcome::Answered {
            status_class,
            status_detail,
            auth_method,
            ..
        } => (*status_class, *status_detail, auth_method.clone()),
        other => panic!("no answer from tgtd: {other:?}"),
    }
}

#[test]
fn tgtd_answers_the_probe_for_each_case() {
    let t = Tgt::start("127.0.0.1");
    t.add_target(1, IQN);
    // Open to all, no CHAP: success, and it picks None from "None,CHAP".
    let o = ask(&t, IQN, ME);
    assert_eq!(status(&o), (0, 0, Some("None".into())), "{o:?}");
    // A target this portal does not export.
    let o = ask(&t, "iqn.2025-01.lab.home:nobody", ME);
    let (class, detail, _) = status(&o);
    assert_eq!(
        probe::status_meaning(class, detail).0,
        "target_not_found",
        "{o:?}"
    );
    // An ACL by initiator name that does not list us: tgt hides the target from an
    // initiator it does not admit (02/03, as for a missing target; LIO says 02/02).
    t.only_initiator(1, "iqn.1993-08.org.debian:01:someone-else");
    let o = ask(&t, IQN, ME);
    assert_eq!(status(&o), (2, 3, None), "{o:?}");
    // ...and one that does.
    t.admit_initiator("1", ME);
    assert_eq!(status(&ask(&t, IQN, ME)), (0, 0, Some("None".into())));
    // CHAP required: the target picks CHAP; the probe stops there.
    t.require_chap(1, "mirror", "secret-123456");
    let o = ask(&t, IQN, ME);
    assert_eq!(status(&o), (0, 0, Some("CHAP".into())), "{o:?}");
}

#[test]
fn a_stopped_tgtd_is_no_connection_and_a_dead_one_never_holds_the_probe() {
    let mut t = Tgt::start("127.0.0.1");
    t.add_target(1, IQN);
    assert_eq!(status(&ask(&t, IQN, ME)).0, 0);
    t.stop();
    let started = Instant::now();
    let o = ask(&t, IQN, ME);
    assert!(matches!(o, Outcome::NoConnection { .. }), "{o:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    t.restart();
    // Back with no target at all: tgtd drops the login (a close or a reset), no status.
    let o = ask(&t, IQN, ME);
    assert!(matches!(&o, Outcome::NoAnswer { .. }), "{o:?}");
    // Back with another target only: the portal answers iSCSI, ours is not found.
    t.add_target(2, "iqn.2025-01.lab.home:other");
    assert_eq!(status(&ask(&t, IQN, ME)), (2, 3, None));
}
