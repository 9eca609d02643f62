#!/usr/bin/env bash
# Run once by the official postgres image, on an empty data directory only
# (/docker-entrypoint-initdb.d). Each service owns its own database and role; no service can
# read another's (ARCHITECTURE.md: "no service reads another's database").
#
# Dev only: every role gets the password in BOOMERANG_DB_PASSWORD. Production databases are
# provisioned outside this repository and their URLs reach the pods through Secrets.
set -euo pipefail

password="${BOOMERANG_DB_PASSWORD:?BOOMERANG_DB_PASSWORD must be set}"

for service in ingest segmenter messenger feedback; do
  echo "boomerang initdb: role and database '${service}'"
  psql --no-psqlrc -v ON_ERROR_STOP=1 \
       --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
       -v service="${service}" -v password="${password}" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
done
