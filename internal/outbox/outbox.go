// Package outbox implements the transactional outbox of the source services: a change and
// its event are written in one PostgreSQL transaction (Append), and a relay (Relay) publishes
// committed events to Kafka, deleting each row only after Kafka acknowledged it.
//
// Why no "last published id": ids are assigned before commit, so a slow transaction can
// commit an id lower than one already published. The relay instead reads whatever rows are
// present, in id order, and deletes what it published; a late-committing row is simply found
// on the next pass. Events of one entity are ordered because each change locks the entity row
// first, so a later change of the same entity takes its outbox id after the earlier one
// committed.
package outbox

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/ordertable/ordertable/internal/events"
)

// Channel is the LISTEN/NOTIFY channel a statement-level trigger notifies on every outbox
// insert; the notification is delivered at commit, so it wakes the relay exactly when there
// is something to publish.
const Channel = "ordertable_outbox"

// schemaSQL creates the outbox table and its wake-up trigger.
const schemaSQL = `
CREATE TABLE outbox (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	topic      text        NOT NULL,
	msg_key    text        NOT NULL,
	payload    bytea       NOT NULL,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + Channel + `', '');
	RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
`

const dropSQL = `
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
DROP TABLE IF EXISTS outbox;
`

// Migration returns the goose migration that creates the outbox table, to be registered by a
// service (goose.WithGoMigrations) at the given version of its own migration sequence.
func Migration(version int64) *goose.Migration {
	run := func(sqlText string) *goose.GoFunc {
		return &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, sqlText)
			return err
		}}
	}
	return goose.NewGoMigration(version, run(schemaSQL), run(dropSQL))
}

// Append encodes e (validating it) and inserts it into the outbox within tx, so the event
// exists if and only if the transaction that made the change commits. The Kafka topic comes
// from the event type and the message key is the entity id.
func Append(ctx context.Context, tx pgx.Tx, e events.Event) error {
	payload, err := events.Encode(e)
	if err != nil {
		return fmt.Errorf("outbox: encode %s %s: %w", e.Type, e.EntityID, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (topic, msg_key, payload) VALUES ($1, $2, $3)`,
		e.Type.Topic(), e.EntityID, payload); err != nil {
		return fmt.Errorf("outbox: insert %s %s: %w", e.Type, e.EntityID, err)
	}
	return nil
}
