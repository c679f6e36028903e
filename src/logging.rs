//! Logging as ocf_log does it: syslog when not on a terminal, stderr on one; debug with
//! PCMK_debug or HA_debug (`ocf::Env::debug`). Off a terminal, messages also go to stderr,
//! where pacemaker-execd records them in pacemaker.log beside the operation.

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::redact;

struct OcfLog {
    tag: String,
    terminal: bool,
    max: Level,
}

static IDENT: OnceLock<CString> = OnceLock::new();

pub fn init(instance: &str, debug: bool) {
    let terminal = std::io::stderr().is_terminal();
    let tag = format!("iscsi-mirror({instance})");
    if !terminal {
        let ident = IDENT.get_or_init(|| CString::new(tag.replace('\0', "")).unwrap_or_default());
        // SAFETY: ident lives for the whole process (static), as openlog requires.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    }
    let layer = OcfLog {
        tag,
        terminal,
        max: if debug { Level::DEBUG } else { Level::INFO },
    };
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for OcfLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max {
            return;
        }
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let text = redact::secrets(&msg.0).replace('\n', " ");
        let (word, priority) = match level {
            Level::ERROR => ("ERROR", libc::LOG_ERR),
            Level::WARN => ("WARNING", libc::LOG_WARNING),
            Level::INFO => ("INFO", libc::LOG_INFO),
            _ => ("DEBUG", libc::LOG_DEBUG),
        };
        eprintln!("{} {}: {word}: {text}", timestamp(), self.tag);
        if !self.terminal {
            if let Ok(c) = CString::new(format!("{word}: {text}").replace('\0', "")) {
                // SAFETY: a constant format string and a NUL-terminated argument.
                unsafe { libc::syslog(priority, c"%s".as_ptr(), c.as_ptr()) };
            }
        }
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r writes only into the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}
