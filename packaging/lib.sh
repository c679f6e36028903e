# lib.sh: what build-deb.sh and build-rpm.sh share. Sourced from the top of the worktree.
TOP=$PWD
VERSION=$(cargo metadata --locked --offline --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="iscsi-mirror"))')
MAINTAINER=$(sed -n 's/^Maintainer: //p' packaging/debian/control)
COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
# Reproducible: file times and dates are the last commit's unless the caller set one.
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

# The build's outputs that the packages carry (make build gen).
require_build() { # SCRIPT-NAME MAKE-TARGET
    local f
    for f in target/release/iscsi-mirror target/gen/man/ocf_san_iscsi-mirror.7 target/gen/completions/_iscsi-mirror; do
        [ -e "$f" ] || { echo "$1: $f missing: run make $2" >&2; exit 1; }
    done
}

# The documentation both packages ship, copied into DIR: README.md, docs/*.md, examples/.
stage_docs() { # DIR
    mkdir -p "$1/docs" "$1/examples"
    cp README.md "$1/"
    cp docs/*.md "$1/docs/"
    cp -a crm/examples/. "$1/examples/"
}
