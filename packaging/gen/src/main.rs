//! `iscsi-mirror-gen OUTDIR`: the man pages and shell completions of iscsi-mirror, written
//! at build time from the code itself, so that they cannot disagree with it:
//!
//! - `OUTDIR/man/ocf_san_iscsi-mirror.7` from the agent's meta-data (`metadata::document(Form::Ocf11)`,
//!   the document Pacemaker reads), in the shape of resource-agents' `ocf_heartbeat_*.7`;
//! - `OUTDIR/man/iscsi-mirror.8` and one `iscsi-mirror-SUBCOMMAND.8` per subcommand from
//!   the CLI's clap definition (`cli::command()`), with clap_mangen;
//! - `OUTDIR/completions/iscsi-mirror.bash` and `OUTDIR/completions/_iscsi-mirror` (zsh)
//!   from the same definition, with clap_complete.
//!
//! The pages' date is SOURCE_DATE_EPOCH's (reproducible builds), else today's.
//! Not part of the shipped binary: Pacemaker runs that one every few seconds, and it needs
//! neither clap_mangen nor clap_complete.

mod agent_page;
mod cli_pages;
mod date;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

/// The binary's name, as installed and as the completions register it.
pub const BIN: &str = "iscsi-mirror";
/// `iscsi-mirror 0.1.0`: the source column of every page's title line.
pub fn source() -> String {
    format!("{BIN} {}", env!("CARGO_PKG_VERSION"))
}

/// Every file this generator writes, relative to OUTDIR, with its contents.
pub fn files(date: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let man = PathBuf::from("man");
    let mut out = vec![(
        man.join(agent_page::FILE_NAME),
        agent_page::render(
            &iscsi_mirror::metadata::document(iscsi_mirror::metadata::Form::Ocf11),
            date,
        )?
        .into_bytes(),
    )];
    for (name, page) in cli_pages::render(iscsi_mirror::cli::command(), date)? {
        out.push((man.join(name), page.into_bytes()));
    }
    let completions = PathBuf::from("completions");
    out.push((completions.join("iscsi-mirror.bash"), bash_completion()?));
    let mut zsh = Vec::new();
    clap_complete::generate(Shell::Zsh, &mut iscsi_mirror::cli::command(), BIN, &mut zsh);
    out.push((completions.join("_iscsi-mirror"), zsh));
    Ok(out)
}

/// clap_complete (4.6.12) spells a hyphenated binary's states two ways in bash, so nothing
/// completes after a subcommand (clap-rs/clap#6421). Generated for a name without the
/// hyphen, the states agree; only the `complete` lines then name the real command.
pub fn bash_completion() -> Result<Vec<u8>, String> {
    let stand_in = BIN.replace('-', "_");
    let mut buf = Vec::new();
    clap_complete::generate(
        Shell::Bash,
        &mut iscsi_mirror::cli::command(),
        &stand_in,
        &mut buf,
    );
    let text = String::from_utf8(buf).map_err(|e| e.to_string())?;
    let register = format!(" {stand_in}");
    let mut renamed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.trim_start().starts_with("complete -F") {
            true if line.ends_with(&register) => {
                renamed += 1;
                format!("{} {BIN}", &line[..line.len() - register.len()])
            }
            _ => line.to_string(),
        })
        .collect();
    if renamed == 0 {
        return Err("bash completion: no `complete -F ... iscsi_mirror` line to rename".into());
    }
    Ok((lines.join("\n") + "\n").into_bytes())
}

fn write_all(outdir: &Path, date: &str) -> Result<(), String> {
    for (rel, bytes) in files(date)? {
        let path = outdir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, bytes));
        written.map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [outdir] = args.as_slice() else {
        eprintln!("usage: iscsi-mirror-gen OUTDIR");
        return ExitCode::from(64);
    };
    let date = date::from_env();
    match write_all(Path::new(outdir), &date) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iscsi-mirror-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates bash offers for `words` (the last one being completed).
    fn bash_complete(words: &[&str]) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("iscsi-mirror-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("completion.bash");
        std::fs::write(&file, bash_completion().unwrap()).unwrap();
        let script = r#"source "$0"
            fn=$(complete -p iscsi-mirror | sed -n 's/.*-F \([^ ]*\).*/\1/p')
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
            "$fn" iscsi-mirror "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\n' "${COMPREPLY[@]}""#;
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .arg(&file)
            .args(words)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn bash_completes_subcommands_and_each_subcommands_options() {
        assert_eq!(bash_complete(&["iscsi-mirror", "sta"]), ["status"]);
        let mut cmd = iscsi_mirror::cli::command();
        cmd.build();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let offered = bash_complete(&["iscsi-mirror", sub.get_name(), "--"]);
            for arg in sub.get_arguments() {
                if let Some(long) = arg.get_long() {
                    let flag = format!("--{long}");
                    assert!(offered.contains(&flag), "{} {flag}: {offered:?}", sub.get_name());
                }
            }
        }
    }

    #[test]
    fn every_file_is_written_and_nonempty() {
        let files = files("2026-01-01").unwrap();
        let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
        for want in [
            "man/ocf_san_iscsi-mirror.7",
            "man/iscsi-mirror.8",
            "man/iscsi-mirror-status.8",
            "completions/iscsi-mirror.bash",
            "completions/_iscsi-mirror",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(files.iter().all(|(_, b)| b.len() > 200));
    }
}
