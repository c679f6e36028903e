#!/bin/bash
# san-writer - the service on the pool (ocf:heartbeat:anything runs it on the node that
# holds san-pool). Appends one record every 0.2 s to /san-pool/writer/records and fsyncs
# it (sync FILE); a record is "SEQ T_MS NODE SUM": T_MS the epoch ms when it was written,
# SUM the 32-bit FNV-1a of "SEQ T_MS NODE" in hex (pure bash: one fork per record, the
# sync). Each record whose fsync returned is acknowledged on the host's share
# (/e2e/out/writer-acks.log: "SEQ T_MS NODE T_ACK_MS"; 9p, so it survives a killed VM):
# the run checks that every acknowledged record is on the pool, intact, and computes the
# longest stall from the timestamps. Starts after the last intact record of the file.
F=/san-pool/writer/records
ACK=/e2e/out/writer-acks.log
read -r NODE < /etc/hostname
mkdir -p "${F%/*}" || exit 1
fnv() {   # fnv STRING: FNV=its sum (8 hex digits); no subshell
    local s=$1 h=2166136261 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(( ((h ^ c) * 16777619) & 0xFFFFFFFF ))
    done
    printf -v FNV '%08x' "$h"
}
seq=0
if [ -s "$F" ]; then
    # the last line whose checksum holds (a torn last line is skipped)
    while read -r s t n c; do
        [ -n "$c" ] && fnv "$s $t $n" && [ "$FNV" = "$c" ] && { seq=$s; break; }
    done < <(tail -n 5 "$F" | tac)
fi
echo "san-writer on $NODE: continuing after record $seq" >&2
exec 7<> <(:)    # read -t on it: a sleep without a fork
while :; do
    seq=$((seq + 1))
    t=${EPOCHREALTIME/./}; t=$((t / 1000))
    body="$seq $t $NODE"
    fnv "$body"
    printf '%s %s\n' "$body" "$FNV" >> "$F" || exit 1
    sync "$F" || exit 1
    a=${EPOCHREALTIME/./}
    echo "$body $((a / 1000))" >> "$ACK"
    read -r -t 0.2 -u 7 _
done
