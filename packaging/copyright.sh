#!/bin/bash
# copyright.sh: the packages' copyright file (machine-readable, DEP-5) on stdout: the
# project's license, and every crate linked into the binary with its license, listed from
# the lockfile by cargo (normal dependencies, no proc-macros, this host's target).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
crates=$(cargo tree --locked --offline -e normal,no-proc-macro --target "$target" -p iscsi-mirror \
    --prefix none -f '{p}|{l}' | sed 's/ (\*)$//; s/ (proc-macro)//' | grep -v '^iscsi-mirror ' | sort -u)
cat <<HEAD
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: iscsi-mirror
Comment: The binary links statically the Rust standard library (MIT or Apache-2.0) and
 these crates from crates.io, at the versions Cargo.lock fixes, each under its license:
 .
HEAD
while IFS='|' read -r crate license; do
    printf ' %s: %s\n' "$crate" "$license"
done <<<"$crates"
cat <<'TAIL'

Files: *
Copyright: 2025-2026 iscsi-mirror contributors
License: GPL-2.0+
 This program is free software; you can redistribute it and/or modify it under
 the terms of the GNU General Public License as published by the Free Software
 Foundation; either version 2 of the License, or (at your option) any later
 version.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT ANY
 WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A
 PARTICULAR PURPOSE. See the GNU General Public License for more details.
 .
 On Debian systems, the complete text of the GNU General Public License version 2
 can be found in "/usr/share/common-licenses/GPL-2".
TAIL
