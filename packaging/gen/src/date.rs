//! The date in the pages' title lines: SOURCE_DATE_EPOCH when set (Debian's and rpm's
//! builds set it; the Makefile sets it to the last commit's time), else now.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn from_env() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    ymd(epoch)
}

/// YYYY-MM-DD of a Unix time, in UTC (the proleptic Gregorian calendar; H. Hinnant's
/// days-to-civil algorithm).
pub fn ymd(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::ymd;

    #[test]
    fn dates_agree_with_date_1() {
        // Compared with `date -u -d @N +%F`.
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(951_782_400), "2000-02-29");
        assert_eq!(ymd(1_700_000_000), "2023-11-14");
        assert_eq!(ymd(4_107_542_399), "2100-02-28");
        assert_eq!(ymd(-1), "1969-12-31");
    }
}
