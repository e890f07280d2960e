package bench

import (
	"context"
	"fmt"
	"time"
)

// writeFigures measures figure 1, the source write path:
//   - orders created per second through the PurchaseOrderService API (each create checks the
//     customer over HTTP and commits the row and its outbox row in one transaction), with the
//     relays stopped so the API alone is timed;
//   - the orders relay's events/s draining that backlog to Kafka, ÷ the API rate (goal ≥ 0.9:
//     the relay is never the bottleneck);
//   - the relay lag p99 (commit → Kafka acknowledgement) at half the API rate (goal < 200 ms).
func (r *run) writeFigures(ctx context.Context) ([]Figure, error) {
	st, err := r.system(ctx)
	if err != nil {
		return nil, err
	}
	custs, err := r.customers(ctx)
	if err != nil {
		return nil, err
	}
	n := r.sizes.WriteOrders
	st.KillRelay("orders")
	r.progress("write: creating %d orders through the API, 16 clients, relay stopped", n)
	t0 := time.Now()
	if _, err := createOrders(ctx, st, custs, n, 16, 0, r.cfg.Seed+1, &r.retried); err != nil {
		st.StartRelay("orders")
		return nil, err
	}
	apiDur := time.Since(t0)
	apiRate := rate(n, apiDur)
	r.setAPIRate(apiRate)

	r.progress("write: %.0f orders/s; draining the outbox with the relay", apiRate)
	lag := r.watchRelay("orders")
	t1 := time.Now()
	st.StartRelay("orders")
	if err := waitFor(ctx, 5*time.Minute, 5*time.Millisecond, "relay drains the outbox", func(context.Context) (bool, error) {
		return lag.count() >= n, nil
	}); err != nil {
		return nil, err
	}
	relayRate := rate(n, time.Since(t1))

	half := apiRate / 2
	m := max(n/2, 200)
	r.progress("write: relay %.0f events/s; %d more orders at %.0f/s for the relay lag", relayRate, m, half)
	lag = r.watchRelay("orders")
	if _, err := createOrders(ctx, st, custs, m, 16, half, r.cfg.Seed+2, &r.retried); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, time.Minute, 5*time.Millisecond, "relay publishes the paced orders", func(context.Context) (bool, error) {
		return lag.count() >= m, nil
	}); err != nil {
		return nil, err
	}
	api := plain("write", "write.api_orders_per_s", apiRate, "orders/s", nil)
	api.Note = fmt.Sprintf("%d creates, 16 concurrent clients over HTTP, relay stopped", n)
	relay := ratioOf("write", "write.relay_events_per_s", relayRate, "events/s", apiRate, "API orders/s", AtLeast(0.9))
	relay.BaselineUnit = "orders/s"
	relay.Note = fmt.Sprintf("the orders relay publishing the %d-event outbox backlog to Kafka (idempotent producer, acks=all)", n)
	p99 := plain("write", "write.relay_lag_p99", ms(lag.percentile(99)), "ms", AtMost(200))
	p99.Note = fmt.Sprintf("commit → Kafka ack, %d orders at %.0f/s (half the API rate); p50 %.1f ms", m, half, ms(lag.percentile(50)))
	return []Figure{api, relay, p99}, nil
}
