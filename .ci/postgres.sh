#!/usr/bin/env bash
# Start Debian's PostgreSQL and make a throwaway database for the campaign-store tests.
# Prints the SQLAlchemy URL on stdout; the tests read it from CHURNLENS_TEST_DB.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | grep -q .; then
  pg_createcluster "$version" main >&2
fi
cluster="$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')"
pg_ctlcluster $cluster start >&2 2>/dev/null || true
port="$(pg_lsclusters -h | head -1 | awk '{print $3}')"
run() { runuser -u postgres -- "$@"; }
for _ in $(seq 30); do run psql -p "$port" -qAtc "select 1" >/dev/null 2>&1 && break; sleep 1; done
run psql -p "$port" -qAtc "select 1 from pg_roles where rolname='churnlens'" | grep -q 1 \
  || run psql -p "$port" -qc "create role churnlens login password 'churnlens' createdb" >&2
run psql -p "$port" -qc "drop database if exists churnlens_test" >&2
run psql -p "$port" -qc "create database churnlens_test owner churnlens" >&2
echo "postgresql+psycopg://churnlens:churnlens@127.0.0.1:${port}/churnlens_test"
