//! OCF meta-data, generated from the parameter and action tables in `params`.

use crate::ocf::Env;
use crate::params::{ACTIONS, PARAMS};

pub const AGENT_NAME: &str = "iscsi-mirror";

const LONGDESC: &str = "Manages this node's leg of a two-node ZFS mirror over iSCSI: the \
open-iscsi sessions from this node to its peer's target(s). Normally run as a clone on both \
storage nodes with the peers parameter; with portal and target it is a drop-in for \
ocf:heartbeat:iscsi. Session health is read from the kernel (sysfs), and a session that is \
down is judged by what the cluster knows of the peer: down because the peer is down or in \
standby is expected (degraded, no login storm); down while the peer is up and its portal \
reachable is repaired with a jittered login, and failed if that does not help. \
OCF_CHECK_LEVEL 10 also checks that the iSCSI timers notice a dead peer within the Corosync \
token; 20 also checks the ZFS pool's vdevs. The mirror's health is published as the node \
attribute #health-iscsi-mirror (green, yellow, red).";

/// Which rendering of the one table a caller gets.
///
/// Both declare `<version>1.1</version>`: the agent claims OCF 1.1 compatibility (190 to
/// 1.1 callers, `reload-agent`) whatever the rendering. They differ in what the schema they
/// must pass can express (docs/ocf-metadata.md):
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// For callers that speak OCF 1.1 or later (Pacemaker 2.1 passes
    /// OCF_RA_VERSION_MAJOR/MINOR 1/1 to every OCF action, meta-data included): the
    /// `reload-agent` action and `reloadable="1"` on the reloadable parameters. Valid
    /// against the OCF 1.1 RelaxNG schema; no DOCTYPE, since ra-api-1.dtd rejects both.
    Ocf11,
    /// For everyone else (ocf-tester, a shell, OCF 1.0 managers): what resource-agents'
    /// ra-api-1.dtd accepts, with its DOCTYPE, for `xmllint --valid`. It is a valid OCF 1.1
    /// document too, that advertises no reload: a 1.1 manager reading it restarts on every
    /// change, which is the safe reading.
    Dtd,
}

impl Form {
    pub fn for_caller(env: &Env) -> Form {
        if env.speaks_ocf_1_1() {
            Form::Ocf11
        } else {
            Form::Dtd
        }
    }
}

/// The meta-data document in the given form.
pub fn document(form: Form) -> String {
    let mut xml = String::with_capacity(16 * 1024);
    xml.push_str("<?xml version=\"1.0\"?>\n");
    if form == Form::Dtd {
        xml.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    }
    xml.push_str(&format!(
        "<resource-agent name=\"{AGENT_NAME}\" version=\"{}\">\n",
        env!("CARGO_PKG_VERSION")
    ));
    xml.push_str("<version>1.1</version>\n");
    xml.push_str(&format!(
        "<longdesc lang=\"en\">\n{}\n</longdesc>\n",
        escape(LONGDESC)
    ));
    xml.push_str("<shortdesc lang=\"en\">iSCSI legs of a two-node ZFS mirror, judged by the cluster's view</shortdesc>\n");
    xml.push_str("<parameters>\n");
    for spec in PARAMS {
        let reloadable = if form == Form::Ocf11 && spec.reloadable {
            " reloadable=\"1\""
        } else {
            ""
        };
        xml.push_str(&format!(
            "<parameter name=\"{}\" unique=\"{}\" required=\"0\"{reloadable}>\n",
            spec.name,
            u8::from(spec.unique)
        ));
        xml.push_str(&format!(
            "<longdesc lang=\"en\">\n{}\n</longdesc>\n",
            escape(spec.longdesc)
        ));
        xml.push_str(&format!(
            "<shortdesc lang=\"en\">{}</shortdesc>\n",
            escape(spec.shortdesc)
        ));
        match spec.default {
            Some(d) => xml.push_str(&format!(
                "<content type=\"{}\" default=\"{}\" />\n",
                spec.kind.as_str(),
                escape(d)
            )),
            None => xml.push_str(&format!("<content type=\"{}\" />\n", spec.kind.as_str())),
        }
        xml.push_str("</parameter>\n");
    }
    xml.push_str("</parameters>\n<actions>\n");
    for action in ACTIONS.iter().filter(|a| form == Form::Ocf11 || !a.ocf_1_1) {
        let mut line = format!(
            "<action name=\"{}\" timeout=\"{}s\"",
            action.name, action.timeout_s
        );
        if let Some(i) = action.interval_s {
            line.push_str(&format!(" interval=\"{i}s\""));
        }
        if let Some(d) = action.depth {
            line.push_str(&format!(" depth=\"{d}\""));
        }
        xml.push_str(&line);
        xml.push_str(" />\n");
    }
    xml.push_str("</actions>\n</resource-agent>\n");
    xml
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMS: [Form; 2] = [Form::Ocf11, Form::Dtd];

    #[test]
    fn every_parameter_appears_once() {
        for form in FORMS {
            let doc = document(form);
            for spec in PARAMS {
                let needle = format!("<parameter name=\"{}\"", spec.name);
                assert_eq!(doc.matches(&needle).count(), 1, "{}", spec.name);
            }
        }
    }

    #[test]
    fn the_heartbeat_iscsi_parameters_keep_their_names() {
        let doc = document(Form::Dtd);
        for name in [
            "portal",
            "target",
            "discovery_type",
            "iscsiadm",
            "udev",
            "try_recovery",
        ] {
            assert!(doc.contains(&format!("<parameter name=\"{name}\"")), "{name}");
        }
    }

    #[test]
    fn every_action_has_a_timeout() {
        for form in FORMS {
            let doc = document(form);
            let listed = ACTIONS
                .iter()
                .filter(|a| form == Form::Ocf11 || !a.ocf_1_1)
                .count();
            assert_eq!(doc.matches("<action ").count(), listed);
            assert_eq!(
                doc.matches("<action ").count(),
                doc.matches(" timeout=\"").count()
            );
        }
    }

    #[test]
    fn only_the_ocf_1_1_form_offers_reload_agent_and_marks_reloadable_parameters() {
        let ocf11 = document(Form::Ocf11);
        assert!(ocf11.contains("<action name=\"reload-agent\" timeout=\"30s\" />"));
        assert!(!ocf11.contains("<!DOCTYPE"));
        for spec in PARAMS {
            let marked = format!(
                "<parameter name=\"{}\" unique=\"{}\" required=\"0\" reloadable=\"1\">",
                spec.name,
                u8::from(spec.unique)
            );
            assert_eq!(ocf11.contains(&marked), spec.reloadable, "{}", spec.name);
        }
        let dtd = document(Form::Dtd);
        // ra-api-1.dtd knows neither the action nor the attribute.
        assert!(!dtd.contains("<action name=\"reload") && !dtd.contains("reloadable="));
        for doc in [&ocf11, &dtd] {
            assert!(doc.contains("<version>1.1</version>"));
        }
    }

    #[test]
    fn what_names_the_legs_or_the_pool_needs_a_restart() {
        let restart: Vec<&str> = PARAMS.iter().filter(|s| !s.reloadable).map(|s| s.name).collect();
        assert_eq!(
            restart,
            ["peers", "portal", "target", "peer_node", "pool", "host_root"]
        );
    }

    #[test]
    fn the_caller_s_ocf_version_picks_the_form() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        let v = |major, minor| env(&[("OCF_RA_VERSION_MAJOR", major), ("OCF_RA_VERSION_MINOR", minor)]);
        assert_eq!(Form::for_caller(&v("1", "1")), Form::Ocf11);
        assert_eq!(Form::for_caller(&v("1", "2")), Form::Ocf11);
        assert_eq!(Form::for_caller(&v("2", "0")), Form::Ocf11);
        assert_eq!(Form::for_caller(&v("1", "0")), Form::Dtd);
        assert_eq!(Form::for_caller(&env(&[])), Form::Dtd);
    }
}
