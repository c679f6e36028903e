//! `crm_mon` XML: run under a deadline and parsed into a struct per element
//! (Pacemaker 2.0.3+ `--output-as=xml`, and the legacy `--as-xml` form), as Pacemaker 2.1
//! and 3.0 write it. What 3.0 changed in what is read here (xml/api of Pacemaker-3.0.x):
//! `<cluster_options fencing-enabled fencing-timeout-ms>` beside the deprecated
//! `stonith-enabled stonith-timeout-ms` (3.0.2, crm_mon-2.42.rng); `<resource removed>` beside
//! the deprecated `orphaned` (3.0.2, resources-2.41.rng); `<failure>` `exitstatus` and
//! `status` spelled by crm_exit_str / pcmk_exec_status_str ("Error occurred", "Done" where
//! 2.1 wrote "error", "complete"; 3.0.0). Read as well: `<crm-mon-disconnected>` as the only
//! content (Pacemaker 2.1.6 on, crm_mon-2.26.rng), `<stack pacemakerd-state>`, a lone
//! `<pacemakerd state>`, a failure named by `id` when its operation has no key (failure-2.8.rng).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use super::PeerState;
use crate::deadline::Deadline;
use crate::process;

/// `<nodes><node>`.
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
    /// `red`, `yellow` or `green` (node health attributes).
    pub health: Option<String>,
    /// The node's controller feature set, as the node reported it.
    pub feature_set: Option<String>,
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

/// One resource instance (a primitive, possibly inside a clone, group or bundle).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: String,
    pub agent: String,
    pub clone: Option<String>,
    pub group: Option<String>,
    pub bundle: Option<String>,
    pub role: String,
    pub target_role: Option<String>,
    pub active: bool,
    pub failed: bool,
    pub managed: bool,
    pub blocked: bool,
    pub maintenance: bool,
    pub failure_ignored: bool,
    /// `orphaned` in Pacemaker 2.x and 3.0.0-3.0.1, `removed` from 3.0.2 on (which wins).
    pub removed: bool,
    pub nodes: Vec<String>,
}

/// `<failures><failure>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `op_key`, or `id` when the operation had no key.
    pub op_key: String,
    pub node: String,
    /// Text for `exitcode`: its spelling changed in 3.0 ("Error occurred" for 2.1's "error").
    pub exitstatus: String,
    pub exitreason: String,
    pub exitcode: Option<i32>,
    pub call: Option<i64>,
    /// Execution status: "Done" from 3.0 on, "complete" before.
    pub status: String,
    pub task: String,
    pub interval_ms: Option<u64>,
}

/// `<summary><cluster_options>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterOptions {
    /// `fencing-enabled` (Pacemaker 3.0.2 on), else `stonith-enabled`.
    pub fencing_enabled: Option<bool>,
    /// `fencing-timeout-ms` (3.0.2 on), else `stonith-timeout-ms`.
    pub fencing_timeout_ms: Option<u64>,
    pub symmetric_cluster: Option<bool>,
    pub no_quorum_policy: Option<String>,
    pub maintenance_mode: bool,
    pub stop_all_resources: bool,
    pub priority_fencing_delay_ms: Option<u64>,
}

/// The cluster as crm_mon showed it, or why it could not be known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterView {
    pub known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub dc: Option<String>,
    pub quorate: Option<bool>,
    /// The DC's Pacemaker version, when crm_mon gave one.
    pub dc_version: Option<String>,
    /// Nodes with different feature sets (a rolling upgrade in progress).
    pub mixed_version: Option<bool>,
    /// `<stack type>`, e.g. `corosync`.
    pub stack: Option<String>,
    /// pacemakerd's state (`<stack pacemakerd-state>`, or a lone `<pacemakerd state>`).
    pub pacemakerd_state: Option<String>,
    pub cluster_options: Option<ClusterOptions>,
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

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_string())
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
            "health" => n.health = non_empty(v),
            "feature_set" => n.feature_set = non_empty(v),
            _ => {}
        }
    }
    n
}

/// The clone, group and bundle a resource sits in (innermost of each kind).
#[derive(Default)]
struct Containers(Vec<(String, String)>);

impl Containers {
    fn innermost(&self, kind: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
    }
}

fn resource_from(attrs: &[(String, String)], within: &Containers) -> Resource {
    let mut r = Resource {
        clone: within.innermost("clone"),
        group: within.innermost("group"),
        bundle: within.innermost("bundle"),
        managed: true,
        ..Default::default()
    };
    let mut removed = None;
    for (k, v) in attrs {
        match k.as_str() {
            "id" => r.id = v.clone(),
            "resource_agent" => r.agent = v.clone(),
            "role" => r.role = v.clone(),
            "target_role" => r.target_role = non_empty(v),
            "active" => r.active = truthy(v),
            "failed" => r.failed = truthy(v),
            "managed" => r.managed = truthy(v),
            "blocked" => r.blocked = truthy(v),
            "maintenance" => r.maintenance = truthy(v),
            "failure_ignored" => r.failure_ignored = truthy(v),
            "removed" => removed = Some(truthy(v)),
            "orphaned" => r.removed = truthy(v),
            _ => {}
        }
    }
    if let Some(removed) = removed {
        r.removed = removed;
    }
    r
}

fn failure_from(attrs: &[(String, String)]) -> Failure {
    let mut f = Failure::default();
    let mut id = String::new();
    for (k, v) in attrs {
        match k.as_str() {
            "op_key" => f.op_key = v.clone(),
            "id" => id = v.clone(),
            "node" => f.node = v.clone(),
            "exitstatus" => f.exitstatus = v.clone(),
            "exitreason" => f.exitreason = v.clone(),
            "exitcode" => f.exitcode = v.parse().ok(),
            "call" => f.call = v.parse().ok(),
            "status" => f.status = v.clone(),
            "task" => f.task = v.clone(),
            "interval" => f.interval_ms = v.parse().ok(),
            _ => {}
        }
    }
    if f.op_key.is_empty() {
        f.op_key = id;
    }
    f
}

fn options_from(attrs: &[(String, String)]) -> ClusterOptions {
    let mut o = ClusterOptions::default();
    let (mut stonith_enabled, mut stonith_timeout) = (None, None);
    for (k, v) in attrs {
        match k.as_str() {
            "fencing-enabled" => o.fencing_enabled = Some(truthy(v)),
            "stonith-enabled" => stonith_enabled = Some(truthy(v)),
            "fencing-timeout-ms" => o.fencing_timeout_ms = v.parse().ok(),
            "stonith-timeout-ms" => stonith_timeout = v.parse().ok(),
            "symmetric-cluster" => o.symmetric_cluster = Some(truthy(v)),
            "no-quorum-policy" => o.no_quorum_policy = non_empty(v),
            "maintenance-mode" => o.maintenance_mode = truthy(v),
            "stop-all-resources" => o.stop_all_resources = truthy(v),
            "priority-fencing-delay-ms" => o.priority_fencing_delay_ms = v.parse().ok(),
            _ => {}
        }
    }
    o.fencing_enabled = o.fencing_enabled.or(stonith_enabled);
    o.fencing_timeout_ms = o.fencing_timeout_ms.or(stonith_timeout);
    o
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
    let mut disconnected: Option<String> = None;
    let mut within = Containers::default();
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
                        "clone" | "group" | "bundle" => {
                            within.0.pop();
                        }
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
            ("summary", "stack") => {
                view.stack = get("type");
                if let Some(state) = get("pacemakerd-state") {
                    view.pacemakerd_state = Some(state);
                }
            }
            ("summary", "current_dc") => {
                if get("present").as_deref().is_some_and(truthy) {
                    view.dc = get("name");
                    view.dc_version = get("version").and_then(|v| non_empty(&v));
                }
                view.quorate = get("with_quorum").map(|v| truthy(&v));
                view.mixed_version = get("mixed_version").map(|v| truthy(&v));
            }
            ("summary", "cluster_options") => view.cluster_options = Some(options_from(&a)),
            (_, "pacemakerd") if stack.len() == 1 => view.pacemakerd_state = get("state"),
            (_, "crm-mon-disconnected") if stack.len() == 1 => {
                let mut why = get("description").unwrap_or_else(|| "disconnected".to_string());
                if let Some(state) = get("pacemakerd-state") {
                    why.push_str(&format!(" (pacemakerd {state})"));
                }
                disconnected = Some(why);
            }
            (_, "nodes") if stack.len() == 1 => nodes_seen = true,
            ("nodes", "node") if stack.len() == 2 => view.nodes.push(node_from(&a)),
            (_, "clone" | "group" | "bundle") if !empty => {
                within.0.push((name.clone(), get("id").unwrap_or_default()));
            }
            (_, "resource") if stack.iter().any(|s| s == "resources") => {
                view.resources.push(resource_from(&a, &within))
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
    if let Some(why) = disconnected {
        return ClusterView::unknown(format!("crm_mon is not connected to the cluster: {why}"));
    }
    if !summary {
        return ClusterView::unknown(match &view.pacemakerd_state {
            Some(state) => format!("crm_mon output has no summary: pacemakerd is {state}"),
            None => "crm_mon output has no summary".to_string(),
        });
    }
    if !nodes_seen {
        return ClusterView::unknown("crm_mon output has no <nodes> section");
    }
    if view.nodes.is_empty() {
        return ClusterView::unknown("crm_mon listed no nodes");
    }
    view.known = true;
    view
}

/// CRM_EX_USAGE: what crm_mon before Pacemaker 2.0.3 exits with on the unknown
/// `--output-as` (tools/crm_mon.c of 2.0.2: `++argerr`, then `clean_up(CRM_EX_USAGE)`).
const CRM_EX_USAGE: i32 = 64;

/// Whether `crm_mon -1 --output-as=xml` was refused as a usage error (exit 64, no XML) the way
/// crm_mon before 2.0.3 refuses it; only then is the legacy `--as-xml` worth a try. The local
/// crm_mon decides, not the DC's feature set (`OCF_RESKEY_crm_feature_set` is the DC's: during
/// a rolling upgrade a 3.0 node can run under an older DC), so `--as-xml` (deprecated since
/// 2.0.3, hidden in 3.0.2, kept only for resource-agents < 4.15) is never chosen where
/// `--output-as=xml` works, as on every 3.0 node.
pub fn refused_as_usage_error(out: &process::Output) -> bool {
    out.code == Some(CRM_EX_USAGE) && !out.stdout.trim_start().starts_with('<')
}

/// Runs crm_mon once (`--output-as=xml`; `--as-xml` only if that option is refused) and
/// parses what it printed, whatever its exit code.
pub fn query(program: &str, deadline: Deadline) -> ClusterView {
    let mut out = process::run(program, &["-1", "--output-as=xml"], deadline);
    if out.as_ref().is_ok_and(refused_as_usage_error) {
        out = process::run(program, &["-1", "--as-xml"], deadline);
    }
    match out {
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
    fn only_a_usage_error_without_xml_asks_for_the_legacy_form() {
        let out = |code, stdout: &str| process::Output {
            code: Some(code),
            signal: None,
            stdout: stdout.to_string(),
            stderr: String::new(),
        };
        assert!(refused_as_usage_error(&out(64, "")));
        assert!(!refused_as_usage_error(&out(0, TWO)));
        assert!(!refused_as_usage_error(&out(64, TWO)));
        assert!(!refused_as_usage_error(&out(102, "")));
        assert!(!refused_as_usage_error(&out(1, "")));
    }
}
