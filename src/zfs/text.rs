//! `zpool status -P [-p] POOL` as ZFS 2.1 and 2.3 print it (cmd/zpool/zpool_main.c:
//! print_status_config for the table, print_scan_scrub_resilver_status for the scan).

use super::{PoolStatus, Scan, Vdev};

/// Leading white space in columns, a tab counting eight.
fn indent_width(line: &str) -> usize {
    let rest = line.trim_start_matches([' ', '\t']);
    // The removed prefix is ASCII white space, so the cut is on a character boundary.
    let indent = &line[..line.len() - rest.len()];
    indent.chars().map(|c| if c == '\t' { 8 } else { 1 }).sum()
}

/// `HH:MM:SS` or `N days HH:MM:SS` (secs_to_dhms), in seconds.
fn dhms(text: &str) -> Option<u64> {
    let mut days = 0u64;
    let mut clock = text.trim();
    if let Some((d, rest)) = clock.split_once(" days ") {
        days = d.trim().parse().ok()?;
        clock = rest.trim();
    }
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    let [h, m, s] = parts.as_slice() else {
        return None;
    };
    days.checked_mul(86_400)?
        .checked_add(h.checked_mul(3600)?)?
        .checked_add(m.checked_mul(60)?)?
        .checked_add(*s)
}

/// The scan line and its continuation lines.
pub fn parse_scan(lines: &[&str]) -> Scan {
    let Some(first) = lines.first() else {
        return Scan::None;
    };
    let head = first.trim();
    if head.starts_with("none requested") {
        return Scan::None;
    }
    if head.starts_with("scrub") {
        return Scan::Scrub;
    }
    if head.starts_with("resilver in progress")
        || (head.starts_with("resilver (") && head.contains("in progress"))
    {
        let rest = lines[1..].join(" ");
        let percent = rest.split_once("% done").and_then(|(before, _)| {
            before
                .rsplit(|c: char| c.is_whitespace() || c == ',')
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|p| p.is_finite() && (0.0..=100.0).contains(p))
        });
        // "..., 4.88% done, 00:03:10 to go" (or "no estimated completion time").
        let eta_s = rest
            .split_once(" to go")
            .and_then(|(before, _)| before.rsplit_once(", "))
            .and_then(|(_, t)| dhms(t));
        return Scan::Resilvering { percent, eta_s };
    }
    if head.starts_with("resilvered") {
        // "resilvered 158M in 00:00:33 with 0 errors on Wed Dec  2 00:19:09 2026"
        let ended_unix = head
            .rsplit_once(" on ")
            .and_then(|(_, when)| local_time_to_unix(when.trim()));
        return Scan::ResilverDone { ended_unix };
    }
    if head.starts_with("resilver canceled") {
        return Scan::ResilverDone { ended_unix: None };
    }
    Scan::Other(crate::text::ellipsis(head, 80))
}

/// zpool's scan times, `ctime` in the host's local time ("Wed Dec  2 00:19:09 2026"), as
/// unix seconds (mktime: the same time zone zpool printed in).
pub fn local_time_to_unix(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let f: Vec<&str> = text.split_whitespace().collect();
    let [_, mon, day, hms, year] = f.as_slice() else {
        return None;
    };
    let mon = MONTHS.iter().position(|m| m == mon)? as i32;
    let day: i32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i32 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut t = hms.split(':').map(|x| x.parse::<i32>().ok());
    let (h, m, sec) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..=60).contains(&sec) {
        return None;
    }
    // SAFETY: an all-zero tm is a valid value; mktime reads and normalises it in place.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    // SAFETY: tm is a valid, exclusively borrowed struct tm.
    let t = unsafe { libc::mktime(&mut tm) };
    u64::try_from(t).ok()
}

/// Parses the whole output; `None` when it has no config table.
pub fn parse_status(text: &str) -> Option<PoolStatus> {
    let lines: Vec<&str> = text.lines().collect();
    let mut state = String::new();
    let mut scan = Scan::None;
    let mut i = 0;
    let mut table_at = None;
    while i < lines.len() {
        let l = lines[i].trim_start();
        if let Some(s) = l.strip_prefix("state:") {
            if state.is_empty() {
                state = s.trim().to_string();
            }
        } else if let Some(s) = l.strip_prefix("scan:") {
            let mut block = vec![s];
            let mut j = i + 1;
            // Continuation lines are indented by a tab and carry no "key:" of their own.
            while j < lines.len() && lines[j].starts_with('\t') {
                block.push(lines[j]);
                j += 1;
            }
            scan = parse_scan(&block);
            i = j;
            continue;
        } else if l.trim_end() == "config:" {
            table_at = Some(i + 1);
            break;
        }
        i += 1;
    }
    let mut rows = lines[table_at?..].iter().skip_while(|l| l.trim().is_empty());
    let header = rows.next()?;
    if !header.trim_start().starts_with("NAME") {
        return None;
    }
    let base = indent_width(header);
    let mut name = None;
    let mut vdevs: Vec<Vdev> = Vec::new();
    for line in rows {
        if line.trim().is_empty() {
            break;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // Group headers ("logs", "cache", "spares", "special") carry no state.
        if fields.len() < 2 {
            continue;
        }
        let depth = indent_width(line).saturating_sub(base) / 2;
        if name.is_none() {
            name = Some((fields[0].to_string(), fields[1].to_string()));
            continue;
        }
        if let Some(prev) = vdevs.last_mut() {
            prev.leaf = depth <= prev.depth;
        }
        let note = if fields.len() > 5 {
            fields[5..].join(" ")
        } else {
            String::new()
        };
        vdevs.push(Vdev {
            name: fields[0].to_string(),
            state: fields[1].to_string(),
            depth,
            leaf: true,
            devid: None,
            note,
        });
    }
    let (pool, pool_state) = name?;
    Some(PoolStatus {
        name: pool,
        state: if state.is_empty() { pool_state } else { state },
        vdevs,
        scan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_forms_of_secs_to_dhms() {
        assert_eq!(dhms("00:03:10"), Some(190));
        assert_eq!(dhms("2 days 01:00:05"), Some(2 * 86_400 + 3605));
        assert_eq!(dhms("soon"), None);
        assert_eq!(dhms("99999999999999999999 days 00:00:00"), None);
    }
}
