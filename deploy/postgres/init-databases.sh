#!/usr/bin/env bash
# PostgreSQL init script (mounted into /docker-entrypoint-initdb.d, so the postgres image runs it
# once, on the first start with an empty data volume). For each service database it creates a
# login role of the same name that owns the database and may connect to it alone:
#
#   customers  owned by role customers, password $CUSTOMERS_DB_PASSWORD
#   orders     owned by role orders,    password $ORDERS_DB_PASSWORD
#
# Each service so reaches only its own data. Idempotent (re-running updates the passwords), so it
# can also be run by hand against an existing server:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-ordertable.sh
# ORDERTABLE_DATABASES overrides the list (tests use unique names); the password of database
# NAME is read from ${NAME^^}_DB_PASSWORD.
#
# The body runs in a subshell: the image sources non-executable *.sh files into its own
# entrypoint, and our shell options must not leak into it; a failure still fails the init.
(
set -euo pipefail

databases=${ORDERTABLE_DATABASES:-customers orders}
for db in $databases; do
  if [[ ! $db =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "init-databases: invalid database name $db" >&2
    exit 1
  fi
  var="${db^^}_DB_PASSWORD"
  password=${!var:-}
  if [[ -z $password ]]; then
    echo "init-databases: $var is not set" >&2
    exit 1
  fi
  echo "init-databases: database $db, owner $db"
  # psql variables (:'name', :'pw') are quoted by psql itself; \gexec runs the generated DDL,
  # since CREATE DATABASE cannot run inside the DO block a conditional would need.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" -v name="$db" -v pw="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'name', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'name') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'name', :'name') \gexec
SQL
done
)
