//! A private name service for one command: its `/etc/hosts`, `/etc/nsswitch.conf` and
//! `/etc/resolv.conf` replaced by bind mounts in a mount namespace of its own (needs root),
//! so that a test decides what a host name resolves to, that nothing resolves, or that DNS
//! never answers, without touching the host's files. Children inherit it: the simulated
//! iscsiadm the agent runs resolves the way the agent does, as the real one would.

use std::ffi::CString;
use std::io;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug)]
pub struct Resolver {
    hosts: PathBuf,
    nsswitch: PathBuf,
    resolv: PathBuf,
}

impl Resolver {
    fn write(dir: &Path, hosts: &str, nsswitch: &str, resolv: &str) -> io::Result<Resolver> {
        std::fs::create_dir_all(dir)?;
        let r = Resolver {
            hosts: dir.join("hosts"),
            nsswitch: dir.join("nsswitch.conf"),
            resolv: dir.join("resolv.conf"),
        };
        std::fs::write(&r.hosts, hosts)?;
        std::fs::write(&r.nsswitch, nsswitch)?;
        std::fs::write(&r.resolv, resolv)?;
        Ok(r)
    }

    /// Host names from `hosts` (an /etc/hosts text) only: a name not listed does not
    /// resolve ("Name or service not known"), at once.
    pub fn files(dir: &Path, hosts: &str) -> io::Result<Resolver> {
        Self::write(dir, hosts, "hosts: files\n", "options attempts:1 timeout:1\n")
    }

    /// Host names from DNS only, asked of `nameserver` (port 53) with glibc's per-try
    /// `timeout_s` and `attempts`: a server that never answers makes every lookup hang
    /// for their product.
    pub fn dns(dir: &Path, nameserver: IpAddr, timeout_s: u32, attempts: u32) -> io::Result<Resolver> {
        Self::write(
            dir,
            "",
            "hosts: dns\n",
            &format!("nameserver {nameserver}\noptions timeout:{timeout_s} attempts:{attempts}\n"),
        )
    }

    pub fn hosts_file(&self) -> &Path {
        &self.hosts
    }

    pub fn resolv_file(&self) -> &Path {
        &self.resolv
    }

    /// Makes `cmd` run with this name service: in its child, before exec, a new mount
    /// namespace with the three files bound over the system's.
    pub fn apply(&self, cmd: &mut Command) {
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("a path without NUL");
        let binds: Vec<(CString, CString)> = [
            (&self.hosts, "/etc/hosts"),
            (&self.nsswitch, "/etc/nsswitch.conf"),
            (&self.resolv, "/etc/resolv.conf"),
        ]
        .into_iter()
        .map(|(src, dst)| (c(src), c(Path::new(dst))))
        .collect();
        let root = c(Path::new("/"));
        // SAFETY: only async-signal-safe system calls run between fork and exec, on
        // strings made before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // Our mounts must not leak back into the host's namespace.
                if libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                for (src, dst) in &binds {
                    if libc::mount(
                        src.as_ptr(),
                        dst.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    ) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
}
