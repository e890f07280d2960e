#!/usr/bin/env bash
# One-shot security setup of the ordertable Elasticsearch cluster, run by the `setup` service of
# docker-compose.yml once Elasticsearch is healthy. Idempotent: run it again after changing a
# password in .env (`docker compose up -d --force-recreate setup`).
#
#  1. sets the password of the built-in kibana_system user, so Kibana can start;
#  2. creates or updates one role per ordertable component from $ROLES_DIR/<role>.json;
#  3. creates or updates one user per component holding only its role.
#
# It talks to Elasticsearch as the elastic superuser, never prints a password, and fails on the
# first request Elasticsearch refuses (non-2xx), printing Elasticsearch's answer.
set -euo pipefail

: "${ES_URL:?ES_URL is not set}"
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is not set}"
: "${KIBANA_SYSTEM_PASSWORD:?KIBANA_SYSTEM_PASSWORD is not set}"
: "${ES_SEARCH_PASSWORD:?ES_SEARCH_PASSWORD is not set}"
: "${ES_INDEXER_PASSWORD:?ES_INDEXER_PASSWORD is not set}"
: "${ES_REINDEX_PASSWORD:?ES_REINDEX_PASSWORD is not set}"
ROLES_DIR=${ROLES_DIR:-$(dirname "$0")/roles}

# .env.example's placeholders work, so a first try needs no editing; say loudly that they are
# public (the variable's name only, never its value).
for var in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD ES_SEARCH_PASSWORD ES_INDEXER_PASSWORD ES_REINDEX_PASSWORD; do
  if [[ ${!var} == change-me* ]]; then
    echo "setup: WARNING: $var still has the public placeholder of .env.example; set a secret before exposing anything" >&2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Credentials go to curl through a config file, not the command line (visible in ps).
umask 077
printf 'user = "elastic:%s"\n' "$(printf '%s' "$ELASTIC_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$work/auth"

# json_string VALUE: VALUE as a JSON string literal.
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# es METHOD PATH BODY_FILE: one request; fails unless Elasticsearch answers 2xx.
es() {
  local method=$1 path=$2 body=$3 status
  status=$(curl -sS -K "$work/auth" -o "$work/response" -w '%{http_code}' \
    -X "$method" -H 'Content-Type: application/json' \
    --data-binary "@$body" "${ES_URL%/}$path") || {
    echo "setup: $method $path: request failed" >&2
    return 1
  }
  if [[ $status != 2?? ]]; then
    echo "setup: $method $path: HTTP $status: $(head -c 2000 "$work/response")" >&2
    return 1
  fi
}

echo "setup: kibana_system password"
printf '{"password":%s}' "$(json_string "$KIBANA_SYSTEM_PASSWORD")" >"$work/body"
es POST /_security/user/kibana_system/_password "$work/body"

shopt -s nullglob
roles=("$ROLES_DIR"/*.json)
if ((${#roles[@]} == 0)); then
  echo "setup: no role definitions in $ROLES_DIR" >&2
  exit 1
fi
for file in "${roles[@]}"; do
  role=$(basename "$file" .json)
  echo "setup: role $role"
  es PUT "/_security/role/$role" "$file"
done

# user NAME ROLE PASSWORD FULL_NAME
user() {
  echo "setup: user $1 (role $2)"
  printf '{"password":%s,"roles":[%s],"full_name":%s,"metadata":{"managed_by":"ordertable setup"}}' \
    "$(json_string "$3")" "$(json_string "$2")" "$(json_string "$4")" >"$work/body"
  es PUT "/_security/user/$1" "$work/body"
}
user ordertable_search ordertable_search "$ES_SEARCH_PASSWORD" "ordertable search API"
user ordertable_indexer ordertable_indexer "$ES_INDEXER_PASSWORD" "ordertable indexer"
user ordertable_reindex ordertable_reindex "$ES_REINDEX_PASSWORD" "ordertable reindex job"

echo "setup: done"
