#!/bin/sh
# One-shot creation of the ordertable topics, run by the `kafka-setup` service of
# docker-compose.yml once the broker is healthy (apache/kafka image: POSIX sh, Kafka CLI tools).
#
#   customers, orders   compacted: keyed by entity id, the latest event per key is a complete
#                       snapshot (internal/events); KAFKA_PARTITIONS partitions each
#   ordertable.dlq      events the indexer cannot process; deleted after 14 days
#
# Idempotent (--if-not-exists). An existing topic keeps its partition count: growing it moves
# keys between partitions and so breaks per-entity ordering (docs/production.md, "Scaling out").
set -eu

: "${KAFKA_BOOTSTRAP:?KAFKA_BOOTSTRAP is not set}"
: "${KAFKA_SASL_USER:?KAFKA_SASL_USER is not set}"
: "${KAFKA_SASL_PASSWORD:?KAFKA_SASL_PASSWORD is not set}"
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-6}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
case $KAFKA_PARTITIONS in
  '' | *[!0-9]* | 0) echo "kafka-setup: KAFKA_PARTITIONS must be a positive integer" >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
escaped_password=$(printf '%s' "$KAFKA_SASL_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')
cat >"$work/client.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_SASL_USER" password="$escaped_password";
PROPS

topic() { # NAME PARTITIONS CONFIG...
  name=$1 partitions=$2
  shift 2
  echo "kafka-setup: topic $name ($partitions partitions $*)"
  configs=""
  for c in "$@"; do configs="$configs --config $c"; done
  # shellcheck disable=SC2086 # configs is a list of words on purpose
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$work/client.properties" \
    --create --if-not-exists --topic "$name" \
    --partitions "$partitions" --replication-factor 1 $configs
}

topic customers "$KAFKA_PARTITIONS" cleanup.policy=compact
topic orders "$KAFKA_PARTITIONS" cleanup.policy=compact
topic ordertable.dlq 1 cleanup.policy=delete retention.ms=1209600000

"$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" \
  --command-config "$work/client.properties" --describe --topic 'customers|orders|ordertable[.]dlq'
echo "kafka-setup: done"
