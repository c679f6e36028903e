//! OCF meta-data, generated from the parameter and action tables in `params`.

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

/// The meta-data document, valid against resource-agents' ra-api-1.dtd.
pub fn document() -> String {
    let mut xml = String::with_capacity(16 * 1024);
    xml.push_str("<?xml version=\"1.0\"?>\n");
    xml.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
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
        xml.push_str(&format!(
            "<parameter name=\"{}\" unique=\"{}\" required=\"0\">\n",
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
    for action in ACTIONS {
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

    #[test]
    fn every_parameter_appears_once() {
        let doc = document();
        for spec in PARAMS {
            let needle = format!("<parameter name=\"{}\"", spec.name);
            assert_eq!(doc.matches(&needle).count(), 1, "{}", spec.name);
        }
    }

    #[test]
    fn the_heartbeat_iscsi_parameters_keep_their_names() {
        let doc = document();
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
        let doc = document();
        let actions = doc.matches("<action ").count();
        assert_eq!(actions, ACTIONS.len());
        assert_eq!(
            doc.matches("<action ").count(),
            doc.matches(" timeout=\"").count()
        );
    }
}
