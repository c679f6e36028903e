//! `ocf_san_iscsi-mirror.7`, from the meta-data document the agent prints, in the shape
//! resource-agents gives its `ocf_heartbeat_*.7` (doc/man/ra2refentry.xsl + DocBook):
//! NAME, SYNOPSIS, DESCRIPTION, SUPPORTED PARAMETERS (each with "(unique, optional, type,
//! default ...)"), SUPPORTED ACTIONS (each with its suggested timeout and interval),
//! EXAMPLE CRM SHELL, EXAMPLE PCS, SEE ALSO, AUTHOR.
//!
//! Rendered to roff here rather than through xsltproc and the DocBook stylesheets: the
//! stylesheet is not in any Debian binary package (only in resource-agents' source), and
//! docbook-xsl would be one more build dependency on Debian and on RHEL for one page whose
//! structure is a dozen macros. The input is the same: the meta-data document.
//!
//! The examples are the project's own (crm/examples/), read at compile time: the page
//! shows what the examples directory ships.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use roff::{bold, roman, Roff};

pub const FILE_NAME: &str = "ocf_san_iscsi-mirror.7";
const CLASS_PROVIDER: &str = "ocf_san_";

const CRMSH_EXAMPLE: &str = include_str!("../../../crm/examples/crmsh-mirror-clone.crm");
const PCS_EXAMPLE: &str = include_str!("../../../crm/examples/pcs-mirror-clone.sh");

/// What the page shows of the meta-data.
#[derive(Debug, Default, PartialEq)]
pub struct Agent {
    pub name: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub parameters: Vec<Parameter>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub unique: bool,
    pub required: bool,
    pub shortdesc: String,
    pub longdesc: String,
    pub kind: String,
    pub default: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Action {
    pub name: String,
    pub timeout: Option<String>,
    pub interval: Option<String>,
    pub depth: Option<String>,
}

fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|err| err.to_string()),
        Ok(None) => Ok(None),
        Err(err) => Err(err.to_string()),
    }
}

/// Reads a meta-data document (ra-api-1.dtd).
pub fn parse(xml: &str) -> Result<Agent, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut agent = Agent::default();
    let mut stack: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?.into_owned();
                let in_param = stack.iter().any(|s| s == "parameter");
                let field = match (stack.last().map(String::as_str), in_param) {
                    (Some("longdesc"), false) => &mut agent.longdesc,
                    (Some("shortdesc"), false) => &mut agent.shortdesc,
                    (Some("longdesc"), true) => &mut last(&mut agent.parameters)?.longdesc,
                    (Some("shortdesc"), true) => &mut last(&mut agent.parameters)?.shortdesc,
                    _ => continue,
                };
                field.push_str(&text);
                continue;
            }
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        match tag.as_str() {
            "resource-agent" => agent.name = attr(&e, "name")?.unwrap_or_default(),
            "parameter" => agent.parameters.push(Parameter {
                name: attr(&e, "name")?.ok_or("a parameter without a name")?,
                unique: attr(&e, "unique")?.as_deref() == Some("1"),
                required: attr(&e, "required")?.as_deref() == Some("1"),
                ..Parameter::default()
            }),
            "content" => {
                let p = last(&mut agent.parameters)?;
                p.kind = attr(&e, "type")?.unwrap_or_default();
                p.default = attr(&e, "default")?;
            }
            "action" => agent.actions.push(Action {
                name: attr(&e, "name")?.ok_or("an action without a name")?,
                timeout: attr(&e, "timeout")?,
                interval: attr(&e, "interval")?,
                depth: attr(&e, "depth")?,
            }),
            _ => {}
        }
        if !empty {
            stack.push(tag);
        }
    }
    if agent.name.is_empty() {
        return Err("no <resource-agent name=...>".into());
    }
    Ok(agent)
}

fn last(params: &mut [Parameter]) -> Result<&mut Parameter, String> {
    params
        .last_mut()
        .ok_or_else(|| "text or <content> outside a <parameter>".to_string())
}

/// A description's paragraphs: split on blank lines, each one's white space collapsed.
fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect()
}

/// "(unique, optional, string, default "sendtargets")", as ra2refentry.xsl writes it.
pub fn content_line(p: &Parameter) -> String {
    let mut s = String::from("(");
    if p.unique {
        s.push_str("unique, ");
    }
    s.push_str(if p.required { "required" } else { "optional" });
    s.push_str(", ");
    if !p.kind.is_empty() {
        s.push_str(&p.kind);
        s.push_str(", ");
    }
    match &p.default {
        Some(d) if p.kind == "string" => s.push_str(&format!("default \"{d}\"")),
        Some(d) => s.push_str(&format!("default {d}")),
        None => s.push_str("no default"),
    }
    s.push(')');
    s
}

/// The sentence ra2refentry.xsl gives each action, with its timeout and interval.
pub fn action_line(a: &Action) -> String {
    let what = match a.name.as_str() {
        "start" => "Starts the resource.",
        "stop" => "Stops the resource.",
        "status" => "Performs a status check.",
        "monitor" => "Performs a detailed status check.",
        "validate-all" => "Performs a validation of the resource configuration.",
        "meta-data" => "Retrieves resource agent metadata (internal use only).",
        "methods" => "Lists the actions the agent implements (internal use only).",
        "reload" | "reload-agent" => "Reloads the resource's configuration.",
        _ => "",
    };
    let mut s = what.to_string();
    if let Some(t) = &a.timeout {
        s.push_str(&format!(" Suggested minimum timeout: {t}."));
    }
    if let Some(i) = &a.interval {
        s.push_str(&format!(" Suggested interval: {i}."));
    }
    if let Some(d) = a.depth.as_deref().filter(|d| *d != "0") {
        s.push_str(&format!(" Depth (OCF_CHECK_LEVEL): {d}."));
    }
    s.trim().to_string()
}

/// The commands of an example file: its comments, blank lines and shell preamble dropped.
pub fn example_commands(file: &str) -> Vec<&str> {
    file.lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with("set -")
        })
        .collect()
}

fn listing(roff: &mut Roff, intro: Vec<roff::Inline>, lines: &[&str]) {
    roff.control("PP", []);
    roff.text(intro);
    roff.control("sp", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in lines {
        roff.text([roman(*line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}

/// The page, as roff source.
pub fn render_agent(agent: &Agent, date: &str) -> String {
    let title = format!("{CLASS_PROVIDER}{}", agent.name);
    let mut roff = Roff::default();
    let upper = title.to_uppercase();
    let source = crate::source();
    roff.control("TH", [upper.as_str(), "7", date, &source, "OCF resource agents"]);
    // As DocBook's pages: no hyphenation, ragged right.
    roff.control("nh", []);
    roff.control("ad", ["l"]);

    roff.control("SH", ["NAME"]);
    roff.text([roman(format!(
        "{title} - {}",
        agent.shortdesc.split_whitespace().collect::<Vec<_>>().join(" ")
    ))]);

    roff.control("SH", ["SYNOPSIS"]);
    let order = ["start", "stop", "status", "monitor", "meta-data", "validate-all"];
    let listed: Vec<&str> = order
        .iter()
        .copied()
        .filter(|n| agent.actions.iter().any(|a| a.name == *n))
        .collect();
    roff.text([
        bold(agent.name.as_str()),
        roman(format!(" [{}]", listed.join(" | "))),
    ]);

    roff.control("SH", ["DESCRIPTION"]);
    for p in paragraphs(&agent.longdesc) {
        roff.control("PP", []);
        roff.text([roman(p)]);
    }

    roff.control("SH", ["SUPPORTED PARAMETERS"]);
    for p in &agent.parameters {
        roff.control("PP", []);
        roff.text([bold(p.name.as_str())]);
        roff.control("RS", ["4"]);
        let mut paras = paragraphs(&p.longdesc);
        if paras.is_empty() {
            paras = paragraphs(&p.shortdesc);
        }
        for para in paras {
            roff.text([roman(para)]);
            roff.control("sp", []);
        }
        roff.text([roman(content_line(p))]);
        roff.control("RE", []);
    }

    roff.control("SH", ["SUPPORTED ACTIONS"]);
    roff.control("PP", []);
    roff.text([roman(
        "This resource agent supports the following actions (operations):",
    )]);
    for a in &agent.actions {
        roff.control("PP", []);
        roff.text([bold(a.name.as_str())]);
        roff.control("RS", ["4"]);
        roff.text([roman(action_line(a))]);
        roff.control("RE", []);
    }

    roff.control("SH", ["EXAMPLE CRM SHELL"]);
    listing(
        &mut roff,
        vec![
            roman(format!(
                "The following is an example configuration for an {} resource using the ",
                agent.name
            )),
            bold("crm"),
            roman(
                "(8) shell: the two-node SAN of the design, a clone in peers mode \
(crm configure load update examples/crmsh-mirror-clone.crm):",
            ),
        ],
        &example_commands(CRMSH_EXAMPLE),
    );

    roff.control("SH", ["EXAMPLE PCS"]);
    listing(
        &mut roff,
        vec![
            roman(format!(
                "The following is an example configuration for an {} resource using ",
                agent.name
            )),
            bold("pcs"),
            roman("(8): the same SAN (examples/pcs-mirror-clone.sh):"),
        ],
        &example_commands(PCS_EXAMPLE),
    );

    roff.control("SH", ["SEE ALSO"]);
    let refs = [
        ("iscsi-mirror", "8"),
        ("pcs", "8"),
        ("crm", "8"),
        ("crm_resource", "8"),
        ("iscsiadm", "8"),
        ("zpool", "8"),
        ("zed", "8"),
    ];
    let mut see = Vec::new();
    for (i, (name, section)) in refs.iter().enumerate() {
        see.push(bold(*name));
        see.push(roman(format!(
            "({section}){}",
            if i + 1 < refs.len() { ", " } else { "" }
        )));
    }
    roff.text(see);
    roff.control("PP", []);
    roff.text([roman(format!(
        "The administrator's guide and the examples: /usr/share/doc/{}/.",
        crate::BIN
    ))]);
    roff.control("PP", []);
    roff.text([roman("http://clusterlabs.org/")]);

    roff.control("SH", ["AUTHOR"]);
    roff.text([roman(
        "iscsi-mirror contributors (see the project's history for individual authors)",
    )]);
    roff.render()
}

/// The page for a meta-data document (one that does not parse is a bug in the agent).
pub fn render(metadata: &str, date: &str) -> Result<String, String> {
    parse(metadata)
        .map(|agent| render_agent(&agent, date))
        .map_err(|e| format!("the agent's meta-data does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use iscsi_mirror::params::{ACTIONS, PARAMS};

    fn agent() -> Agent {
        parse(&iscsi_mirror::metadata::document(
            iscsi_mirror::metadata::Form::Ocf11,
        ))
        .unwrap()
    }

    #[test]
    fn the_meta_data_is_read_whole() {
        let a = agent();
        assert_eq!(a.name, "iscsi-mirror");
        assert!(!a.shortdesc.is_empty() && !a.longdesc.is_empty());
        assert_eq!(a.parameters.len(), PARAMS.len());
        for (p, spec) in a.parameters.iter().zip(PARAMS) {
            assert_eq!(p.name, spec.name);
            assert_eq!(p.kind, spec.kind.as_str(), "{}", p.name);
            assert_eq!(p.default.as_deref(), spec.default, "{}", p.name);
            assert_eq!(p.unique, spec.unique, "{}", p.name);
            assert!(!p.longdesc.trim().is_empty(), "{}", p.name);
        }
        assert_eq!(a.actions.len(), ACTIONS.len());
        for (a, spec) in a.actions.iter().zip(ACTIONS) {
            assert_eq!(a.name, spec.name);
            assert_eq!(a.timeout, Some(format!("{}s", spec.timeout_s)));
            assert_eq!(a.interval, spec.interval_s.map(|i| format!("{i}s")));
        }
    }

    #[test]
    fn every_parameter_and_action_is_on_the_page_with_its_type_default_and_timeout() {
        let a = agent();
        let page = render_agent(&a, "2026-01-01");
        for p in &a.parameters {
            let name = p.name.replace('-', "\\-");
            assert!(
                page.contains(&format!(".PP\n\\fB{name}\\fR\n.RS 4\n")),
                "{}",
                p.name
            );
            let line = content_line(p).replace('-', "\\-");
            assert!(page.contains(&line), "{line}");
        }
        for spec in PARAMS {
            let expected = match spec.default {
                Some(d) if spec.kind.as_str() == "string" => format!("default \"{d}\")"),
                Some(d) => format!("default {d})"),
                None => "no default)".to_string(),
            };
            let p = a.parameters.iter().find(|p| p.name == spec.name).unwrap();
            assert!(content_line(p).ends_with(&expected), "{}", spec.name);
        }
        for act in ACTIONS {
            let timeout = format!("Suggested minimum timeout: {}s.", act.timeout_s);
            let name = act.name.replace('-', "\\-");
            let entry = format!(".PP\n\\fB{name}\\fR\n.RS 4\n");
            let at = page.find(&entry).unwrap_or_else(|| panic!("{}", act.name));
            let body = &page[at + entry.len()..];
            let body = &body[..body.find(".RE").unwrap()];
            assert!(body.contains(&timeout), "{}: {body}", act.name);
            if let Some(i) = act.interval_s {
                assert!(body.contains(&format!("Suggested interval: {i}s.")), "{body}");
            }
        }
    }

    #[test]
    fn the_examples_are_the_shipped_ones_a_peers_clone_with_the_seeds_timers() {
        let crm = example_commands(CRMSH_EXAMPLE).join("\n");
        let pcs = example_commands(PCS_EXAMPLE).join("\n");
        for text in [&crm, &pcs] {
            for needle in [
                "ocf:san:iscsi-mirror",
                "peers=",
                "noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10",
                "pool=san-pool",
                "monitor interval=10s timeout=30s",
                "interleave=true",
                "allow-unhealthy-nodes=true",
            ] {
                assert!(text.contains(needle), "{needle} missing in\n{text}");
            }
        }
        assert!(crm.starts_with("primitive "));
        assert!(pcs.starts_with("pcs resource create "));
        let page = render_agent(&agent(), "2026-01-01");
        assert!(page.contains(".SH \"EXAMPLE CRM SHELL\""));
        assert!(page.contains(".SH \"EXAMPLE PCS\""));
        assert!(page.contains("clone san\\-mirror\\-clone san\\-mirror"));
    }

    #[test]
    fn a_string_default_is_quoted_and_an_absent_one_says_so() {
        let p = Parameter {
            name: "x".into(),
            unique: true,
            kind: "string".into(),
            default: Some("a b".into()),
            ..Parameter::default()
        };
        assert_eq!(content_line(&p), "(unique, optional, string, default \"a b\")");
        let q = Parameter {
            kind: "integer".into(),
            required: true,
            ..Parameter::default()
        };
        assert_eq!(content_line(&q), "(required, integer, no default)");
    }
}
