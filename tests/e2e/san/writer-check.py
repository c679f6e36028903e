#!/usr/bin/python3
"""writer-check.py - the writer's records against its acknowledgements (e2e-san).

    writer-check.py RECORDS ACKS [--from MS] [--to MS] [--loss-window FROM_MS TO_MS]

RECORDS is /san-pool/writer/records as read from the pool at the end of a drill: lines
"SEQ T_MS NODE SUM" (SUM = 32-bit FNV-1a of "SEQ T_MS NODE", 8 hex digits). ACKS is the
acknowledgement log: "SEQ T_MS NODE T_ACK_MS" for each record whose fsync returned.

Prints "key value" lines:
  records / intact / corrupt        lines in the file, with a good / bad checksum
  acked                             acknowledged records (in the time range)
  missing                           acknowledged records not in the file (lost)
  missing_in_loss_window            of them, those acknowledged inside --loss-window (the
                                    data loss an override accepted: a record whose fsync
                                    returned after the cut reached one half only)
  longest_stall_s / stall_from_ms / stall_to_ms
                                    the longest gap between consecutive records written in
                                    [--from, --to] (records in the file, by write time)
  first_after_ms                    the first record written after --from by another node
                                    than the one that wrote the last record before it (the
                                    service back on the new holder); if no other node wrote
                                    after --from, the first record after it
  stall_end_ack_ms                  when the record written at stall_from_ms was acknowledged
                                    (its fsync returned at the end of the stall: after a
                                    peer's death, the first write that reached only the
                                    local half of the mirror)
Exit status 0 when no acknowledged record outside the loss window is missing and no line
is corrupt, else 1.
"""
import sys


def fnv(s):
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return "%08x" % h


def main(argv):
    args = argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    rec_path, ack_path = args[0], args[1]
    opts = args[2:]
    t_from, t_to, loss = None, None, None
    i = 0
    while i < len(opts):
        if opts[i] == "--from":
            t_from = int(opts[i + 1]); i += 2
        elif opts[i] == "--to":
            t_to = int(opts[i + 1]); i += 2
        elif opts[i] == "--loss-window":
            loss = (int(opts[i + 1]), int(opts[i + 2])); i += 3
        else:
            print("unknown option %s" % opts[i], file=sys.stderr)
            return 2

    intact, corrupt = set(), 0
    times = []
    by_time = []
    n_lines = 0
    with open(rec_path, errors="replace") as f:
        for line in f:
            n_lines += 1
            p = line.split()
            if len(p) != 4 or not p[0].isdigit() or not p[1].isdigit():
                corrupt += 1
                continue
            if fnv(" ".join(p[:3])) != p[3]:
                corrupt += 1
                continue
            intact.add((int(p[0]), int(p[1]), p[2]))
            times.append(int(p[1]))
            by_time.append((int(p[1]), p[2]))
    acked = []
    ack_time = {}
    with open(ack_path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) != 4:
                continue
            acked.append((int(p[0]), int(p[1]), p[2]))
            ack_time[int(p[1])] = int(p[3])
    missing = [k for k in acked if k not in intact]
    in_loss = [k for k in missing if loss and loss[0] <= ack_time.get(k[1], 0) <= loss[1]]
    real_missing = [k for k in missing if k not in in_loss]

    times.sort()
    lo = t_from if t_from is not None else (times[0] if times else 0)
    hi = t_to if t_to is not None else (times[-1] if times else 0)
    window = [t for t in times if lo - 60000 <= t <= hi]
    best = (0, None, None)
    for a, b in zip(window, window[1:]):
        if b < lo:
            continue
        if b - a > best[0]:
            best = (b - a, a, b)
    by_time.sort()
    before = [n for t, n in by_time if t_from is not None and t <= t_from]
    after_all = [(t, n) for t, n in by_time if t_from is not None and t > t_from]
    moved = [t for t, n in after_all if before and n != before[-1]]
    after = moved if moved else [t for t, _ in after_all]
    print("records %d" % n_lines)
    print("intact %d" % len(intact))
    print("corrupt %d" % corrupt)
    print("acked %d" % len(acked))
    print("missing %d" % len(real_missing))
    print("missing_in_loss_window %d" % len(in_loss))
    if real_missing:
        print("missing_first %s" % " ".join(map(str, real_missing[0])))
    print("longest_stall_s %.3f" % (best[0] / 1000.0))
    print("stall_from_ms %s" % best[1])
    print("stall_to_ms %s" % best[2])
    print("first_after_ms %s" % (after[0] if after else "none"))
    print("stall_end_ack_ms %s" % ack_time.get(best[1], "none"))
    return 0 if not real_missing and corrupt == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
