#!/bin/bash
# build-rpm.sh (make rpm): target/rpm/RPMS/ARCH/iscsi-mirror-VERSION-1.ARCH.rpm from the
# release build and the generated pages (make build gen, which `make rpm` runs first), with
# rpmbuild (Debian's rpm package here; the spec builds the same way on RHEL/Rocky).
#
# Staged in target/rpm/stage: root/ (`make install`, the zsh completion in Fedora's
# site-functions, man pages gzipped, the binary stripped), README.md, docs/, examples/, the
# copyright file and the GPL-2 text.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/lib.sh
OUT=$TOP/target/rpm
STAGE=$OUT/stage
require_build build-rpm.sh rpm

rm -rf "$OUT"
make -s install-agent install-man install-completions DESTDIR="$STAGE/root" \
    ZSH_COMPLETION_DIR=/usr/share/zsh/site-functions >/dev/null
gzip -9n "$STAGE"/root/usr/share/man/man*/*
# Stripped as dh_strip strips the .deb's (Debian's brp-strip keeps the symbol table).
strip --remove-section=.comment --remove-section=.note "$STAGE/root/usr/lib/ocf/resource.d/san/iscsi-mirror"
stage_docs "$STAGE"
bash packaging/copyright.sh > "$STAGE/copyright"
cp /usr/share/common-licenses/GPL-2 "$STAGE/COPYING"

# The spec with a %changelog entry for this build.
{
    sed -e "s/@VERSION@/$VERSION/" packaging/rpm/iscsi-mirror.spec
    printf '\n%%changelog\n* %s %s - %s-1\n- Built by the project'"'"'s make rpm from git %s.\n' \
        "$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" "$MAINTAINER" "$VERSION" \
        "$COMMIT"
} > "$OUT/iscsi-mirror.spec"

# Debian's rpm runs brp-compress with dash, which lacks `read -d` (the pages are compressed
# above; on RHEL brp-compress recompresses them the same way).
post=()
if [ -e /etc/debian_version ]; then
    post=(--define "__os_install_post $(rpm --eval '%__os_install_post' | grep -v brp-compress | tr '\n' ' ')")
fi
rpmbuild -bb --quiet "${post[@]}" \
    --define "_topdir $OUT" \
    --define "stage $STAGE" \
    --define "packager $MAINTAINER" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    "$OUT/iscsi-mirror.spec" > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log" >&2
    echo "build-rpm.sh: rpmbuild failed; the whole log is $OUT/build.log" >&2
    exit 1
}
ls "$OUT"/RPMS/*/*.rpm
