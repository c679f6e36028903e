#!/bin/bash
# import-pacemaker3-fixtures.sh [PACEMAKER_GIT_DIR] - (re)write tests/fixtures/crm_mon/pacemaker-3.0/
# from Pacemaker 3.0's OWN regression outputs; nothing in there is typed by hand.
#
# Pacemaker 3.0 is not packaged for Debian 12, so its crm_mon XML is taken from the expected
# outputs of its CLI regression suite (cts/cli/regression.*.exp, produced by the real tools
# run by cts-cli on the CIBs in cts/cli/*.xml), at pinned release tags:
#   - every <pacemaker-result request="crm_mon ..."> ... </pacemaker-result> document of every
#     cts/cli/*.exp file is copied verbatim to <version>/<exp>--<test-name>.xml;
#   - <version>/rng/ gets that tag's schemas: api/api-result.rng built by the tag's own
#     xml/rng-helper.in (build_api_rng, as xml/Makefile.am does: the API_request_base list, the
#     highest API version in xml/api), plus every schema it references (some are CIB schemas
#     in xml/), copied verbatim at their paths relative to xml/;
#   - <version>/SOURCE names the repository, tag, commit, and for each fixture the .exp file,
#     test and lines it came from, and whether it validates against rng/api/api-result.rng.
# cts-cli validates the tools' XML against api-result.rng BEFORE it sanitizes it (cts/cts-cli.in:
# ValidatingTest._validate_hook, then sanitize_output: api-version="X", version="", times "",
# last_change's user/client/origin and a failure's last-rc-change removed), and the .exp records
# the test's end ("- OK (0)"), which SOURCE keeps. So a saved document may miss what
# sanitize_output removed and nothing else: each is validated as saved, else with that put back
# (empty); the script fails if a document validates neither way. tests/crm_mon_pacemaker3.rs
# checks the same.
#
# PACEMAKER_GIT_DIR: a git directory of github.com/ClusterLabs/pacemaker holding the tags
# (e.g. a bare mirror); without it the repository is cloned (bare, blobless) into a temp dir.
# The tags' commits are pinned below: the script fails if the repository disagrees.
# Knobs: OUT (default <repo>/tests/fixtures/crm_mon/pacemaker-3.0).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(cd "$HERE/../.." && pwd)/tests/fixtures/crm_mon/pacemaker-3.0}
REPO_URL=https://github.com/ClusterLabs/pacemaker
# tag commit (directory name: the version)
PINNED=(
    "Pacemaker-3.0.0 d8340737c46ccb265bd82c5493b58e9c14ba67e5"
    "Pacemaker-3.0.2 c75e25851c05c6b0ff48caeaa15854d5868ce428"
)
die() { echo "ERROR: $*" >&2; exit 1; }
for t in git xmllint awk sed; do command -v "$t" > /dev/null || die "$t not found"; done

WORK=$(mktemp -d /tmp/pcmk3-fixtures.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
GIT_DIR_IN=${1:-}
if [ -z "$GIT_DIR_IN" ]; then
    echo "cloning $REPO_URL (bare, blobless) ..."
    git clone -q --bare --filter=blob:none "$REPO_URL" "$WORK/pacemaker.git"
    GIT_DIR_IN=$WORK/pacemaker.git
fi
g() { git --git-dir="$GIT_DIR_IN" "$@"; }
g rev-parse --git-dir > /dev/null 2>&1 || die "$GIT_DIR_IN is not a git directory"

# extract_docs EXP-TEXT-FILE EXP-NAME DEST: every crm_mon document, one file each; prints
# "file|test|first line|last line|end of test" per document
extract_docs() {
    awk -v base="$2" -v dest="$3" '
        function slug(s) {
            s = tolower(s); gsub(/[^a-z0-9]+/, "-", s); gsub(/^-+|-+$/, "", s)
            sub(/-xml$/, "", s); return s
        }
        /^=#=#=#= Begin test: .* =#=#=#=$/ {
            test = $0; sub(/^=#=#=#= Begin test: /, "", test); sub(/ =#=#=#=$/, "", test)
        }
        !inside && /^<pacemaker-result .*request="crm_mon[ "]/ {
            name = base "--" slug(test); n = ++seen[name]
            if (n > 1) name = name "-" n
            file = dest "/" name ".xml"; first = NR; inside = 1
        }
        inside { print > file }
        inside && /^<\/pacemaker-result>$/ { close(file); inside = 0; last = NR; pending = 1 }
        pending && /^=#=#=#= End test: / {
            end = $0; sub(/^=#=#=#= End test: .* - /, "", end); sub(/ =#=#=#=$/, "", end)
            printf "%s.xml|%s|%d|%d|%s\n", name, test, first, last, end; pending = 0
        }
        END {
            if (inside || pending) { print "unterminated test in " base > "/dev/stderr"; exit 1 }
        }
    ' "$1"
}

# build_rng TAG DEST: DEST/api/api-result.rng built by the tag's rng-helper, and every schema it
# references (transitively; some are CIB schemas in xml/), at their paths relative to xml/
build_rng() {
    local tag=$1 dest=$2 x=$WORK/xml.$1 max bases f todo ref rel
    mkdir -p "$x" "$dest/api"
    g archive "$tag" xml | tar -x -C "$x"
    x=$x/xml
    sed 's|@BASH_PATH@|/bin/bash|' "$x/rng-helper.in" > "$x/rng-helper"
    # API_request_base from xml/Makefile.am; the highest API version, as configure.ac does
    # (3.0.0 writes one assignment with backslash continuations, 3.0.2 one "+=" per name)
    bases=$(awk '{ l = l $0 } /\\$/ { sub(/\\$/, " ", l); next } { print l; l = "" }' "$x/Makefile.am" \
        | sed -n 's/^API_request_base[[:space:]]*+\{0,1\}=//p' | tr -s ' \t' '\n' | grep -v '^$' || true)
    [ -n "$bases" ] || die "$tag: no API_request_base in xml/Makefile.am"
    max=$(ls "$x/api" | sed -n 's/^.*-\([0-9][0-9]*\.[0-9][0-9]*\)\.rng$/\1/p' | sort -V | tail -1)
    # shellcheck disable=SC2086
    bash "$x/rng-helper" build_api_rng api/api-result.rng "$max" $bases
    cp "$x/api/api-result.rng" "$dest/api/"
    todo=api/api-result.rng
    while [ -n "$todo" ]; do
        f=${todo%% *}; todo=${todo#"$f"}; todo=${todo# }
        for ref in $(sed -n 's/.*<\(externalRef\|include\) href="\([^"]*\)".*/\2/p' "$dest/$f"); do
            rel=$(realpath -m --relative-to="$x" "$x/$(dirname "$f")/$ref")
            case $rel in ../*) die "$tag: $f references $ref, outside xml/" ;; esac
            [ -f "$dest/$rel" ] && continue
            [ -f "$x/$rel" ] || die "$tag: $f references $ref, not in the tag's xml/"
            mkdir -p "$dest/$(dirname "$rel")"
            cp "$x/$rel" "$dest/$rel"
            todo="$todo${todo:+ }$rel"
        done
    done
    echo "$max"
}

# restore FILE: FILE with what cts-cli's sanitize_output removed put back, empty-valued:
#   (r'last_change time=".*"', r'last_change time=""') also eats user, client, origin (all
#   required by crm_mon-*.rng); (r' last-rc-change=...', r'') drops a failure's last-rc-change
#   (required with queued, exec, interval, task by failure-2.8.rng)
# tests/crm_mon_pacemaker3.rs does the same before validating.
restore() {
    sed -e 's|<last_change time=""/>|<last_change time="" user="" client="" origin=""/>|' \
        -e '/<failure /{/ last-rc-change=/!s| queued="| last-rc-change="" queued="|}' "$1"
}
# validate RNG FILE: prints "valid" or "valid once restored"; fails otherwise (errors in $WORK/err)
validate() {
    if xmllint --noout --relaxng "$1" "$2" 2> "$WORK/err"; then
        echo valid
    elif restore "$2" > "$WORK/restored.xml" \
        && xmllint --noout --relaxng "$1" "$WORK/restored.xml" 2> "$WORK/err"; then
        echo "valid once restored"
    else
        return 1
    fi
}

mkdir -p "$OUT"
for pin in "${PINNED[@]}"; do
    read -r tag commit <<< "$pin"
    got=$(g rev-parse -q --verify "$tag^{commit}" 2> /dev/null) || die "tag $tag not in $GIT_DIR_IN"
    [ "$got" = "$commit" ] || die "$tag is $got in $GIT_DIR_IN, pinned $commit"
    ver=${tag#Pacemaker-}
    dir=$OUT/$ver
    rm -rf "$dir"
    mkdir -p "$dir"
    api=$(build_rng "$tag" "$dir/rng")
    feature_set=$(g show "$commit:include/crm/crm.h" | sed -n 's/^#[ \t]*define CRM_FEATURE_SET[ \t]*"\([^"]*\)".*/\1/p')
    {
        echo "# Generated by crm/lab/import-pacemaker3-fixtures.sh: do not edit."
        echo "repository: $REPO_URL"
        echo "tag: $tag"
        echo "commit: $commit"
        echo "CRM_FEATURE_SET: $feature_set (include/crm/crm.h)"
        echo "api-version: $api (highest xml/api schema; cts-cli writes api-version=\"X\")"
        echo "rng/: api/api-result.rng built by xml/rng-helper.in build_api_rng $api, the rest copied from xml/"
        echo "schema: each fixture against rng/api/api-result.rng as saved (valid), or (valid once restored) with"
        echo "  what cts/cts-cli.in sanitize_output removed put back empty: last_change user/client/origin,"
        echo "  a failure's last-rc-change"
        echo "# fixture | source file | test | lines | cts-cli's verdict | schema"
    } > "$dir/SOURCE"
    n=0
    for exp in $(g ls-tree --name-only "$commit" cts/cli/ | grep '\.exp$'); do
        g show "$commit:$exp" > "$WORK/exp"
        base=$(basename "$exp" .exp); base=${base#regression.}
        while IFS='|' read -r file test first last end; do
            valid=$(validate "$dir/rng/api/api-result.rng" "$dir/$file") || {
                cat "$WORK/err" >&2; die "$tag: $file ($exp, $test) does not validate"; }
            echo "$file | $exp | $test | $first-$last | $end | $valid" >> "$dir/SOURCE"
            n=$((n + 1))
        done < <(extract_docs "$WORK/exp" "$base" "$dir")
    done
    [ "$n" -gt 0 ] || die "$tag: no crm_mon document in cts/cli/*.exp"
    echo "$tag ($commit): $n crm_mon documents, $(grep -c ' | valid' "$dir/SOURCE") valid against api-result.rng ($api), $(grep -c ' | valid once restored$' "$dir/SOURCE") of them once restored -> $dir"
done
