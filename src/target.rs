//! iSCSI names and portals: parsed strictly, compared exactly.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::text::{clip, printable};

pub const DEFAULT_PORT: u16 = 3260;

/// An iSCSI qualified name (iqn., eui. or naa. form), as RFC 3720 allows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iqn(String);

impl Iqn {
    pub fn parse(text: &str) -> Result<Iqn, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("the target name is empty".into());
        }
        if t.len() > 223 {
            return Err(format!(
                "target name '{}...' is longer than the 223 bytes iSCSI allows",
                printable(clip(t, 40))
            ));
        }
        if let Some(bad) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')))
        {
            return Err(format!(
                "target name '{}' contains '{}'; iSCSI names use only letters, digits, '.', '-' and ':'",
                printable(t),
                bad.escape_default()
            ));
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("iqn.") && t.bytes().any(|b| b.is_ascii_uppercase()) {
            // open-iscsi and LIO compare names byte for byte; RFC 3722 makes them lower case.
            return Err(format!(
                "target name '{}' has upper-case letters: iSCSI names are lower case (RFC 3722); write '{}'",
                printable(t),
                printable(&lower)
            ));
        }
        let ok = if let Some(rest) = lower.strip_prefix("iqn.") {
            // iqn.YYYY-MM.reversed.domain[:unique]
            let b = rest.as_bytes();
            rest.len() > 8
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && b[5..7].iter().all(u8::is_ascii_digit)
                && b[7] == b'.'
        } else if let Some(hex) = lower.strip_prefix("eui.") {
            hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit())
        } else if let Some(hex) = lower.strip_prefix("naa.") {
            (hex.len() == 16 || hex.len() == 32) && hex.chars().all(|c| c.is_ascii_hexdigit())
        } else {
            false
        };
        if !ok {
            return Err(format!(
                "'{}' is not an iSCSI name: expected iqn.YYYY-MM.reversed.domain[:id], eui.<16 hex> or naa.<16|32 hex>",
                printable(t)
            ));
        }
        Ok(Iqn(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iqn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// A target portal: host and TCP port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Portal {
    pub host: Host,
    pub port: u16,
}

impl Portal {
    /// Accepts `a.b.c.d[:port]`, `hostname[:port]`, `[v6addr][:port]` and a bare IPv6 address.
    pub fn parse(text: &str) -> Result<Portal, String> {
        Portal::parse_with_default(text, DEFAULT_PORT)
    }

    /// `parse`, with `default_port` when the text gives none (3205 for an iSNS server).
    pub fn parse_with_default(text: &str, default_port: u16) -> Result<Portal, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("the portal is empty".into());
        }
        if let Some(bad) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '%')))
        {
            return Err(format!(
                "portal '{}' contains '{}'; write it as host[:port] or [ipv6]:port",
                printable(t),
                bad.escape_default()
            ));
        }
        if let Some(rest) = t.strip_prefix('[') {
            let (addr, after) = rest.split_once(']').ok_or_else(|| {
                format!("portal '{t}' opens '[' without closing it: write IPv6 portals as [address]:port")
            })?;
            let ip: Ipv6Addr = addr
                .parse()
                .map_err(|_| format!("portal '{t}': '{addr}' is not an IPv6 address"))?;
            let port = match after {
                "" => default_port,
                p => parse_port(
                    t,
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("portal '{t}': expected ':port' after ']'"))?,
                )?,
            };
            return Ok(Portal {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        if let Ok(ip) = t.parse::<Ipv6Addr>() {
            return Ok(Portal {
                host: Host::Ip(IpAddr::V6(ip)),
                port: default_port,
            });
        }
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) => (h, parse_port(t, p)?),
            None => (t, default_port),
        };
        if host.contains(':') || host.contains(['[', ']', '%']) {
            return Err(format!("portal '{t}': write IPv6 portals as [address]:port"));
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Portal {
                host: Host::Ip(ip),
                port,
            });
        }
        let labels_ok = host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
        if !labels_ok || host.len() > 253 || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "portal '{t}': '{host}' is neither an IP address nor a host name"
            ));
        }
        Ok(Portal {
            host: Host::Name(host.to_ascii_lowercase()),
            port,
        })
    }

    /// The address as iscsiadm's `-p` takes it and sysfs shows it (IPv6 without brackets).
    pub fn address(&self) -> String {
        match &self.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.clone(),
        }
    }

    /// `addr:port`, `[v6]:port`: the form iscsiadm's `-p` expects.
    pub fn to_iscsiadm(&self) -> String {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.address(), self.port),
        }
    }

    /// Exact comparison with what the kernel reports for a connection.
    pub fn matches(&self, address: &str, port: u16) -> bool {
        if port != self.port {
            return false;
        }
        let address = address.trim().trim_start_matches('[').trim_end_matches(']');
        match &self.host {
            Host::Ip(ip) => address.parse::<IpAddr>().map(|a| a == *ip).unwrap_or(false),
            Host::Name(n) => address.eq_ignore_ascii_case(n),
        }
    }
}

impl fmt::Display for Portal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iscsiadm())
    }
}

fn parse_port(whole: &str, p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("portal '{whole}': '{p}' is not a TCP port (1-65535)")),
        Ok(n) => Ok(n),
    }
}

/// One path of a mirror leg: a target reached through one portal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    pub target: Iqn,
    pub portal: Portal,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.target, self.portal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iqn_forms() {
        assert!(Iqn::parse("iqn.2025-01.lab.home:storage-b").is_ok());
        assert!(Iqn::parse("eui.02004567A425678D").is_ok());
        assert!(Iqn::parse("naa.52004567ba64678d").is_ok());
        assert!(Iqn::parse("iqn.25-01.lab").is_err());
        assert!(Iqn::parse("storage-b").is_err());
        assert!(Iqn::parse("iqn.2025-01.lab.home:b;reboot").is_err());
        assert!(Iqn::parse("iqn.2025-01.lab.home:$(id)").is_err());
        assert!(Iqn::parse("").is_err());
        let upper = Iqn::parse("iqn.2025-01.lab.home:Storage-B").unwrap_err();
        assert!(
            upper.contains("lower case") && upper.contains("storage-b"),
            "{upper}"
        );
        // Longer than 223 bytes with a multi-byte character where a byte cut would fall.
        let long = format!("iqn.2025-01.lab.{}{}", "a".repeat(23), "é".repeat(120));
        assert!(Iqn::parse(&long).unwrap_err().contains("223 bytes"));
    }

    #[test]
    fn portal_forms() {
        let p = Portal::parse("10.10.10.2").unwrap();
        assert_eq!(p.to_iscsiadm(), "10.10.10.2:3260");
        assert_eq!(Portal::parse("10.10.10.2:3261").unwrap().port, 3261);
        let v6 = Portal::parse("[fd00::2]:3260").unwrap();
        assert_eq!(v6.to_iscsiadm(), "[fd00::2]:3260");
        assert_eq!(v6.address(), "fd00::2");
        assert_eq!(Portal::parse("fd00::2").unwrap().port, 3260);
        assert_eq!(Portal::parse("[::1]").unwrap().to_iscsiadm(), "[::1]:3260");
        assert_eq!(
            Portal::parse("Storage-B.lab:3260").unwrap().host,
            Host::Name("storage-b.lab".into())
        );
        for bad in [
            "10.10.10.2:0",
            "10.10.10.2:99999",
            "host:port",
            "a b",
            "10.0.0.1;ls",
            "[fd00::2",
            "fd00::2:3260x",
            "-bad-",
            "1.2.3.4.5",
            "",
        ] {
            assert!(Portal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_default_port_applies_only_when_none_is_given() {
        assert_eq!(Portal::parse_with_default("10.0.0.5", 3205).unwrap().port, 3205);
        assert_eq!(Portal::parse_with_default("[fd00::5]", 3205).unwrap().port, 3205);
        assert_eq!(Portal::parse_with_default("isns.lab", 3205).unwrap().port, 3205);
        assert_eq!(
            Portal::parse_with_default("10.0.0.5:3260", 3205).unwrap().port,
            3260
        );
    }

    #[test]
    fn portal_matching_is_exact() {
        let p = Portal::parse("127.0.0.1:3260").unwrap();
        assert!(p.matches("127.0.0.1", 3260));
        assert!(!p.matches("127.0.0.10", 3260));
        assert!(!p.matches("127.0.0.1", 32600));
        let v6 = Portal::parse("[::1]:3260").unwrap();
        assert!(v6.matches("::1", 3260));
        assert!(v6.matches("0:0:0:0:0:0:0:1", 3260));
        assert!(!v6.matches("::10", 3260));
    }
}
