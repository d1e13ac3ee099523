#!/usr/bin/env bash
# Make the pgvector extension (0.8.x) available to the local PostgreSQL.
#
# Debian bookworm packages no pgvector and trixie's binary package needs a newer
# libc, so this builds Debian's trixie *source* package against the local server.
# The trixie source index is fetched with a private, temporary apt configuration;
# the machine's own apt sources and lists are left as they were.
#
# Idempotent: exits at once when vector 0.8.x is already installed.
#
# Environment (all optional):
#   PG_MAJOR          PostgreSQL major version (default: the single entry in /etc/postgresql, else 15)
#   PGVECTOR_SERIES   accepted upstream series (default: 0.8)
#   PGVECTOR_SUITE    Debian suite to take the source package from (default: trixie)
#   PGVECTOR_MIRROR   Debian mirror URI (default: the machine's own main Debian mirror)
#   PGHOST / PGPORT   server used for the final check (default: 127.0.0.1 / 5432)
#   PGVECTOR_FORCE    set to 1 to rebuild and reinstall even when 0.8.x is present
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-pgvector] %s\n' "$*"; }
die() { printf '[install-pgvector] ERROR: %s\n' "$*" >&2; exit 1; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -z "${PG_MAJOR:-}" ]]; then
    PG_MAJOR=15
    if [[ -d /etc/postgresql ]]; then
        mapfile -t versions < <(ls /etc/postgresql)
        if [[ ${#versions[@]} -eq 1 ]]; then
            PG_MAJOR="${versions[0]}"
        fi
    fi
fi
series="${PGVECTOR_SERIES:-0.8}"
suite="${PGVECTOR_SUITE:-trixie}"
pg_host="${PGHOST:-127.0.0.1}"
pg_port="${PGPORT:-5432}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"

# Prints the default_version of the installed vector extension, or nothing.
installed_version() {
    local sharedir pkglibdir control
    [[ -x "$PG_CONFIG" ]] || return 0
    sharedir="$("$PG_CONFIG" --sharedir)"
    pkglibdir="$("$PG_CONFIG" --pkglibdir)"
    control="${sharedir}/extension/vector.control"
    [[ -f "$control" && -f "${pkglibdir}/vector.so" ]] || return 0
    sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$control" | head -n 1
}

version_ok() {
    [[ "$1" == "${series}" || "$1" == "${series}".* ]]
}

current="$(installed_version)"
if [[ -n "$current" ]] && version_ok "$current" && [[ "${PGVECTOR_FORCE:-0}" != 1 ]]; then
    log "vector ${current} is already installed for PostgreSQL ${PG_MAJOR}; nothing to do"
    exit 0
fi
if [[ -n "$current" ]]; then
    log "vector ${current} is installed; rebuilding (wanted: ${series}.x, PGVECTOR_FORCE=${PGVECTOR_FORCE:-0})"
fi

[[ $EUID -eq 0 ]] || die "must run as root (installs packages and PostgreSQL extension files)"
[[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ]] \
    || die "PostgreSQL ${PG_MAJOR} server is not installed (/usr/lib/postgresql/${PG_MAJOR}/bin/postgres missing)"

# --- build dependencies -------------------------------------------------------
apt_get() {
    apt-get -o DPkg::Lock::Timeout=300 "$@"
}

missing=()
for pkg in "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" != installed ]]; then
        missing+=("$pkg")
    fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing build dependencies: ${missing[*]}"
    apt_get update -qq || die "apt-get update failed"
    apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
else
    log "build dependencies already installed"
fi
[[ -x "$PG_CONFIG" ]] || die "$PG_CONFIG not found after installing postgresql-server-dev-${PG_MAJOR}"
[[ -f "$("$PG_CONFIG" --pgxs)" ]] || die "PGXS makefile missing; is postgresql-server-dev-${PG_MAJOR} installed?"

# --- mirror of the machine's own Debian sources -------------------------------
# Prints the first URI serving the machine's release suite (e.g. bookworm).
find_mirror() {
    local codename="" f
    if [[ -r /etc/os-release ]]; then
        codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
    fi
    [[ -n "$codename" ]] || codename=bookworm
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        awk -v codename="$codename" '
            BEGIN { RS = ""; FS = "\n" }
            {
                uris = ""; suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[[:space:]]*#/) continue
                    key = tolower(line); sub(/:.*/, "", key)
                    val = line; sub(/^[^:]*:[[:space:]]*/, "", val)
                    if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                if (enabled == "no" || uris == "") next
                n = split(suites, s, /[[:space:]]+/)
                for (j = 1; j <= n; j++) {
                    if (s[j] == codename) { split(uris, u, /[[:space:]]+/); print u[1]; exit }
                }
            }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        awk -v codename="$codename" '
            /^[[:space:]]*deb(-src)?[[:space:]]/ {
                line = $0
                sub(/\[[^]]*\]/, "", line)
                n = split(line, w, /[[:space:]]+/)
                k = 0
                for (i = 1; i <= n; i++) if (w[i] != "") v[++k] = w[i]
                if (k >= 3 && v[3] == codename) { print v[2]; exit }
            }' "$f"
    done
}

mirror="${PGVECTOR_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    mirror="$(find_mirror | head -n 1)"
fi
if [[ -z "$mirror" ]]; then
    mirror="http://deb.debian.org/debian"
    log "no Debian mirror found in the apt sources; using ${mirror}"
fi
mirror="${mirror%/}"

# --- fetch the source package with a private apt configuration ---------------
work="$(mktemp -d -t pgvector-build.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
chmod 0755 "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
# apt downloads as the unprivileged _apt user when it can write the target.
if getent passwd _apt >/dev/null; then
    chown _apt "$work/lists/partial" "$work/src"
fi

signed_by=""
if [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
    signed_by="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
fi
printf 'deb-src %s%s %s main\n' "$signed_by" "$mirror" "$suite" > "$work/sources.list"

private_apt=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
)

log "fetching the ${suite} source index from ${mirror} (private apt lists)"
apt-get "${private_apt[@]}" update -qq || die "apt-get update of the private ${suite} deb-src index failed"

log "downloading Debian's pgvector source package from ${suite}"
(cd "$work/src" && apt-get "${private_apt[@]}" source -qq --download-only pgvector) \
    || die "apt-get source --download-only pgvector failed"

shopt -s nullglob
dscs=("$work"/src/pgvector_*.dsc)
shopt -u nullglob
[[ ${#dscs[@]} -eq 1 ]] || die "expected one pgvector .dsc in $work/src, found ${#dscs[@]}"
dsc="${dscs[0]}"
deb_version="$(sed -n 's/^Version:[[:space:]]*//p' "$dsc" | head -n 1)"
upstream="${deb_version#*:}"
upstream="${upstream%-*}"
version_ok "$upstream" || die "${suite} has pgvector ${deb_version}, not ${series}.x"
log "unpacking pgvector ${deb_version}"
# dpkg-source cannot check the uploader's signature without debian-keyring and
# says so on stderr; apt has already verified these files against the signed
# ${suite} index, so its output is shown only when unpacking fails.
dpkg-source -x "$dsc" "$work/src/pgvector" >"$work/dpkg-source.log" 2>&1 \
    || { cat "$work/dpkg-source.log" >&2; die "dpkg-source -x $dsc failed"; }

# --- build and install ---------------------------------------------------------
# OPTFLAGS= drops pgvector's default -march=native (as Debian's own build does),
# so the module does not depend on the exact CPU it was built on.
log "building pgvector ${upstream} against PostgreSQL ${PG_MAJOR}"
make -C "$work/src/pgvector" -s -j "$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null \
    || die "make failed"
log "installing into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
make -C "$work/src/pgvector" -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >/dev/null \
    || die "make install failed"

current="$(installed_version)"
if [[ -z "$current" ]] || ! version_ok "$current"; then
    die "vector ${series}.x not found in the extension directory after make install (found: ${current:-nothing})"
fi

# --- verify against the running server ----------------------------------------
if ! pg_isready -q -h "$pg_host" -p "$pg_port"; then
    log "PostgreSQL is not accepting connections at ${pg_host}:${pg_port}; starting services"
    "$script_dir/services.sh" || die "could not start PostgreSQL to verify the extension"
fi
scratch="pgvector_check_$$"
psql_cmd=(psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U postgres)
drop_scratch() { "${psql_cmd[@]}" -d postgres -c "DROP DATABASE IF EXISTS ${scratch}" >/dev/null 2>&1 || true; }
trap 'drop_scratch; cleanup' EXIT

log "verifying CREATE EXTENSION vector in scratch database ${scratch}"
"${psql_cmd[@]}" -d postgres -c "CREATE DATABASE ${scratch}" >/dev/null \
    || die "could not create scratch database ${scratch}"
got="$("${psql_cmd[@]}" -d "$scratch" -tA \
    -c "CREATE EXTENSION IF NOT EXISTS vector" \
    -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" \
    -c "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector")" \
    || die "CREATE EXTENSION vector failed in ${scratch}"
drop_scratch
extversion="$(sed -n 1p <<<"$got")"
version_ok "$extversion" || die "server reports vector ${extversion:-<none>}, expected ${series}.x"
log "pgvector ${extversion} installed and verified"
