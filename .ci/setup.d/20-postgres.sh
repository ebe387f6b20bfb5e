#!/usr/bin/env bash
# PostgreSQL for the test suites that need a real server (state store, postgres source).
# Sourced by .ci/run as root; idempotent and quick when PostgreSQL is already installed and up.
# Exports TIERS_TEST_PG_URL (SQLAlchemy URL of an empty database owned by role `tiers`).
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

PG_VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^${PG_VERSION} main$"; then
  pg_createcluster "${PG_VERSION}" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="${PG_VERSION}" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "${PG_VERSION}" main start
fi
PG_PORT="$(pg_lsclusters -h | awk -v v="${PG_VERSION}" '$1==v && $2=="main" {print $3}')"

for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q -h 127.0.0.1 -p ${PG_PORT}" && break
  sleep 1
done

su postgres -c "psql -q -p ${PG_PORT} -tAc \"SELECT 1 FROM pg_roles WHERE rolname='tiers'\"" | grep -q 1 \
  || su postgres -c "psql -q -p ${PG_PORT} -c \"CREATE ROLE tiers LOGIN PASSWORD 'tiers' CREATEDB\""
su postgres -c "psql -q -p ${PG_PORT} -tAc \"SELECT 1 FROM pg_database WHERE datname='tiers_test'\"" | grep -q 1 \
  || su postgres -c "createdb -p ${PG_PORT} -O tiers tiers_test"

export TIERS_TEST_PG_URL="postgresql+psycopg://tiers:tiers@127.0.0.1:${PG_PORT}/tiers_test"
echo "PostgreSQL ${PG_VERSION} ready: ${TIERS_TEST_PG_URL}"
