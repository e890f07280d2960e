-- +goose Up
CREATE SEQUENCE order_number_seq;

CREATE TABLE orders (
    id           uuid        PRIMARY KEY,
    order_number text        NOT NULL UNIQUE,
    customer_id  uuid        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('draft', 'placed', 'paid', 'shipped', 'cancelled')),
    -- Unconstrained numeric keeps the scale the client sent, so total::text round-trips exactly.
    total        numeric     NOT NULL CHECK (total >= 0),
    currency     char(3)     NOT NULL,
    placed_at    timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    version      bigint      NOT NULL CHECK (version >= 1)
);

CREATE INDEX orders_customer_id ON orders (customer_id);

-- +goose Down
DROP TABLE orders;
DROP SEQUENCE order_number_seq;
