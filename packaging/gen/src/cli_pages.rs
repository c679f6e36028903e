//! `iscsi-mirror.8` and `iscsi-mirror-SUBCOMMAND.8`, from the CLI's clap definition with
//! clap_mangen: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS (top page), EXIT STATUS
//! (the subcommand's after-help, which lists its exit codes), FILES (top page), SEE ALSO.
//! One page per subcommand, as git and cargo do: `man iscsi-mirror` lists them, each with
//! its page.

use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

const SECTION: &str = "8";
const MANUAL: &str = "System Administration";

/// The files the binary is installed as, or reads (packages and `make install` alike).
const FILES: &[(&str, &str)] = &[
    (
        "/usr/lib/ocf/resource.d/san/iscsi-mirror",
        "The binary: the OCF resource agent ocf:san:iscsi-mirror, which Pacemaker runs.",
    ),
    (
        "/usr/sbin/iscsi-mirror",
        "A symbolic link to it, for the subcommands.",
    ),
    (
        "/etc/zfs/zed.d/statechange-iscsi-mirror, /etc/zfs/zed.d/resilver_start-iscsi-mirror, \
/etc/zfs/zed.d/resilver_finish-iscsi-mirror",
        "Symbolic links to /usr/sbin/iscsi-mirror: the ZED hook. ZFS's event daemon runs the \
binary with ZEVENT_* variables when a vdev changes state or a resilver starts or ends; it \
marks the half of the mirror that misses writes as outdated at once. The packages create \
them on first installation; delete one to disable it (upgrades keep it deleted).",
    ),
    (
        "/run/resource-agents/iscsi-mirror/",
        "The agent's state (HA_RSCTMP), read by iscsi-mirror status and the ZED hook.",
    ),
];

fn see_also(roff: &mut Roff, this: &str) {
    let refs = [
        ("iscsi-mirror", SECTION),
        ("ocf_san_iscsi-mirror", "7"),
        ("pcs", "8"),
        ("crm", "8"),
        ("crm_mon", "8"),
        ("iscsiadm", "8"),
        ("zpool", "8"),
        ("zed", "8"),
    ];
    let refs: Vec<_> = refs.iter().filter(|(n, _)| *n != this).collect();
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, (name, section)) in refs.iter().enumerate() {
        line.push(bold(*name));
        let sep = if i + 1 < refs.len() { ", " } else { "" };
        line.push(roman(format!("({section}){sep}")));
    }
    roff.text(line);
}

fn page(cmd: &clap::Command, date: &str, top: bool) -> Result<String, std::io::Error> {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
    let man = Man::new(cmd.clone())
        .title(name.to_uppercase())
        .section(SECTION)
        .date(date)
        .source(crate::source())
        .manual(MANUAL);
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    // As the agent's page (and DocBook's): no hyphenation, ragged right; paths and flags
    // stay whole.
    out.extend_from_slice(b".nh\n.ad l\n");
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let mut roff = Roff::default();
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        roff.control("SH", ["EXIT STATUS"]);
        for (i, para) in after.to_string().split("\n\n").enumerate() {
            if i > 0 {
                roff.control("PP", []);
            }
            roff.text([roman(para.trim())]);
        }
    }
    if top {
        roff.control("SH", ["FILES"]);
        for (path, what) in FILES {
            roff.control("TP", []);
            roff.text([bold(*path)]);
            roff.text([roman(*what)]);
        }
    }
    see_also(&mut roff, &name);
    roff.to_writer(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// (file name, page) for the command and each of its visible subcommands.
pub fn render(cmd: clap::Command, date: &str) -> Result<Vec<(String, String)>, String> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![(format!("{}.{SECTION}", crate::BIN), page(&cmd, date, true))];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_display_name().unwrap_or(sub.get_name());
        pages.push((format!("{name}.{SECTION}"), page(sub, date, false)));
    }
    pages
        .into_iter()
        .map(|(n, p)| p.map(|p| (n, p)).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, bool)>) {
        for a in cmd.get_arguments() {
            let has_help = a.get_help().is_some_and(|h| !h.to_string().trim().is_empty());
            out.push((path.to_string(), a.get_id().to_string(), has_help));
        }
        for s in cmd.get_subcommands() {
            all_args(s, &format!("{path} {}", s.get_name()), out);
        }
    }

    #[test]
    fn every_option_of_every_subcommand_has_help_text() {
        let mut cmd = iscsi_mirror::cli::command();
        cmd.build();
        let mut args = Vec::new();
        all_args(&cmd, "iscsi-mirror", &mut args);
        assert!(args.len() > 20, "{args:?}");
        let missing: Vec<_> = args.iter().filter(|(_, _, h)| !h).collect();
        assert!(missing.is_empty(), "options without help text: {missing:?}");
    }

    #[test]
    fn one_page_per_visible_subcommand_each_with_every_option() {
        let pages = render(iscsi_mirror::cli::command(), "2026-01-01").unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "iscsi-mirror.8");
        let mut cmd = iscsi_mirror::cli::command().disable_help_subcommand(true);
        cmd.build();
        for sub in cmd.get_subcommands() {
            let file = format!("iscsi-mirror-{}.8", sub.get_name());
            let (_, page) = pages
                .iter()
                .find(|(n, _)| *n == file)
                .unwrap_or_else(|| panic!("{file} missing from {names:?}"));
            for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = a.get_long() {
                    let needle = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(page.contains(&needle), "{file} lacks --{long}");
                }
            }
            assert!(page.contains(".SH \"EXIT STATUS\""), "{file}");
            // the top page points at this one
            assert!(
                pages[0].1.contains(&format!(
                    "iscsi\\-mirror\\-{}",
                    sub.get_name().replace('-', "\\-")
                )),
                "iscsi-mirror.8 does not name {file}"
            );
        }
        assert!(names.iter().all(|n| !n.contains("help")), "{names:?}");
    }
}
