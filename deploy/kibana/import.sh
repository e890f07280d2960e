#!/usr/bin/env bash
# One-shot import of the ordertable Kibana objects (mappings/kibana/*.ndjson: the data view on the
# alias `orders`, the saved search "Purchase orders" and the dashboard), run by the `kibana-setup`
# service of docker-compose.yml once Kibana is healthy. Idempotent: objects keep fixed ids and
# are overwritten, so re-running it after editing the NDJSON updates them.
#
# Uses the saved objects import API (POST /api/saved_objects/_import, multipart field `file`,
# header kbn-xsrf) as the elastic user, then makes the orders data view Kibana's default. Fails
# unless Kibana answers 2xx with "success":true, printing Kibana's answer.
set -euo pipefail

: "${KIBANA_URL:?KIBANA_URL is not set}"
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is not set}"
KIBANA_OBJECTS_DIR=${KIBANA_OBJECTS_DIR:-$(dirname "$0")/../../mappings/kibana}
DEFAULT_DATA_VIEW=${DEFAULT_DATA_VIEW:-ordertable-orders}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
printf 'user = "elastic:%s"\n' "$(printf '%s' "$ELASTIC_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$work/auth"

# kibana DESCRIPTION CURL_ARGS...: one request; fails unless Kibana answers 2xx.
kibana() {
  local what=$1 status
  shift
  status=$(curl -sS -K "$work/auth" -o "$work/response" -w '%{http_code}' -H 'kbn-xsrf: true' "$@") || {
    echo "kibana-setup: $what: request failed" >&2
    return 1
  }
  if [[ $status != 2?? ]]; then
    echo "kibana-setup: $what: HTTP $status: $(head -c 4000 "$work/response")" >&2
    return 1
  fi
}

shopt -s nullglob
files=("$KIBANA_OBJECTS_DIR"/*.ndjson)
if ((${#files[@]} == 0)); then
  echo "kibana-setup: no .ndjson files in $KIBANA_OBJECTS_DIR" >&2
  exit 1
fi
for file in "${files[@]}"; do
  echo "kibana-setup: import $(basename "$file")"
  kibana "import $(basename "$file")" -X POST -F "file=@$file" \
    "${KIBANA_URL%/}/api/saved_objects/_import?overwrite=true"
  # A 200 can still carry per-object errors (missing references, bad attributes).
  if ! tr -d ' \n' <"$work/response" | grep -q '"success":true'; then
    echo "kibana-setup: import $(basename "$file") was refused: $(head -c 4000 "$work/response")" >&2
    exit 1
  fi
done

echo "kibana-setup: default data view $DEFAULT_DATA_VIEW"
printf '{"data_view_id":"%s","force":true}' "$DEFAULT_DATA_VIEW" >"$work/body"
kibana "set default data view" -X POST -H 'Content-Type: application/json' \
  --data-binary "@$work/body" "${KIBANA_URL%/}/api/data_views/default"

echo "kibana-setup: done"
