//! Child processes, each under a deadline. Arguments go straight to execve; no shell is
//! ever involved.
//!
//! [`run`] returns by its deadline (plus at most [`KILL_GRACE`] to see a killed child die)
//! whatever the child and its descendants do:
//!
//! - The child gets a clean environment, stdin from /dev/null and a process group of its own.
//! - Its exit is seen the moment it happens: a pidfd (Linux >= 5.3) is polled together with
//!   its stdout and stderr pipes, all on the calling thread; no reader thread exists. Without
//!   pidfd, a helper thread blocks in `waitid(WNOWAIT)` and signals an eventfd polled instead.
//!   Nothing sleeps a fixed time.
//! - The group is killed before the leader is reaped: the unreaped leader (alive or a zombie)
//!   pins the process group id, so `killpg` can never hit a reused id. After a normal exit
//!   this removes whatever the leader left running in its group; at the deadline it ends the
//!   child however it treats SIGTERM (it gets SIGKILL).
//! - Output is kept up to [`OUTPUT_LIMIT`] per stream; the rest is read and discarded, so a
//!   flood neither blocks the child nor grows memory, and never holds the call past its time.
//! - A descendant that left the group (`setsid`) is out of our reach. If it holds the pipes,
//!   they are abandoned: after the leader's exit we wait at most [`CLOSE_GRACE`] for them to
//!   close, never for the descendant itself, and say so in the log.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::deadline::Deadline;

/// The search path for bare program names and for the children themselves; Pacemaker
/// gives agents a minimal environment, so we never rely on the caller's PATH.
pub const SEARCH_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin";

/// Output kept per stream; what a child prints beyond this is read and thrown away.
pub const OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

/// After the leader exited and its group was killed: how long its pipes may take to close.
/// Only a holder outside the group (which we cannot kill) makes us wait this long; the
/// output itself is already in the pipes and read at once.
pub const CLOSE_GRACE: Duration = Duration::from_millis(100);

/// After SIGKILL at the deadline: how long we wait to see the child die (and reap it)
/// before abandoning it. Only a child stuck in the kernel (uninterruptible sleep) takes it.
pub const KILL_GRACE: Duration = Duration::from_millis(100);

/// Reads per stream per turn of the loop: a flood cannot keep us reading past the deadline.
const READS_PER_TURN: usize = 16;
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when a signal ended the child (or its end was not seen).
    pub code: Option<i32>,
    /// The signal that ended the child, if one did.
    pub signal: Option<i32>,
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
pub fn resolve(program: &str) -> Option<PathBuf> {
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

/// Runs `program args` with a clean environment, stdin from /dev/null, in a process group
/// of its own, until it exits or the deadline passes (see the module's description).
pub fn run(program: &str, args: &[&str], deadline: Deadline) -> Result<Output, RunError> {
    let path = resolve(program).ok_or_else(|| RunError::NotFound(program.to_string()))?;
    run_path(&path, args, deadline, Watcher::Pidfd)
}

/// How the child's exit is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watcher {
    /// pidfd_open(2), falling back to `Thread` where the kernel lacks it.
    Pidfd,
    /// A helper thread blocked in waitid(2) signals an eventfd (chosen directly by tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Thread,
}

/// Variables a child inherits from us: Pacemaker's own way to point its tools at a saved
/// CIB (an admin working offline, a test), nothing else.
const PASSED_THROUGH: &[&str] = &["CIB_file"];

fn run_path(path: &Path, args: &[&str], deadline: Deadline, watcher: Watcher) -> Result<Output, RunError> {
    let started = Instant::now();
    let mut command = Command::new(path);
    command
        .args(args)
        .env_clear()
        .env("PATH", SEARCH_PATH)
        .env("LANG", "C")
        .env("LC_ALL", "C");
    for name in PASSED_THROUGH {
        if let Some(v) = std::env::var_os(name) {
            command.env(name, v);
        }
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| RunError::Spawn(format!("{}: {e}", path.display())))?;
    // Process ids fit in pid_t (the kernel's pid_max is at most 2^22).
    let pid = Pid::from_raw(child.id() as libc::pid_t);
    let mut pipes = [
        Capture::new(child.stdout.take().map(OwnedFd::from)),
        Capture::new(child.stderr.take().map(OwnedFd::from)),
    ];
    // Dropping a Child neither waits for nor kills it: the child is ours to reap below.
    drop(child);
    let name = path.display();
    let watch = match ExitWatch::start(pid, watcher) {
        Ok(w) => w,
        Err(e) => {
            // Unreaped, the leader still pins its group id.
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = reap(pid);
            return Err(RunError::Spawn(format!("{name}: cannot watch for its exit: {e}")));
        }
    };
    let mut scratch = vec![0u8; CHUNK];
    let exit = match pump(&mut pipes, Some(&watch), pid, deadline, &mut scratch) {
        Turn::Exited(exit) => {
            if !exit.reaped {
                // A zombie now, the leader pins its group id: end what it left in its group,
                // then reap. (Reaped already, it pins nothing, and killpg could hit a reused
                // id: what it left is then left alone and its pipes abandoned.)
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = reap(pid);
            }
            let closing = deadline.capped(CLOSE_GRACE);
            read_until_closed(&mut pipes, pid, closing, &mut scratch, &name, "exited");
            Some(exit)
        }
        Turn::TimeUp | Turn::Closed => {
            // Alive or a zombie, the unreaped leader pins its group id: kill the whole group.
            let _ = killpg(pid, Signal::SIGKILL);
            let grace = Deadline::after(KILL_GRACE);
            match pump(&mut pipes, Some(&watch), pid, grace, &mut scratch) {
                Turn::Exited(_) => {
                    let _ = reap(pid);
                    read_until_closed(&mut pipes, pid, grace, &mut scratch, &name, "was killed");
                }
                _ => tracing::warn!(
                    "{name} (pid {pid}) is still alive {} ms after SIGKILL (stuck in the kernel?): abandoned",
                    KILL_GRACE.as_millis()
                ),
            }
            None
        }
    };
    let [out, err] = pipes;
    let stdout = out.into_text(&name, "stdout");
    let stderr = err.into_text(&name, "stderr");
    match exit {
        Some(exit) => Ok(Output {
            code: exit.code,
            signal: exit.signal,
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

/// How the leader ended, as waitid(2) told it.
#[derive(Debug, Clone, Copy)]
struct Exit {
    code: Option<i32>,
    signal: Option<i32>,
    /// Gone without our reaping it: its group id is no longer pinned, so never killpg it.
    reaped: bool,
}

enum Turn {
    /// The leader exited (it is a zombie, not reaped yet).
    Exited(Exit),
    /// Both pipes reached end of file (only without a watch).
    Closed,
    /// `until` passed.
    TimeUp,
}

/// Polls the open pipes, and the exit watch when given, reading what arrives. Returns when
/// the leader exited (with a watch), when both pipes are closed (without), or when `until`
/// passes. It always looks at least once, so what is already in the pipes is read even at
/// the deadline.
fn pump(
    pipes: &mut [Capture; 2],
    watch: Option<&ExitWatch>,
    pid: Pid,
    until: Deadline,
    scratch: &mut [u8],
) -> Turn {
    loop {
        if watch.is_none() && pipes.iter().all(|p| !p.is_open()) {
            return Turn::Closed;
        }
        // Which of [stdout, stderr, watch] poll found ready.
        let mut ready = [false; 3];
        {
            let mut fds = Vec::with_capacity(3);
            let mut slots = Vec::with_capacity(3);
            for (i, p) in pipes.iter().enumerate() {
                if let Some(fd) = p.fd() {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                    slots.push(i);
                }
            }
            if let Some(w) = watch {
                fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
                slots.push(2);
            }
            match poll(&mut fds, poll_timeout(until.remaining())) {
                Ok(_) => {
                    for (fd, &slot) in fds.iter().zip(&slots) {
                        ready[slot] = fd.revents().is_some_and(|r| !r.is_empty());
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::warn!("poll on a child's pipes failed: {e}");
                    return Turn::TimeUp;
                }
            }
        }
        for (pipe, _) in pipes.iter_mut().zip(ready).filter(|(_, r)| *r) {
            pipe.read_available(scratch);
        }
        if ready[2] {
            // On Linux < 5.7 a pidfd may turn readable when the leader thread exits while
            // other threads live on; then this loop spins until the deadline, bounded.
            if let Some(exit) = peek_exit(pid) {
                return Turn::Exited(exit);
            }
        }
        if until.expired() {
            return Turn::TimeUp;
        }
    }
}

/// Reads the pipes until both close or `until` passes. One still open then is held by a
/// process that left the child's group: it is abandoned, never waited for.
fn read_until_closed(
    pipes: &mut [Capture; 2],
    pid: Pid,
    until: Deadline,
    scratch: &mut [u8],
    name: &dyn std::fmt::Display,
    what_happened: &str,
) {
    if !matches!(pump(pipes, None, pid, until, scratch), Turn::Closed) {
        tracing::warn!(
            "{name} {what_happened}, but a process that left its process group still holds its output: \
             not waiting for it"
        );
    }
}

/// The remaining time in whole milliseconds, rounded up so a wait never ends just short
/// of the deadline and turns into a spin.
fn poll_timeout(left: Duration) -> PollTimeout {
    PollTimeout::try_from(left.as_micros().div_ceil(1000)).unwrap_or(PollTimeout::MAX)
}

/// The leader's end, seen without reaping it (WNOWAIT); `None` while it runs.
fn peek_exit(pid: Pid) -> Option<Exit> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    match waitid(Id::Pid(pid), flags) {
        Ok(WaitStatus::Exited(_, code)) => Some(Exit {
            code: Some(code),
            signal: None,
            reaped: false,
        }),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(Exit {
            code: None,
            signal: Some(sig as i32),
            reaped: false,
        }),
        Ok(_) | Err(Errno::EINTR) => None,
        Err(e) => {
            // ECHILD: the kernel reaped it already (SIGCHLD ignored, which lib::entry undoes);
            // the end is known, its status is not.
            tracing::warn!("waiting for child {pid}: {e}; its exit status is unknown");
            Some(Exit {
                code: None,
                signal: None,
                reaped: true,
            })
        }
    }
}

/// Reaps the leader, which has exited or was sent SIGKILL; never blocks.
fn reap(pid: Pid) -> nix::Result<WaitStatus> {
    loop {
        match waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG) {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

/// A file descriptor that turns readable once the child has exited.
enum ExitWatch {
    Pidfd(OwnedFd),
    /// Fallback without pidfd: a helper thread blocks in waitid(WEXITED|WNOWAIT), which
    /// sees the exit without reaping, then signals this eventfd (writing an eventfd can
    /// never raise SIGPIPE). The thread ends once the child has exited or was reaped; only
    /// a child we had to abandon (unkillable) keeps it waiting.
    Thread(Arc<EventFd>),
}

impl ExitWatch {
    fn start(pid: Pid, watcher: Watcher) -> io::Result<ExitWatch> {
        if watcher == Watcher::Pidfd {
            match pidfd_open(pid) {
                Ok(fd) => return Ok(ExitWatch::Pidfd(fd)),
                Err(e) => tracing::debug!("pidfd_open: {e}; watching for the child's exit from a thread"),
            }
        }
        let event = Arc::new(EventFd::from_flags(
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        let signal = Arc::clone(&event);
        std::thread::Builder::new()
            .name(format!("exit-of-{pid}"))
            .spawn(move || {
                let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
                while waitid(Id::Pid(pid), flags) == Err(Errno::EINTR) {}
                let _ = signal.arm();
            })?;
        Ok(ExitWatch::Thread(event))
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            ExitWatch::Pidfd(fd) => fd.as_fd(),
            ExitWatch::Thread(event) => event.as_fd(),
        }
    }
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes two integers and returns a new descriptor or -1; it
    // touches no memory of ours. `pid` is our unreaped child, so it names no other process.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0 as libc::c_uint) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd =
        libc::c_int::try_from(ret).map_err(|_| io::Error::other("pidfd_open: descriptor out of range"))?;
    // SAFETY: the kernel just gave us this descriptor (close-on-exec); nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One output pipe: non-blocking, read only when poll says so, kept up to the limit.
struct Capture {
    pipe: Option<File>,
    kept: Vec<u8>,
    discarded: u64,
}

impl Capture {
    fn new(fd: Option<OwnedFd>) -> Capture {
        let pipe = fd.and_then(|fd| match set_nonblocking(&fd) {
            Ok(()) => Some(File::from(fd)),
            Err(e) => {
                // Never read blocking: without O_NONBLOCK the pipe is closed (the child
                // sees EPIPE) rather than risk a read past the deadline.
                tracing::warn!("cannot make a child's pipe non-blocking ({e}); its output is dropped");
                None
            }
        });
        Capture {
            pipe,
            kept: Vec::new(),
            discarded: 0,
        }
    }

    fn is_open(&self) -> bool {
        self.pipe.is_some()
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }

    /// Reads what the pipe holds now, without blocking and for a bounded number of reads;
    /// closes it at end of file (or on an error, which ends the stream just the same).
    fn read_available(&mut self, scratch: &mut [u8]) {
        for _ in 0..READS_PER_TURN {
            let Some(pipe) = self.pipe.as_mut() else {
                return;
            };
            match pipe.read(scratch) {
                Ok(0) => self.pipe = None,
                Ok(n) => self.keep(&scratch[..n.min(scratch.len())]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => self.pipe = None,
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = OUTPUT_LIMIT.saturating_sub(self.kept.len()).min(bytes.len());
        self.kept.extend_from_slice(&bytes[..room]);
        self.discarded += (bytes.len() - room) as u64;
    }

    fn into_text(self, program: &impl std::fmt::Display, stream: &str) -> String {
        if self.discarded > 0 {
            tracing::debug!(
                "{program}: kept the first {} bytes of its {stream}, discarded {} more",
                self.kept.len(),
                self.discarded
            );
        }
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = OFlag::from_bits_retain(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

#[cfg(test)]
mod tests {
    //! The runner's internals and its exit-watch fallback; the scenarios through the public
    //! API are in tests/process_deadline.rs.
    use super::*;

    fn sh(script: &str, deadline: Duration, watcher: Watcher) -> (Result<Output, RunError>, Duration) {
        let t = Instant::now();
        let r = run_path(
            Path::new("/bin/sh"),
            &["-c", script],
            Deadline::after(deadline),
            watcher,
        );
        (r, t.elapsed())
    }

    #[test]
    fn the_thread_watcher_reports_codes_and_signals() {
        let (r, _) = sh(
            "echo out; echo err >&2; exit 3",
            Duration::from_secs(5),
            Watcher::Thread,
        );
        let out = r.unwrap();
        assert_eq!((out.code, out.signal), (Some(3), None));
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("out\n", "err\n"));
        let (r, _) = sh("kill -TERM $$", Duration::from_secs(5), Watcher::Thread);
        let out = r.unwrap();
        assert_eq!((out.code, out.signal), (None, Some(libc::SIGTERM)));
    }

    #[test]
    fn the_thread_watcher_kills_a_term_ignoring_child_at_the_deadline() {
        let (r, took) = sh(
            "trap '' TERM; sleep 30 & sleep 30",
            Duration::from_millis(300),
            Watcher::Thread,
        );
        assert!(matches!(r, Err(RunError::TimedOut { .. })), "{r:?}");
        assert!(took < Duration::from_millis(1300), "{took:?}");
    }

    #[test]
    fn the_thread_watcher_abandons_pipes_held_outside_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("escaped.pid");
        let f = f.display();
        // The child goes on once the grandchild has left its group (it writes its pid after setsid).
        let script = format!(
            "setsid sh -c 'echo $$ > {f}; exec sleep 30' & while [ ! -s {f} ]; do sleep 0.01; done; echo started"
        );
        let (r, took) = sh(&script, Duration::from_secs(5), Watcher::Thread);
        let escaped = std::fs::read_to_string(dir.path().join("escaped.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .map(Pid::from_raw);
        let alive = escaped.is_some_and(|pid| nix::sys::signal::kill(pid, None).is_ok());
        if let Some(pid) = escaped {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        }
        let out = r.unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout, "started\n");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(alive, "the scenario needs the grandchild to outlive the call");
    }

    #[test]
    fn output_beyond_the_limit_is_discarded_not_kept() {
        let mut c = Capture::new(None);
        c.keep(&vec![b'a'; OUTPUT_LIMIT - 1]);
        c.keep(b"bcd");
        assert_eq!(c.kept.len(), OUTPUT_LIMIT);
        assert_eq!(c.discarded, 2);
        assert!(c.into_text(&"x", "stdout").ends_with("ab"));
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(i32::from(poll_timeout(Duration::from_micros(1))), 1);
        assert_eq!(i32::from(poll_timeout(Duration::ZERO)), 0);
        assert_eq!(i32::from(poll_timeout(Duration::from_millis(1500))), 1500);
        assert_eq!(i32::from(poll_timeout(Duration::from_secs(u64::MAX))), i32::MAX);
    }
}
