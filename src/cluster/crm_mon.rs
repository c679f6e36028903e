//! `crm_mon` XML: run under a deadline and parsed into a struct per element
//! (Pacemaker 2.0.3+ `--output-as=xml`, and the legacy `--as-xml` form).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use super::PeerState;
use crate::deadline::Deadline;
use crate::process;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub id: String,
    pub online: bool,
    pub standby: bool,
    pub standby_onfail: bool,
    pub maintenance: bool,
    pub pending: bool,
    pub unclean: bool,
    pub shutdown: bool,
    pub expected_up: bool,
    pub is_dc: bool,
    #[serde(rename = "type")]
    pub node_type: String,
}

impl Node {
    /// The most telling state first: an unclean node may also be offline.
    pub fn peer_state(&self) -> PeerState {
        if self.unclean {
            PeerState::Unclean
        } else if !self.online {
            PeerState::Offline
        } else if self.shutdown {
            PeerState::ShuttingDown
        } else if self.pending {
            PeerState::Pending
        } else if self.standby || self.standby_onfail {
            PeerState::Standby
        } else if self.maintenance {
            PeerState::Maintenance
        } else {
            PeerState::Online
        }
    }
}

/// One resource instance (a primitive, possibly inside a clone or group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: String,
    pub agent: String,
    pub clone: Option<String>,
    pub role: String,
    pub active: bool,
    pub failed: bool,
    pub managed: bool,
    /// `orphaned` in Pacemaker 2.x, `removed` from 3.0 on.
    pub removed: bool,
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub op_key: String,
    pub node: String,
    pub exitstatus: String,
    pub exitreason: String,
    pub exitcode: Option<i32>,
    pub task: String,
}

/// The cluster as crm_mon showed it, or why it could not be known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    pub known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub dc: Option<String>,
    pub quorate: Option<bool>,
    pub nodes: Vec<Node>,
    pub resources: Vec<Resource>,
    pub failures: Vec<Failure>,
}

impl ClusterView {
    pub fn unknown(reason: impl Into<String>) -> ClusterView {
        ClusterView {
            known: false,
            reason: Some(reason.into()),
            ..Default::default()
        }
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name.eq_ignore_ascii_case(name))
    }

    pub fn peer_state(&self, name: Option<&str>) -> PeerState {
        match (self.known, name) {
            (true, Some(n)) => self.node(n).map(Node::peer_state).unwrap_or(PeerState::NotMember),
            (true, None) => PeerState::NotMember,
            (false, _) => PeerState::Unknown,
        }
    }
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "yes")
}

fn attrs(e: &BytesStart) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .map(|a| {
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
            (key, value)
        })
        .collect()
}

fn node_from(attrs: &[(String, String)]) -> Node {
    let mut n = Node::default();
    for (k, v) in attrs {
        match k.as_str() {
            "name" => n.name = v.clone(),
            "id" => n.id = v.clone(),
            "online" => n.online = truthy(v),
            "standby" => n.standby = truthy(v),
            "standby_onfail" => n.standby_onfail = truthy(v),
            "maintenance" => n.maintenance = truthy(v),
            "pending" => n.pending = truthy(v),
            "unclean" => n.unclean = truthy(v),
            "shutdown" => n.shutdown = truthy(v),
            "expected_up" => n.expected_up = truthy(v),
            "is_dc" => n.is_dc = truthy(v),
            "type" => n.node_type = v.clone(),
            _ => {}
        }
    }
    n
}

fn resource_from(attrs: &[(String, String)], clone: Option<String>) -> Resource {
    let mut r = Resource {
        clone,
        managed: true,
        ..Default::default()
    };
    for (k, v) in attrs {
        match k.as_str() {
            "id" => r.id = v.clone(),
            "resource_agent" => r.agent = v.clone(),
            "role" => r.role = v.clone(),
            "active" => r.active = truthy(v),
            "failed" => r.failed = truthy(v),
            "managed" => r.managed = truthy(v),
            "orphaned" | "removed" => r.removed = truthy(v),
            _ => {}
        }
    }
    r
}

fn failure_from(attrs: &[(String, String)]) -> Failure {
    let mut f = Failure::default();
    for (k, v) in attrs {
        match k.as_str() {
            "op_key" => f.op_key = v.clone(),
            "node" => f.node = v.clone(),
            "exitstatus" => f.exitstatus = v.clone(),
            "exitreason" => f.exitreason = v.clone(),
            "exitcode" => f.exitcode = v.parse().ok(),
            "task" => f.task = v.clone(),
            _ => {}
        }
    }
    f
}

/// Parses a crm_mon XML document. A document without summary or nodes, or with errors,
/// is "cluster state unknown" whatever crm_mon's exit code said.
pub fn parse(xml: &str) -> ClusterView {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut view = ClusterView::default();
    let (mut root, mut summary, mut nodes_seen) = (None::<String>, false, false);
    let mut errors: Vec<String> = Vec::new();
    let mut status: Option<(i32, String)> = None;
    let mut clone: Option<String> = None;
    let mut in_error = false;
    loop {
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => return ClusterView::unknown(format!("crm_mon output is not well-formed XML: {e}")),
        };
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                if let Some(name) = stack.pop() {
                    match name.as_str() {
                        "clone" => clone = None,
                        "error" => in_error = false,
                        _ => {}
                    }
                }
                continue;
            }
            Event::Text(t) if in_error => {
                if let (Ok(text), Some(last)) = (t.unescape(), errors.last_mut()) {
                    last.push_str(text.trim());
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = e else { continue };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let parent = stack.last().map(String::as_str).unwrap_or("");
        let a = attrs(&e);
        let get = |k: &str| a.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        match (parent, name.as_str()) {
            ("", r) => root = Some(r.to_string()),
            (_, "summary") if stack.len() == 1 => summary = true,
            ("summary", "current_dc") => {
                if get("present").as_deref().is_some_and(truthy) {
                    view.dc = get("name");
                }
                view.quorate = get("with_quorum").map(|v| truthy(&v));
            }
            (_, "nodes") if stack.len() == 1 => nodes_seen = true,
            ("nodes", "node") if stack.len() == 2 => view.nodes.push(node_from(&a)),
            (_, "clone") => clone = get("id"),
            (_, "resource") if stack.iter().any(|s| s == "resources") => {
                view.resources.push(resource_from(&a, clone.clone()))
            }
            ("resource", "node") if stack.iter().any(|s| s == "resources") => {
                if let (Some(r), Some(n)) = (view.resources.last_mut(), get("name")) {
                    r.nodes.push(n);
                }
            }
            ("failures", "failure") => view.failures.push(failure_from(&a)),
            ("errors", "error") => {
                errors.push(String::new());
                in_error = !empty;
            }
            (_, "status") if stack.len() == 1 => {
                status = Some((
                    get("code").and_then(|c| c.parse().ok()).unwrap_or(-1),
                    get("message").unwrap_or_default(),
                ))
            }
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    match root.as_deref() {
        Some("pacemaker-result") | Some("crm_mon") => {}
        Some(other) => {
            return ClusterView::unknown(format!(
                "crm_mon output has root <{other}>, not <pacemaker-result>"
            ))
        }
        None => return ClusterView::unknown("crm_mon printed no XML"),
    }
    if !stack.is_empty() {
        return ClusterView::unknown("crm_mon output is truncated");
    }
    if let Some((code, message)) = &status {
        if *code != 0 {
            return ClusterView::unknown(format!("crm_mon: {message} (status {code})"));
        }
    }
    if !errors.is_empty() {
        return ClusterView::unknown(format!("crm_mon reported: {}", errors.join("; ")));
    }
    if !summary || !nodes_seen || view.nodes.is_empty() {
        return ClusterView::unknown("crm_mon output has no summary or no nodes");
    }
    view.known = true;
    view
}

/// `--output-as=xml` came with Pacemaker 2.0.3 (feature set 3.2.0); older ones speak `--as-xml`.
pub fn uses_legacy_xml(crm_feature_set: Option<&str>) -> bool {
    let Some(v) = crm_feature_set else { return false };
    let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.as_slice() < [3, 2, 0].as_slice()
}

/// Runs crm_mon once and parses what it printed, whatever its exit code.
pub fn query(program: &str, crm_feature_set: Option<&str>, deadline: Deadline) -> ClusterView {
    let args: &[&str] = if uses_legacy_xml(crm_feature_set) {
        &["-1", "--as-xml"]
    } else {
        &["-1", "--output-as=xml"]
    };
    match process::run(program, args, deadline) {
        Ok(out) => {
            let view = parse(&out.stdout);
            if !view.known && out.stdout.trim().is_empty() {
                let why = out.stderr.lines().last().unwrap_or("").trim().to_string();
                return ClusterView::unknown(format!(
                    "crm_mon exited {} without output: {why}",
                    out.code.unwrap_or(-1)
                ));
            }
            view
        }
        Err(e) => ClusterView::unknown(format!("{program}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"<pacemaker-result api-version="2.25" request="crm_mon -1 --output-as=xml">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5" name="storage-a" id="1" with_quorum="true"/>
    <nodes_configured number="2"/>
  </summary>
  <nodes>
    <node name="storage-a" id="1" online="true" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="false" shutdown="false" expected_up="true" is_dc="true" resources_running="1" type="member"/>
    <node name="storage-b" id="2" online="false" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="true" shutdown="false" expected_up="true" is_dc="false" resources_running="0" type="member"/>
  </nodes>
  <resources>
    <clone id="mirror-clone" multi_state="false" unique="false" managed="true" failed="false" failure_ignored="false">
      <resource id="mirror" resource_agent="ocf:san:iscsi-mirror" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="storage-a" id="1" cached="true"/>
      </resource>
    </clone>
  </resources>
  <failures>
    <failure op_key="mirror_monitor_10000" node="storage-a" exitstatus="error" exitreason="login failed" exitcode="1" call="12" status="complete" task="monitor"/>
  </failures>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn a_two_node_document() {
        let v = parse(TWO);
        assert!(v.known, "{v:?}");
        assert_eq!(v.dc.as_deref(), Some("storage-a"));
        assert_eq!(v.quorate, Some(true));
        assert_eq!(v.peer_state(Some("storage-b")), PeerState::Unclean);
        assert_eq!(v.peer_state(Some("storage-a")), PeerState::Online);
        assert_eq!(v.peer_state(Some("storage-c")), PeerState::NotMember);
        assert_eq!(v.peer_state(None), PeerState::NotMember);
        assert_eq!(
            ClusterView::unknown("x").peer_state(Some("storage-b")),
            PeerState::Unknown
        );
        assert_eq!(v.resources[0].clone.as_deref(), Some("mirror-clone"));
        assert_eq!(v.resources[0].nodes, vec!["storage-a".to_string()]);
        assert_eq!(v.failures[0].exitreason, "login failed");
    }

    #[test]
    fn broken_documents_are_unknown_never_a_panic() {
        for doc in [
            "",
            "not xml",
            "<pacemaker-result>",
            &TWO[..TWO.len() / 2],
            "<pacemaker-result><status code=\"102\" message=\"Not connected\"/></pacemaker-result>",
            "<pacemaker-result><errors><error>Connection to cluster failed</error></errors><status code=\"0\" message=\"OK\"/></pacemaker-result>",
            "<other/>",
            "<pacemaker-result><summary/><nodes/></pacemaker-result>",
        ] {
            let v = parse(doc);
            assert!(!v.known, "{doc}");
            assert!(v.reason.is_some());
        }
    }

    #[test]
    fn legacy_selection() {
        assert!(!uses_legacy_xml(None));
        assert!(!uses_legacy_xml(Some("3.16.2")));
        assert!(!uses_legacy_xml(Some("3.2.0")));
        assert!(uses_legacy_xml(Some("3.1.0")));
        assert!(uses_legacy_xml(Some("3.0.14")));
    }
}
