//! The only module that reads the CIB (`cibadmin -Q`): the iscsi-mirror primitives and
//! their parameters, and the node attributes (permanent and transient) for status and
//! doctor. Parsed into a struct per element, never by text search.

use std::collections::BTreeMap;
use std::time::Duration;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use crate::deadline::Deadline;
use crate::process;
use crate::tools::{Tools, CIBADMIN};

/// One ocf:san:iscsi-mirror primitive and its own instance attributes.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Primitive {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// A node's attributes as the CIB holds them: permanent ones (nodes section) and
/// transient ones (status section, written by attrd).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct NodeAttributes {
    pub node: String,
    pub permanent: BTreeMap<String, String>,
    pub transient: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Cib {
    pub primitives: Vec<Primitive>,
    pub nodes: Vec<NodeAttributes>,
}

impl Cib {
    pub fn node(&self, name: &str) -> Option<&NodeAttributes> {
        self.nodes.iter().find(|n| n.node.eq_ignore_ascii_case(name))
    }
}

/// The whole CIB from the local cluster, within the deadline.
pub fn query(tools: &Tools, deadline: Deadline) -> Result<String, String> {
    let program = tools.program(&CIBADMIN);
    match process::run(&program, &["-Q"], deadline.capped(Duration::from_secs(10))) {
        Ok(o) if o.success() => Ok(o.stdout),
        Ok(o) => Err(format!(
            "cibadmin -Q exited {}: {}",
            o.code.map_or("on a signal".to_string(), |c| c.to_string()),
            o.stderr.lines().last().unwrap_or("").trim()
        )),
        Err(e) => Err(format!("cibadmin: {e}")),
    }
}

fn attr(e: &BytesStart, k: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == k.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Parses a CIB document (or its resources/nodes/status sections).
pub fn parse(cib: &str) -> Cib {
    let mut reader = Reader::from_str(cib);
    let mut out = Cib::default();
    let mut stack: Vec<String> = Vec::new();
    // The node whose attributes are being read, and whether they are transient.
    let mut node: Option<(String, bool)> = None;
    let mut in_ours = false;
    loop {
        let (e, empty) = match reader.read_event() {
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(_)) => {
                match stack.pop().as_deref() {
                    Some("primitive") => in_ours = false,
                    Some("node") | Some("node_state") => node = None,
                    _ => {}
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let parent = stack.last().map(String::as_str).unwrap_or("");
        let grandparent = stack
            .len()
            .checked_sub(2)
            .and_then(|i| stack.get(i))
            .map(String::as_str);
        match name.as_str() {
            "primitive" => {
                in_ours = attr(&e, "class").as_deref() == Some("ocf")
                    && attr(&e, "provider").as_deref() == Some("san")
                    && attr(&e, "type").as_deref() == Some("iscsi-mirror");
                if in_ours {
                    out.primitives.push(Primitive {
                        id: attr(&e, "id").unwrap_or_default(),
                        params: Vec::new(),
                    });
                }
            }
            "node" if parent == "nodes" => {
                node = attr(&e, "uname").map(|n| (n, false));
            }
            "node_state" if parent == "status" => {
                node = attr(&e, "uname").map(|n| (n, true));
            }
            "nvpair" if parent == "instance_attributes" => {
                let (Some(k), Some(v)) = (attr(&e, "name"), attr(&e, "value")) else {
                    if !empty {
                        stack.push(name);
                    }
                    continue;
                };
                if in_ours && grandparent == Some("primitive") {
                    if let Some(p) = out.primitives.last_mut() {
                        p.params.push((k, v));
                    }
                } else if let Some((n, transient)) = &node {
                    let holder = grandparent
                        == Some(if *transient {
                            "transient_attributes"
                        } else {
                            "node"
                        });
                    if holder {
                        let entry = match out.nodes.iter().position(|x| &x.node == n) {
                            Some(i) => &mut out.nodes[i],
                            None => {
                                out.nodes.push(NodeAttributes {
                                    node: n.clone(),
                                    ..Default::default()
                                });
                                out.nodes.last_mut().expect("just pushed")
                            }
                        };
                        if *transient {
                            entry.transient.insert(k, v);
                        } else {
                            entry.permanent.insert(k, v);
                        }
                    }
                }
            }
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_and_their_own_parameters() {
        let cib = r#"<resources><clone id="mirror-clone"><primitive id="mirror" class="ocf" provider="san" type="iscsi-mirror">
<instance_attributes id="mirror-ia"><nvpair id="a" name="peers" value="a=iqn.2025-01.x:a@1.2.3.4"/></instance_attributes>
<operations><op id="m" name="monitor" interval="10s"><instance_attributes id="x"><nvpair id="b" name="depth" value="10"/></instance_attributes></op></operations>
</primitive></clone><primitive id="other" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes id="o"><nvpair id="c" name="x" value="y"/></instance_attributes></primitive></resources>"#;
        let p = parse(cib).primitives;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].id, "mirror");
        assert_eq!(
            p[0].params,
            vec![("peers".to_string(), "a=iqn.2025-01.x:a@1.2.3.4".to_string())]
        );
    }

    #[test]
    fn a_cib_written_by_pacemaker_s_tools() {
        // tests/fixtures/cib/make-cib-fixtures.sh: cibadmin, crm_attribute, crm_simulate.
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cib/two-node-clone.xml"
        ))
        .unwrap();
        let cib = parse(&text);
        assert_eq!(cib.primitives.len(), 1);
        assert_eq!(cib.primitives[0].id, "mirror");
        assert_eq!(
            cib.primitives[0].params.len(),
            5,
            "{:?}",
            cib.primitives[0].params
        );
        let b = cib.node("storage-b").unwrap();
        assert_eq!(
            b.permanent.get("iscsi-mirror-outdated").map(String::as_str),
            Some("1")
        );
        assert_eq!(
            b.transient.get("#health-iscsi-mirror").map(String::as_str),
            Some("green")
        );
        let a = cib.node("storage-a").unwrap();
        assert_eq!(
            a.transient.get("#health-iscsi-mirror").map(String::as_str),
            Some("yellow")
        );
    }
}
