#!/usr/bin/env bash
# Make sure the local PostgreSQL and Redis are up, starting them when they are down.
#
# Environment (all optional):
#   PG_MAJOR          PostgreSQL major version (default: the single entry in /etc/postgresql)
#   PG_CLUSTER        cluster name (default: main)
#   PGHOST / PGPORT   where PostgreSQL must answer (default: 127.0.0.1 / 5432)
#   REDIS_HOST / REDIS_PORT   where Redis must answer (default: 127.0.0.1 / 6379)
#   SERVICES_TIMEOUT  seconds to wait for each service (default: 30)
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

pg_host="${PGHOST:-127.0.0.1}"
pg_port="${PGPORT:-5432}"
pg_cluster="${PG_CLUSTER:-main}"
redis_host="${REDIS_HOST:-127.0.0.1}"
redis_port="${REDIS_PORT:-6379}"
timeout="${SERVICES_TIMEOUT:-30}"

pg_up() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }
redis_up() { [[ "$(redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null)" == PONG ]]; }

# wait_for <name> <check-function>
wait_for() {
    local name="$1" check="$2" deadline=$((SECONDS + timeout))
    until "$check"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
    log "${name} is ready"
}

# --- PostgreSQL ------------------------------------------------------------------
command -v pg_isready >/dev/null || die "pg_isready not found (is postgresql-client installed?)"
if pg_up; then
    log "PostgreSQL is up at ${pg_host}:${pg_port}"
else
    command -v pg_ctlcluster >/dev/null || die "pg_ctlcluster not found (is postgresql-common installed?)"
    pg_major="${PG_MAJOR:-}"
    if [[ -z "$pg_major" ]]; then
        mapfile -t versions < <(ls /etc/postgresql 2>/dev/null)
        case ${#versions[@]} in
            0) die "no PostgreSQL cluster configured under /etc/postgresql" ;;
            1) pg_major="${versions[0]}" ;;
            *) die "several PostgreSQL versions under /etc/postgresql (${versions[*]}); set PG_MAJOR" ;;
        esac
    fi
    [[ -d "/etc/postgresql/${pg_major}/${pg_cluster}" ]] \
        || die "PostgreSQL cluster ${pg_major}/${pg_cluster} does not exist"
    # The socket directory lives on a tmpfs on some machines and may be gone.
    if [[ ! -d /var/run/postgresql ]]; then
        install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    fi
    log "PostgreSQL is down at ${pg_host}:${pg_port}; starting cluster ${pg_major}/${pg_cluster}"
    # "already running" is not an error here: the port check above may have raced a start.
    pg_ctlcluster --skip-systemctl-redirect "$pg_major" "$pg_cluster" start \
        || log "pg_ctlcluster returned non-zero; waiting for the server anyway"
    wait_for "PostgreSQL" pg_up \
        || die "PostgreSQL did not accept connections at ${pg_host}:${pg_port} within ${timeout}s (see /var/log/postgresql/postgresql-${pg_major}-${pg_cluster}.log)"
fi

# --- Redis -------------------------------------------------------------------------
command -v redis-cli >/dev/null || die "redis-cli not found (is redis-tools installed?)"
if redis_up; then
    log "Redis is up at ${redis_host}:${redis_port}"
else
    command -v redis-server >/dev/null || die "redis-server not found (is redis-server installed?)"
    log "Redis is down at ${redis_host}:${redis_port}; starting redis-server"
    redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" --appendonly no \
        >/dev/null || die "redis-server failed to start"
    wait_for "Redis" redis_up \
        || die "Redis did not answer PING at ${redis_host}:${redis_port} within ${timeout}s"
fi
