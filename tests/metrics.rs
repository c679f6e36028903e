//! The monitor keeps a node_exporter textfile: written when a value changes, left alone on
//! the healthy path, and `status --prometheus` says the same.

mod util;

use util::*;

#[test]
fn the_textfile_follows_the_mirror_and_is_left_alone_while_nothing_changes() {
    let mut portal = Portal::up("127.0.0.1");
    let (dir, sim) = host_with_target(IQN_B, &[&portal]);
    let pcmk = PacemakerTools::new();
    pcmk.show("two-node-both-online.xml");
    let prom = dir.path().join("iscsi_mirror.prom");
    let mut a = Agent::storage_a(&sim, &portal.spec());
    a.param("crm_mon", &pcmk.crm_mon())
        .param("metrics_file", prom.to_str().unwrap());
    a.start().expect(0);
    a.monitor().expect(0);
    let first = std::fs::read_to_string(&prom).unwrap();
    assert!(first.contains("verdict=\"healthy\"} 1"), "{first}");
    assert!(first.contains("colour=\"green\"} 1"), "{first}");
    assert!(first.contains("state=\"LOGGED_IN\"} 1"), "{first}");
    let written = std::fs::metadata(&prom).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    a.monitor().expect(0);
    assert_eq!(
        std::fs::metadata(&prom).unwrap().modified().unwrap(),
        written,
        "a healthy monitor rewrote an unchanged file"
    );
    portal.cut();
    sim.set_session_state(sim.sessions()[0].sid, "FAILED").unwrap();
    a.monitor().expect(190);
    let degraded = std::fs::read_to_string(&prom).unwrap();
    assert!(degraded.contains("verdict=\"degraded\"} 1"), "{degraded}");
    assert!(
        degraded.contains("code=\"storage_network_down\"} 1"),
        "{degraded}"
    );
    assert!(degraded.contains("state=\"FAILED\"} 1"), "{degraded}");
    a.stop().expect(0);
}
