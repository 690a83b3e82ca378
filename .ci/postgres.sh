#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests that need one.
#
#   eval "$(.ci/postgres.sh start)"   # prints export lines: WATCHWORD_TEST_POSTGRES, PG_CLUSTER
#   .ci/postgres.sh stop "$PG_CLUSTER"
#
# `start` installs the distribution's PostgreSQL when it is missing (as root, with apt-get),
# creates a cluster in a new temporary folder as an unprivileged user (initdb refuses root),
# starts it on 127.0.0.1 and a free port, creates the database `watchword_test`, and prints
# its URL. Everything it prints on stdout is for `eval`; its progress goes to stderr.
# `stop` stops that cluster and removes its folder.
set -euo pipefail

find_bin() {
  local dir
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return
    fi
  done
  return 1
}

# Runs a command as the cluster's owner: root runs it as `postgres` (or `nobody`), anyone
# else as themselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case ${1:-} in
  start)
    if ! bin=$(find_bin); then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing postgresql from the distribution's packages" >&2
        { apt-get install -y postgresql >/dev/null 2>&1 \
          || { apt-get update >/dev/null 2>&1 && apt-get install -y postgresql >/dev/null 2>&1; }; } \
          || { echo "cannot install postgresql" >&2; exit 1; }
        bin=$(find_bin) || { echo "postgresql installed but no initdb found" >&2; exit 1; }
      else
        echo "postgresql is missing and this is not root: install it (apt-get install postgresql)" >&2
        exit 1
      fi
    fi
    owner=$(id -un)
    if [ "$(id -u)" = 0 ]; then
      owner=postgres
      getent passwd postgres >/dev/null || owner=nobody
    fi
    dir=$(mktemp -d /tmp/watchword-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown "$owner" "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U watchword --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    # The socket directory is the cluster's own folder: /var/run/postgresql may not exist.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >&2 \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U watchword watchword_test >&2
    echo "export PG_CLUSTER=$dir"
    echo "export WATCHWORD_TEST_POSTGRES=postgres://watchword@127.0.0.1:$port/watchword_test"
    echo "postgresql $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, cluster in $dir" >&2
    ;;
  stop)
    dir=${2:?usage: $0 stop CLUSTER_DIR}
    bin=$(find_bin)
    owner=$(stat -c %U "$dir")
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop CLUSTER_DIR" >&2
    exit 2
    ;;
esac
