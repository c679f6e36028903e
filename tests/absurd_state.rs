//! The state file is outside input too (issue 10): numbers at the ends of their types
//! must neither overflow (a panic in this debug build, a wrapped number in release) nor
//! stall the resource.

mod util;

use util::*;

#[test]
fn extreme_numbers_in_the_state_file_neither_panic_nor_block_reconnects() {
    let portal = Portal::up("127.0.0.1");
    let (_d, sim) = host_with_target(IQN_B, &[&portal]);
    let mut a = Agent::new(&sim);
    a.param("portal", &portal.spec()).param("target", IQN_B);
    a.start().expect(0);
    let file = a.rsctmp().join("iscsi-mirror/mirror.state");
    // The most failures a count holds, with the back-off over (the attempt's number is one
    // more) and then with it ending at the end of time.
    for next_attempt_ms in [1, u64::MAX] {
        let mut state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for p in state["paths"].as_array_mut().unwrap() {
            p["backoff"] = serde_json::json!({
                "failures": u32::MAX,
                "last_attempt_unix": u64::MAX,
                "next_attempt_ms": next_attempt_ms,
                "failing_since_unix": u64::MAX,
                "last_error": "é".repeat(500),
                "recovering_since_unix": u64::MAX,
            });
        }
        state["pool"]["last_online_unix"] = u64::MAX.into();
        state["pool"]["zed_generation"] = u64::MAX.into();
        std::fs::write(&file, state.to_string()).unwrap();
        drop_session(&sim, sim.sessions()[0].sid);
        // No back-off is longer than one interval and its window: a later time is not
        // trusted, and this monitor logs in rather than deferring to it (for ever).
        let run = a.monitor();
        assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
        run.expect(0);
        assert_eq!(sim.sessions().len(), 1);
    }
    a.stop().expect(0);
}
