#!/usr/bin/python3
"""logtime.py - when did a log line first (or last) match, in epoch ms (e2e-san).

    logtime.py [--last | --count] SINCE_MS REGEX FILE...

Reads the logs the e2e-san guests ship to the host: corosync.log (timestamp: hires,
"Dec 01 22:59:12.345"), pacemaker.log ("Dec 01 22:59:12.345" or "Dec 01 22:59:12"),
busybox syslogd's messages ("Dec  1 22:59:12"), and lines that start with epoch ms
(events.log). The guests' clocks are set from the host's at boot; both run in UTC.
Prints the epoch ms of the first line at or after SINCE_MS that matches REGEX (with
--last: the last such line) and the line itself; exit 1 when none matched. With --count:
the number of matching lines at or after SINCE_MS (exit 0).
"""
import calendar
import re
import sys
import time

MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
STAMP = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.(?P<frac>\d+))?")
YEAR = time.gmtime().tm_year


def stamp_ms(line):
    m = re.match(r"^(\d{13}) ", line)
    if m:
        return int(m.group(1))
    m = STAMP.match(line)
    if not m or m.group("mon") not in MONTHS:
        return None
    secs = calendar.timegm((YEAR, MONTHS[m.group("mon")], int(m.group("day")),
                            int(m.group("h")), int(m.group("m")), int(m.group("s")), 0, 0, 0))
    frac = m.group("frac") or "0"
    return secs * 1000 + int((frac + "000")[:3])


def main(argv):
    args = argv[1:]
    last = count = False
    if args and args[0] == "--last":
        last, args = True, args[1:]
    elif args and args[0] == "--count":
        count, args = True, args[1:]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    since, pattern, files = int(args[0]), re.compile(args[1]), args[2:]
    found = None
    n = 0
    for path in files:
        try:
            f = open(path, errors="replace")
        except OSError:
            continue
        with f:
            for line in f:
                t = stamp_ms(line)
                if t is None or t < since or not pattern.search(line):
                    continue
                n += 1
                if found is None or (last and t >= found[0]) or (not last and t < found[0]):
                    found = (t, line.rstrip("\n"))
    if count:
        print(n)
        return 0
    if found is None:
        return 1
    print("%d %s" % found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
