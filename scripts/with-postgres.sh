#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS...]: runs CMD with a throwaway PostgreSQL.
#
# It initdb's a cluster under a temp dir, starts it on a free loopback port
# (no Unix socket outside the temp dir, trust auth, fsync off: test data
# only), exports PODTRACE_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres,
# runs CMD, and always stops the cluster and removes the dir. CMD's exit
# code is the script's. Needs Debian's postgresql package; as root the
# server runs as user postgres (initdb and postgres refuse root).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

bin=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && bin=$d
done
if [ -z "$bin" ]; then
  echo "with-postgres: no PostgreSQL server (apt-get install postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/podtrace-pg.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi

# a free loopback port: ask the kernel for one, then hand it to postgres
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)))

stop() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }

export PODTRACE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
set +e
"$@"
rc=$?
set -e
exit $rc
