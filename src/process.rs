//! Child processes, each under a deadline: killed (its whole process group) when time is up.
//! Arguments go straight to execve; no shell is ever involved.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::deadline::Deadline;

/// The search path for bare program names and for the children themselves; Pacemaker
/// gives agents a minimal environment, so we never rely on the caller's PATH.
pub const SEARCH_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when a signal ended the child.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    NotFound(String),
    Spawn(String),
    /// Killed at the deadline; what it printed until then.
    TimedOut {
        after: Duration,
        stdout: String,
        stderr: String,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotFound(p) => write!(f, "{p} not found or not executable"),
            RunError::Spawn(e) => write!(f, "could not start: {e}"),
            RunError::TimedOut { after, .. } => write!(
                f,
                "did not finish within {:.1} s and was killed",
                after.as_secs_f64()
            ),
        }
    }
}

/// Finds a program: an absolute path as given, a bare name in `SEARCH_PATH`.
/// ocf-tester sets OCF_TESTER_FAIL_HAVE_BINARY to check how an agent copes without its tools.
pub fn resolve(program: &str) -> Option<PathBuf> {
    if std::env::var_os("OCF_TESTER_FAIL_HAVE_BINARY").is_some() {
        return None;
    }
    let is_exec = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.starts_with('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    SEARCH_PATH
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| is_exec(p))
}

/// Runs `program args` with a clean environment, stdin from /dev/null, until it exits or
/// the deadline passes.
pub fn run(program: &str, args: &[&str], deadline: Deadline) -> Result<Output, RunError> {
    let path = resolve(program).ok_or_else(|| RunError::NotFound(program.to_string()))?;
    let started = std::time::Instant::now();
    let mut child = Command::new(&path)
        .args(args)
        .env_clear()
        .env("PATH", SEARCH_PATH)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| RunError::Spawn(format!("{}: {e}", path.display())))?;
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let status = wait_until(&mut child, deadline);
    // Readers end once every holder of the pipes is gone; a killed group releases them.
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            code: status.code(),
            stdout,
            stderr,
        }),
        None => Err(RunError::TimedOut {
            after: started.elapsed(),
            stdout,
            stderr,
        }),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // Bounded: a runaway child cannot make us hold unbounded output.
            let _ = p.by_ref().take(4 * 1024 * 1024).read_to_end(&mut buf);
            let _ = std::io::copy(&mut p, &mut std::io::sink());
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn wait_until(child: &mut Child, deadline: Deadline) -> Option<std::process::ExitStatus> {
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // The leader is gone; make sure nothing it left behind keeps our pipes open.
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                return Some(status);
            }
            Ok(None) if !deadline.expired() => {
                deadline.sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            _ => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn collects_output_and_code() {
        let out = run(
            "/bin/sh",
            &["-c", "echo out; echo err >&2; exit 3"],
            Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn a_hung_child_and_its_children_are_killed_at_the_deadline() {
        let t = Instant::now();
        let err = run(
            "/bin/sh",
            &["-c", "sleep 30 & sleep 30"],
            Deadline::after(Duration::from_millis(300)),
        )
        .unwrap_err();
        assert!(matches!(err, RunError::TimedOut { .. }), "{err:?}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }

    #[test]
    fn missing_program_is_not_found() {
        assert!(matches!(
            run(
                "/nonexistent/iscsiadm",
                &[],
                Deadline::after(Duration::from_secs(1))
            ),
            Err(RunError::NotFound(_))
        ));
        assert!(matches!(
            run(
                "no-such-program-xyz",
                &[],
                Deadline::after(Duration::from_secs(1))
            ),
            Err(RunError::NotFound(_))
        ));
    }

    #[test]
    fn environment_is_clean() {
        std::env::set_var("ISCSI_MIRROR_TEST_SECRET", "x");
        let out = run("/usr/bin/env", &[], Deadline::after(Duration::from_secs(5))).unwrap();
        assert!(!out.stdout.contains("ISCSI_MIRROR_TEST_SECRET"));
        assert!(out.stdout.contains("LANG=C"));
    }
}
