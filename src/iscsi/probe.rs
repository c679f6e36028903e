//! A minimal iSCSI login-phase probe (RFC 7143, 11.12 and 11.13): one Login Request in the
//! security stage over TCP, the target's Login Response read and judged, the connection
//! closed. It tells a target that speaks iSCSI from a port that merely accepts TCP, and
//! names why a target refuses (not found, ACL, authentication, busy) without logging in:
//! the probe never leaves the security stage, so no session exists on either side.
//!
//! Every step (connect, write, each read) is bounded by the caller's deadline, and the
//! response's length is bounded, so neither a silent nor a babbling peer can hold it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::deadline::Deadline;

const BHS_LEN: usize = 48;
const OP_LOGIN_REQUEST: u8 = 0x03;
const OP_LOGIN_RESPONSE: u8 = 0x23;
const OP_REJECT: u8 = 0x3f;
/// The I bit: the request is immediate.
const IMMEDIATE: u8 = 0x40;
/// Transit to the next stage, current stage 0 (security negotiation), next stage 1
/// (operational negotiation).
const T_CSG0_NSG1: u8 = 0x80 | 0x01;
/// The longest data segment a Login Response may carry here (targets send a few hundred
/// bytes; RFC 7143 allows 8192 before MaxRecvDataSegmentLength is negotiated).
const MAX_DATA: usize = 65_536;

/// What this probe offers for authentication, in order of preference: a target that
/// requires CHAP picks CHAP, one that does not picks None.
pub const OFFERED_AUTH: &str = "None,CHAP";

/// The Login Request a new session's first connection sends in the security stage.
pub fn login_request(initiator: &str, target: &str, isid: [u8; 6], itt: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in [
        ("InitiatorName", initiator),
        ("TargetName", target),
        ("SessionType", "Normal"),
        ("AuthMethod", OFFERED_AUTH),
    ] {
        data.extend_from_slice(k.as_bytes());
        data.push(b'=');
        data.extend_from_slice(v.as_bytes());
        data.push(0);
    }
    let len = data.len();
    let mut pdu = vec![0u8; BHS_LEN];
    pdu[0] = IMMEDIATE | OP_LOGIN_REQUEST;
    pdu[1] = T_CSG0_NSG1;
    // Version-max and version-min 0 (RFC 7143's only version).
    pdu[4] = 0; // TotalAHSLength
    pdu[5] = (len >> 16) as u8;
    pdu[6] = (len >> 8) as u8;
    pdu[7] = len as u8;
    pdu[8..14].copy_from_slice(&isid);
    // TSIH 0: a new session. CID 0. CmdSN and ExpStatSN 0: the first PDU of the session.
    pdu[16..20].copy_from_slice(&itt.to_be_bytes());
    pdu.extend_from_slice(&data);
    pdu.resize(pdu.len() + (4 - len % 4) % 4, 0);
    pdu
}

/// A random ISID of the "random" format (T = 10b), so the probe can never be taken for,
/// or reinstate, one of open-iscsi's sessions (whose ISIDs are of the OUI format).
pub fn random_isid(r: [u8; 3]) -> [u8; 6] {
    [0x80, r[0], r[1], r[2], 0, 0]
}

/// A Login Response, as far as the probe reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub transit: bool,
    pub csg: u8,
    pub nsg: u8,
    pub version_active: u8,
    pub itt: u32,
    pub status_class: u8,
    pub status_detail: u8,
    /// The text keys of its data segment, in order.
    pub keys: Vec<(String, String)>,
}

impl Response {
    pub fn key(&self, name: &str) -> Option<&str> {
        self.keys.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The basic header segment: (opcode, AHS bytes, data segment length) or why it is not one.
pub fn parse_bhs(bhs: &[u8; BHS_LEN]) -> Result<Response, String> {
    let opcode = bhs[0] & 0x3f;
    if opcode == OP_REJECT {
        return Err(format!("the target sent a Reject PDU (reason 0x{:02x})", bhs[2]));
    }
    if opcode != OP_LOGIN_RESPONSE {
        return Err(format!(
            "not an iSCSI Login Response (opcode 0x{opcode:02x}, first bytes {})",
            hex(&bhs[..8])
        ));
    }
    Ok(Response {
        transit: bhs[1] & 0x80 != 0,
        csg: (bhs[1] >> 2) & 0x03,
        nsg: bhs[1] & 0x03,
        version_active: bhs[3],
        itt: u32::from_be_bytes([bhs[16], bhs[17], bhs[18], bhs[19]]),
        status_class: bhs[36],
        status_detail: bhs[37],
        keys: Vec::new(),
    })
}

fn data_lengths(bhs: &[u8; BHS_LEN]) -> (usize, usize) {
    let ahs = usize::from(bhs[4]) * 4;
    let data = (usize::from(bhs[5]) << 16) | (usize::from(bhs[6]) << 8) | usize::from(bhs[7]);
    (ahs, data)
}

/// `key=value\0...` text, as iSCSI's text keys are carried; malformed pairs are skipped.
pub fn parse_keys(data: &[u8]) -> Vec<(String, String)> {
    data.split(|b| *b == 0)
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let text = String::from_utf8_lossy(kv);
            let (k, v) = text.split_once('=')?;
            Some((crate::text::printable(k), crate::text::printable(v)))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(" ")
}

/// What the probe learnt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The target answered the login: its status and, on success, the authentication it
    /// chose from the offer.
    Answered {
        status_class: u8,
        status_detail: u8,
        auth_method: Option<String>,
        /// Where a redirection points.
        target_address: Option<String>,
        elapsed_ms: u64,
    },
    /// No TCP connection within the deadline (refused, unreachable, timed out).
    NoConnection { why: String },
    /// Connected, but no complete answer before the deadline, or the peer hung up.
    NoAnswer { why: String },
    /// Something answered that is not an iSCSI Login Response.
    Malformed { why: String },
}

/// Opens a connection to `addr`, sends one Login Request and reads the response, all
/// before `deadline`; the connection is closed whatever happens.
pub fn probe(addr: SocketAddr, initiator: &str, target: &str, isid: [u8; 6], deadline: Deadline) -> Outcome {
    let started = Instant::now();
    let left = deadline.remaining();
    if left.is_zero() {
        return Outcome::NoConnection {
            why: "no time left for the probe".into(),
        };
    }
    let mut stream = match TcpStream::connect_timeout(&addr, left) {
        Ok(s) => s,
        Err(e) => return Outcome::NoConnection { why: e.to_string() },
    };
    let _ = stream.set_nodelay(true);
    let itt = u32::from_be_bytes([isid[1], isid[2], isid[3], 0x5a]);
    let outcome = exchange(&mut stream, initiator, target, isid, itt, deadline, started);
    let _ = stream.shutdown(Shutdown::Both);
    outcome
}

fn exchange(
    stream: &mut TcpStream,
    initiator: &str,
    target: &str,
    isid: [u8; 6],
    itt: u32,
    deadline: Deadline,
    started: Instant,
) -> Outcome {
    let request = login_request(initiator, target, isid, itt);
    if let Err(why) = with_timeout(stream, deadline, |s| {
        s.set_write_timeout(Some(deadline.remaining()))
    })
    .and_then(|_| stream.write_all(&request).map_err(|e| e.to_string()))
    {
        return Outcome::NoAnswer {
            why: format!("sending the login request: {why}"),
        };
    }
    let mut bhs = [0u8; BHS_LEN];
    if let Err(why) = read_full(stream, &mut bhs, deadline) {
        return Outcome::NoAnswer { why };
    }
    let mut response = match parse_bhs(&bhs) {
        Ok(r) => r,
        Err(why) => return Outcome::Malformed { why },
    };
    let (ahs, data) = data_lengths(&bhs);
    if data > MAX_DATA {
        return Outcome::Malformed {
            why: format!("a Login Response announcing {data} bytes of data (at most {MAX_DATA} expected)"),
        };
    }
    let mut rest = vec![0u8; ahs + data + (4 - data % 4) % 4];
    if let Err(why) = read_full(stream, &mut rest, deadline) {
        return Outcome::Malformed {
            why: format!("a Login Response cut short: {why}"),
        };
    }
    if response.itt != itt {
        return Outcome::Malformed {
            why: format!(
                "a Login Response for another task (tag 0x{:08x}, sent 0x{itt:08x})",
                response.itt
            ),
        };
    }
    response.keys = parse_keys(&rest[ahs..ahs + data]);
    Outcome::Answered {
        status_class: response.status_class,
        status_detail: response.status_detail,
        auth_method: response.key("AuthMethod").map(str::to_string),
        target_address: response.key("TargetAddress").map(str::to_string),
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

fn with_timeout(
    stream: &TcpStream,
    deadline: Deadline,
    set: impl Fn(&TcpStream) -> std::io::Result<()>,
) -> Result<(), String> {
    if deadline.remaining() < Duration::from_millis(1) {
        return Err("no time left".into());
    }
    set(stream).map_err(|e| e.to_string())
}

/// Fills `buf` before the deadline: each read is given only what is left of it, so a
/// peer that sends a byte at a time cannot stretch the wait.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], deadline: Deadline) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        with_timeout(stream, deadline, |s| {
            s.set_read_timeout(Some(deadline.remaining()))
        })
        .map_err(|_| format!("no complete answer in time ({got} of {} bytes)", buf.len()))?;
        match stream.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(format!(
                    "the peer closed the connection after {got} of {} bytes",
                    buf.len()
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "no complete answer in time ({got} of {} bytes)",
                    buf.len()
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// What a Login Response status means, as a bounded code and a sentence (RFC 7143, 11.13.5).
pub fn status_meaning(class: u8, detail: u8) -> (&'static str, &'static str) {
    match (class, detail) {
        (0, _) => ("success", "login accepted"),
        (1, 1) => ("redirected", "the target moved temporarily"),
        (1, 2) => ("redirected", "the target moved permanently"),
        (1, _) => ("redirected", "the target redirects the login"),
        (2, 1) => ("authentication_failed", "authentication failed"),
        (2, 2) => (
            "authorization_failed",
            "this initiator is not authorized (the target's ACL does not admit it)",
        ),
        (2, 3) => ("target_not_found", "no such target at this portal"),
        (2, 4) => ("target_removed", "the target was removed"),
        (2, 5) => ("unsupported_version", "unsupported iSCSI version"),
        (2, 6) => ("too_many_connections", "too many connections"),
        (2, 7) => ("missing_parameter", "a required parameter is missing"),
        (2, 9) => ("session_type_unsupported", "session type not supported"),
        (2, _) => ("initiator_error", "the target reports an initiator error"),
        (3, 1) => ("service_unavailable", "the target's service is unavailable"),
        (3, 2) => ("out_of_resources", "the target is out of resources (busy)"),
        (3, _) => ("target_error", "the target reports an error of its own"),
        _ => ("unknown_status", "an unknown login status"),
    }
}

#[cfg(test)]
mod tests {
    //! The PDU against RFC 7143's layout, and the reader against peers that misbehave
    //! (a tiny responder on loopback: only for robustness; the real target's answers are
    //! checked against tgtd in tests/login_probe.rs).
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    const IQN_I: &str = "iqn.1993-08.org.debian:01:1ff9544af9f";
    const IQN_T: &str = "iqn.2025-01.lab.home:storage-b";

    #[test]
    fn the_request_is_a_security_stage_login_of_a_new_session() {
        let isid = random_isid([1, 2, 3]);
        let pdu = login_request(IQN_I, IQN_T, isid, 0x0102_035a);
        assert_eq!(pdu.len() % 4, 0);
        assert_eq!(pdu[0], 0x43, "immediate Login Request");
        assert_eq!(pdu[1], 0x81, "T=1 CSG=0 NSG=1");
        assert_eq!((pdu[2], pdu[3], pdu[4]), (0, 0, 0));
        let len = (usize::from(pdu[5]) << 16) | (usize::from(pdu[6]) << 8) | usize::from(pdu[7]);
        assert_eq!(&pdu[8..14], &[0x80, 1, 2, 3, 0, 0]);
        assert_eq!(&pdu[14..16], &[0, 0], "TSIH 0");
        assert_eq!(&pdu[16..20], &[1, 2, 3, 0x5a]);
        assert!(pdu[20..48].iter().all(|b| *b == 0), "CID, CmdSN, ExpStatSN 0");
        let keys = parse_keys(&pdu[48..48 + len]);
        assert_eq!(
            keys,
            vec![
                ("InitiatorName".into(), IQN_I.into()),
                ("TargetName".into(), IQN_T.into()),
                ("SessionType".into(), "Normal".into()),
                ("AuthMethod".into(), "None,CHAP".into()),
            ]
        );
        assert!(pdu[48 + len..].iter().all(|b| *b == 0), "padding");
    }

    /// A responder that reads the request (when asked to) and then writes `reply`.
    fn responder(reply: Vec<u8>, read_first: bool, then_wait: Duration) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                if read_first {
                    let mut b = [0u8; 512];
                    let _ = s.read(&mut b);
                }
                let _ = s.write_all(&reply);
                thread::sleep(then_wait);
            }
        });
        addr
    }

    fn response(class: u8, detail: u8, itt: u32, keys: &str, announced: Option<usize>) -> Vec<u8> {
        let data = keys.replace(';', "\0").into_bytes();
        let len = announced.unwrap_or(data.len());
        let mut b = vec![0u8; BHS_LEN];
        b[0] = OP_LOGIN_RESPONSE;
        b[1] = 0x81;
        b[5] = (len >> 16) as u8;
        b[6] = (len >> 8) as u8;
        b[7] = len as u8;
        b[16..20].copy_from_slice(&itt.to_be_bytes());
        b[36] = class;
        b[37] = detail;
        b.extend_from_slice(&data);
        b.resize(b.len() + (4 - data.len() % 4) % 4, 0);
        b
    }

    const ISID: [u8; 6] = [0x80, 1, 2, 3, 0, 0];
    const ITT: u32 = 0x0102_035a;

    fn run(addr: SocketAddr, within: Duration) -> (Outcome, Duration) {
        let t = Instant::now();
        let o = probe(addr, IQN_I, IQN_T, ISID, Deadline::after(within));
        (o, t.elapsed())
    }

    #[test]
    fn a_well_formed_answer_is_read_with_its_keys() {
        let addr = responder(
            response(0, 0, ITT, "AuthMethod=CHAP;TargetPortalGroupTag=1;", None),
            true,
            Duration::ZERO,
        );
        let (o, _) = run(addr, Duration::from_secs(2));
        match o {
            Outcome::Answered {
                status_class: 0,
                auth_method: Some(a),
                ..
            } => assert_eq!(a, "CHAP"),
            other => panic!("{other:?}"),
        }
        let addr = responder(response(2, 3, ITT, "", None), true, Duration::ZERO);
        assert!(matches!(
            run(addr, Duration::from_secs(2)).0,
            Outcome::Answered {
                status_class: 2,
                status_detail: 3,
                ..
            }
        ));
        assert_eq!(status_meaning(2, 3).0, "target_not_found");
        assert_eq!(status_meaning(2, 2).0, "authorization_failed");
        assert_eq!(status_meaning(3, 2).0, "out_of_resources");
    }

    #[test]
    fn misbehaving_peers_are_named_and_never_hold_the_probe() {
        let short = Duration::from_millis(600);
        // An HTTP server on the port.
        let addr = responder(b"HTTP/1.1 400 Bad Request\r\n\r\n".repeat(4), true, short);
        assert!(matches!(run(addr, short).0, Outcome::Malformed { .. }));
        // Another opcode (a NOP-In).
        let mut nop = response(0, 0, ITT, "", None);
        nop[0] = 0x20;
        let addr = responder(nop, true, Duration::ZERO);
        let (o, _) = run(addr, short);
        assert!(
            matches!(&o, Outcome::Malformed { why } if why.contains("opcode 0x20")),
            "{o:?}"
        );
        // A Reject.
        let mut reject = response(0, 0, ITT, "", None);
        reject[0] = OP_REJECT;
        let addr = responder(reject, true, Duration::ZERO);
        assert!(matches!(run(addr, short).0, Outcome::Malformed { why } if why.contains("Reject")));
        // Half a header, then the peer hangs up.
        let addr = responder(response(0, 0, ITT, "", None)[..20].to_vec(), true, Duration::ZERO);
        assert!(matches!(run(addr, short).0, Outcome::NoAnswer { why } if why.contains("closed")));
        // A huge announced data segment.
        let addr = responder(response(0, 0, ITT, "", Some(0xff_ffff)), true, short);
        assert!(matches!(run(addr, short).0, Outcome::Malformed { why } if why.contains("16777215")));
        // Data announced but never sent: the deadline ends the wait.
        let addr = responder(response(0, 0, ITT, "", Some(100)), true, Duration::from_secs(5));
        let (o, took) = run(addr, short);
        assert!(matches!(o, Outcome::Malformed { .. }), "{o:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        // Another task's answer.
        let addr = responder(response(0, 0, 7, "", None), true, Duration::ZERO);
        assert!(matches!(run(addr, short).0, Outcome::Malformed { why } if why.contains("another task")));
        // Silence: the port accepts and never answers.
        let addr = responder(Vec::new(), true, Duration::from_secs(5));
        let (o, took) = run(addr, short);
        assert!(matches!(o, Outcome::NoAnswer { .. }), "{o:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        // Nobody listening.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = l.local_addr().unwrap();
        drop(l);
        assert!(matches!(run(closed, short).0, Outcome::NoConnection { .. }));
        // Garbage keys are escaped, not trusted.
        assert_eq!(
            parse_keys(b"A=\x1b[31m\0novalue\0=x\0"),
            vec![("A".into(), "\\u{1b}[31m".into()), ("".into(), "x".into())]
        );
    }

    #[test]
    fn a_peer_dripping_bytes_cannot_stretch_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                for b in response(0, 0, ITT, "", None) {
                    if s.write_all(&[b]).is_err() {
                        return;
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            }
        });
        let (o, took) = run(addr, Duration::from_millis(700));
        assert!(matches!(o, Outcome::NoAnswer { .. }), "{o:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
}
