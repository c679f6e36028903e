//! The runner `process::run` replaced (commit f523392, src/process.rs), kept only for this
//! benchmark: exit seen by polling try_wait with sleeps of 2 ms doubling to 50 ms, output
//! read by one thread per pipe, killpg after the leader was reaped. Not used by the agent.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use iscsi_mirror::deadline::Deadline;
use iscsi_mirror::process::{resolve, SEARCH_PATH};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Exit code (None: signalled or killed at the deadline) and stdout.
pub fn run(program: &str, args: &[&str], deadline: Deadline) -> Option<(Option<i32>, String)> {
    let path = resolve(program)?;
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
        .ok()?;
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let status = wait_until(&mut child, deadline);
    let stdout = out_reader.join().unwrap_or_default();
    let _ = err_reader.join();
    Some((status.and_then(|s| s.code()), stdout))
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
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
