#!/bin/bash
# build-deb.sh (make deb): target/debian/iscsi-mirror_VERSION_ARCH.deb from the release
# build and the generated pages (make build gen, which `make deb` runs first).
#
# dpkg-buildpackage -b runs in a staging source tree, target/debian/iscsi-mirror-VERSION/:
# debian/ (from packaging/debian, plus a changelog and a copyright written here), root/
# (`make install` into it), README.md, docs/ and examples/ (crm/examples). Its outputs
# land beside it in target/debian/, never outside the worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
OUT=$TOP/target/debian
SRC=$OUT/iscsi-mirror-$VERSION
require_build build-deb.sh deb

rm -rf "$OUT"
mkdir -p "$SRC"
cp -a packaging/debian "$SRC/debian"
bash packaging/copyright.sh > "$SRC/debian/copyright"
cat > "$SRC/debian/changelog" <<CHANGELOG
iscsi-mirror ($VERSION) unstable; urgency=medium

  * Built by the project's make deb from git $COMMIT.

 -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
CHANGELOG
make -s install-agent install-man install-completions DESTDIR="$SRC/root" >/dev/null
stage_docs "$SRC"

(cd "$SRC" && dpkg-buildpackage -b --no-sign -j1) > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed; the whole log is $OUT/build.log" >&2
    exit 1
}
ls "$OUT"/*.deb
