//! The three timers of one session or node record, each from the first source that has
//! it: an override, the live session (sysfs), the node record, iscsid.conf, open-iscsi's
//! built-in defaults.

use std::collections::BTreeMap;

use crate::decide::timeouts::{Figure, Timers};
use crate::iscsi::sysfs::Session;

pub const NOOP_OUT_INTERVAL_KEY: &str = "node.conn[0].timeo.noop_out_interval";
pub const NOOP_OUT_TIMEOUT_KEY: &str = "node.conn[0].timeo.noop_out_timeout";
pub const REPLACEMENT_TIMEOUT_KEY: &str = "node.session.timeo.replacement_timeout";

/// open-iscsi's built-in values (usr/idbm.c) when neither record nor iscsid.conf sets one.
pub const DEFAULT_NOOP_OUT_INTERVAL: i64 = 5;
pub const DEFAULT_NOOP_OUT_TIMEOUT: i64 = 5;
pub const DEFAULT_REPLACEMENT_TIMEOUT: i64 = 120;

/// A replacement for one figure, with the name of whoever supplied it.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub noop_out_interval: Option<(i64, String)>,
    pub noop_out_timeout: Option<(i64, String)>,
    pub replacement_timeout: Option<(i64, String)>,
}

pub struct Inputs<'a> {
    pub session: Option<&'a Session>,
    pub record: Option<&'a BTreeMap<String, String>>,
    pub iscsid_conf: Option<(&'a BTreeMap<String, String>, String)>,
}

/// `key = value` lines, as in iscsid.conf and node records.
pub fn parse_settings(text: &str) -> BTreeMap<String, String> {
    crate::iscsi::iscsiadm::parse_record(text)
}

fn pick(
    over: &Option<(i64, String)>,
    live: Option<(i64, String)>,
    key: &str,
    inputs: &Inputs,
    default: i64,
) -> Figure {
    if let Some((v, who)) = over {
        return Figure::new(*v, who.clone());
    }
    if let Some((v, src)) = live {
        return Figure::new(v, src);
    }
    // A value that is there but no number is reported as such, not skipped for the next
    // source: open-iscsi would not use the next source either.
    if let Some(v) = inputs.record.and_then(|r| r.get(key)) {
        return Figure::parse(v, "seconds", format!("node record {key}"));
    }
    if let Some((conf, path)) = &inputs.iscsid_conf {
        if let Some(v) = conf.get(key) {
            return Figure::parse(v, "seconds", format!("{path} {key}"));
        }
    }
    Figure::new(default, "open-iscsi built-in default")
}

pub fn figures(inputs: &Inputs, over: &Overrides) -> Timers {
    let conn = inputs.session.and_then(|s| s.connections.first());
    let sid = inputs.session.map(|s| s.sid).unwrap_or(0);
    Timers {
        noop_out_interval: pick(
            &over.noop_out_interval,
            conn.and_then(|c| c.recv_tmo)
                .map(|v| (v, format!("sysfs connection{sid}:0 recv_tmo"))),
            NOOP_OUT_INTERVAL_KEY,
            inputs,
            DEFAULT_NOOP_OUT_INTERVAL,
        ),
        noop_out_timeout: pick(
            &over.noop_out_timeout,
            conn.and_then(|c| c.ping_tmo)
                .map(|v| (v, format!("sysfs connection{sid}:0 ping_tmo"))),
            NOOP_OUT_TIMEOUT_KEY,
            inputs,
            DEFAULT_NOOP_OUT_TIMEOUT,
        ),
        replacement_timeout: pick(
            &over.replacement_timeout,
            inputs
                .session
                .and_then(|s| s.recovery_tmo)
                .map(|v| (v, format!("sysfs session{sid} recovery_tmo"))),
            REPLACEMENT_TIMEOUT_KEY,
            inputs,
            DEFAULT_REPLACEMENT_TIMEOUT,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_figure_comes_from_the_first_source_that_has_it() {
        let record: BTreeMap<String, String> = [(NOOP_OUT_TIMEOUT_KEY.to_string(), "3".to_string())].into();
        let conf: BTreeMap<String, String> = [(REPLACEMENT_TIMEOUT_KEY.to_string(), "15".to_string())].into();
        let inputs = Inputs {
            session: None,
            record: Some(&record),
            iscsid_conf: Some((&conf, "/etc/iscsi/iscsid.conf".into())),
        };
        let over = Overrides {
            noop_out_interval: Some((2, "--noop-out-interval".into())),
            ..Default::default()
        };
        let t = figures(&inputs, &over);
        assert_eq!(
            (t.noop_out_interval.value, t.noop_out_interval.source.as_str()),
            (Some(2), "--noop-out-interval")
        );
        assert_eq!(t.noop_out_timeout.value, Some(3));
        assert!(t.noop_out_timeout.source.starts_with("node record"));
        assert_eq!(t.replacement_timeout.value, Some(15));
        assert!(t.replacement_timeout.source.starts_with("/etc/iscsi/iscsid.conf"));
        let bare = figures(
            &Inputs {
                session: None,
                record: None,
                iscsid_conf: None,
            },
            &Overrides::default(),
        );
        assert_eq!(
            (
                bare.noop_out_interval.value,
                bare.noop_out_timeout.value,
                bare.replacement_timeout.value
            ),
            (Some(5), Some(5), Some(120))
        );
        assert_eq!(bare.replacement_timeout.source, "open-iscsi built-in default");
    }

    #[test]
    fn a_value_that_is_no_number_is_unusable_not_skipped() {
        let record: BTreeMap<String, String> = [(
            REPLACEMENT_TIMEOUT_KEY.to_string(),
            "99999999999999999999".to_string(),
        )]
        .into();
        let conf: BTreeMap<String, String> = [(REPLACEMENT_TIMEOUT_KEY.to_string(), "15".to_string())].into();
        let t = figures(
            &Inputs {
                session: None,
                record: Some(&record),
                iscsid_conf: Some((&conf, "/etc/iscsi/iscsid.conf".into())),
            },
            &Overrides::default(),
        );
        assert_eq!(t.replacement_timeout.value, None);
        assert!(t.replacement_timeout.source.starts_with("node record"));
        assert!(t
            .replacement_timeout
            .problem
            .as_deref()
            .unwrap()
            .contains("99999999999999999999"));
    }

    #[test]
    fn debian_s_iscsid_conf() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/iscsi/recorded/iscsid.conf.debian"),
        )
        .unwrap();
        let conf = parse_settings(&text);
        assert_eq!(conf.get(NOOP_OUT_INTERVAL_KEY).map(String::as_str), Some("5"));
        assert_eq!(conf.get(REPLACEMENT_TIMEOUT_KEY).map(String::as_str), Some("120"));
    }
}
