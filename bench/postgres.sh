# Shell helpers for the benchmarks that run on PostgreSQL (sourced by bench/run.sh and
# bench/cluster_scale.sh); the cluster itself comes from scripts/with-postgres.

# db_url DATABASE -> KMS_TEST_POSTGRES_URL with its database replaced
db_url() { "${PY:-python3}" - "$KMS_TEST_POSTGRES_URL" "$1" <<'PYEOF'
import sys
from urllib.parse import urlsplit, urlunsplit
p = urlsplit(sys.argv[1]); print(urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, p.fragment)))
PYEOF
}
# psql_at URL SQL: one statement, stop on error, tuples only
psql_at() { psql "$1" -v ON_ERROR_STOP=1 -qtAc "$2"; }
# have_postgres: scripts/with-postgres can start a throwaway cluster here (server binaries + psql)
have_postgres() {
  command -v psql >/dev/null 2>&1 || return 1
  [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ] && return 0
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && return 0; done
  return 1
}
