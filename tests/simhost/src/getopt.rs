//! A faithful enough `getopt_long` (glibc, GNU argument permutation) for iscsiadm's option
//! table (usr/iscsiadm.c `short_options` / `long_options`), including glibc's error texts.

/// Whether an option takes an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Has {
    No,
    Required,
    Optional,
}

const SHORT: &str = "RlDVhm:a:b:c:C:p:P:T:H:i:I:U:k:L:d:r:n:v:o:sSt:ux:A:W";

const LONG: &[(&str, Has, char)] = &[
    ("mode", Has::Required, 'm'),
    ("portal", Has::Required, 'p'),
    ("targetname", Has::Required, 'T'),
    ("interface", Has::Required, 'I'),
    ("op", Has::Required, 'o'),
    ("type", Has::Required, 't'),
    ("name", Has::Required, 'n'),
    ("value", Has::Required, 'v'),
    ("host", Has::Required, 'H'),
    ("sid", Has::Required, 'r'),
    ("rescan", Has::No, 'R'),
    ("print", Has::Required, 'P'),
    ("discover", Has::No, 'D'),
    ("login", Has::No, 'l'),
    ("loginall", Has::Required, 'L'),
    ("logout", Has::No, 'u'),
    ("logoutall", Has::Required, 'U'),
    ("stats", Has::No, 's'),
    ("killiscsid", Has::Required, 'k'),
    ("debug", Has::Required, 'd'),
    ("show", Has::No, 'S'),
    ("version", Has::No, 'V'),
    ("help", Has::No, 'h'),
    ("submode", Has::Required, 'C'),
    ("ip", Has::Required, 'a'),
    ("packetsize", Has::Required, 'b'),
    ("count", Has::Required, 'c'),
    ("interval", Has::Required, 'i'),
    ("index", Has::Required, 'x'),
    ("portal_type", Has::Optional, 'A'),
    ("no_wait", Has::No, 'W'),
];

fn short_has(c: char) -> Option<Has> {
    let b = SHORT.as_bytes();
    let i = SHORT.find(c)?;
    if c == ':' {
        return None;
    }
    Some(if b.get(i + 1) == Some(&b':') {
        Has::Required
    } else {
        Has::No
    })
}

/// One result of getopt: `ch` is the option letter, or '?' for an error, in which case
/// `message` is what glibc printed and `optopt` what it left in `optopt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub ch: char,
    pub arg: Option<String>,
    pub message: Option<String>,
    pub optopt: Option<char>,
}

fn ok(ch: char, arg: Option<String>) -> Item {
    Item {
        ch,
        arg,
        message: None,
        optopt: None,
    }
}

fn bad(message: String, optopt: Option<char>) -> Item {
    Item {
        ch: '?',
        arg: None,
        message: Some(message),
        optopt,
    }
}

/// Parses `argv[1..]` as getopt_long would, in order, skipping non-options (GNU
/// permutation) and stopping option processing at "--".
pub fn parse(argv: &[String]) -> Vec<Item> {
    let prog = argv.first().map(String::as_str).unwrap_or("iscsiadm");
    let mut out = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if a == "--" {
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let exact = LONG.iter().find(|l| l.0 == name);
            let found = match exact {
                Some(l) => Some(*l),
                None => {
                    let m: Vec<_> = LONG.iter().filter(|l| l.0.starts_with(name)).collect();
                    match m.len() {
                        0 => None,
                        1 => Some(*m[0]),
                        _ => {
                            let names: String = m.iter().map(|l| format!(" '--{}'", l.0)).collect();
                            out.push(bad(
                                format!("{prog}: option '--{name}' is ambiguous; possibilities:{names}"),
                                None,
                            ));
                            continue;
                        }
                    }
                }
            };
            let Some((lname, has, val)) = found else {
                out.push(bad(format!("{prog}: unrecognized option '--{body}'"), None));
                continue;
            };
            match has {
                Has::No => {
                    if inline.is_some() {
                        out.push(bad(
                            format!("{prog}: option '--{lname}' doesn't allow an argument"),
                            Some(val),
                        ));
                    } else {
                        out.push(ok(val, None));
                    }
                }
                Has::Optional => out.push(ok(val, inline)),
                Has::Required => {
                    if let Some(v) = inline {
                        out.push(ok(val, Some(v)));
                    } else if i < argv.len() {
                        out.push(ok(val, Some(argv[i].clone())));
                        i += 1;
                    } else {
                        out.push(bad(
                            format!("{prog}: option '--{lname}' requires an argument"),
                            Some(val),
                        ));
                    }
                }
            }
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a.chars().skip(1).collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                match short_has(c) {
                    None => out.push(bad(format!("{prog}: invalid option -- '{c}'"), Some(c))),
                    Some(Has::No) | Some(Has::Optional) => out.push(ok(c, None)),
                    Some(Has::Required) => {
                        if j < chars.len() {
                            out.push(ok(c, Some(chars[j..].iter().collect())));
                        } else if i < argv.len() {
                            out.push(ok(c, Some(argv[i].clone())));
                            i += 1;
                        } else {
                            out.push(bad(
                                format!("{prog}: option requires an argument -- '{c}'"),
                                Some(c),
                            ));
                        }
                        j = chars.len();
                    }
                }
            }
        }
        // anything else is a non-option argument: iscsiadm ignores it
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        std::iter::once("iscsiadm")
            .chain(args.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn short_long_and_clusters() {
        let items = parse(&v(&[
            "-mnode",
            "-T",
            "iqn",
            "--portal=1.2.3.4",
            "-lP1",
            "--op",
            "show",
        ]));
        let got: Vec<(char, Option<&str>)> = items.iter().map(|i| (i.ch, i.arg.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ('m', Some("node")),
                ('T', Some("iqn")),
                ('p', Some("1.2.3.4")),
                ('l', None),
                ('P', Some("1")),
                ('o', Some("show"))
            ]
        );
    }

    #[test]
    fn prefixes_and_errors() {
        assert_eq!(parse(&v(&["--target", "x"]))[0].ch, 'T');
        let amb = &parse(&v(&["--log"]))[0];
        assert_eq!(amb.ch, '?');
        assert!(amb.message.as_ref().unwrap().contains("is ambiguous"));
        assert_eq!(
            parse(&v(&["--bogus"]))[0].message.as_deref(),
            Some("iscsiadm: unrecognized option '--bogus'")
        );
        assert_eq!(
            parse(&v(&["-z"]))[0].message.as_deref(),
            Some("iscsiadm: invalid option -- 'z'")
        );
        assert_eq!(
            parse(&v(&["-m"]))[0].message.as_deref(),
            Some("iscsiadm: option requires an argument -- 'm'")
        );
        assert_eq!(parse(&v(&["--login"]))[0].ch, 'l');
    }
}
