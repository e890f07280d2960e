package reindex

import (
	"time"

	"github.com/ordertable/ordertable/internal/events"
)

// TODO(indexer): replace with indexer.BuildDocument / indexer.DocVersion once they land, so
// backfilled documents and versions are the indexer's by construction.

// docVersion is the external version of a joined document: order version in the high 32 bits,
// customer version in the low ones, so either side's change raises it.
func docVersion(orderVersion, customerVersion int64) int64 {
	return orderVersion<<32 | (customerVersion & 0xffffffff)
}

// buildDocument joins an order with its customer (nil when unknown or deleted) into the
// document for an index whose mapping declares fields.
func buildDocument(fields map[string]bool, o events.Order, c *events.Customer) (map[string]any, int64) {
	all := map[string]any{
		"order_id":         o.ID,
		"order_number":     o.OrderNumber,
		"status":           o.Status,
		"total":            o.Total,
		"currency":         o.Currency,
		"placed_at":        timePtr(o.PlacedAt),
		"updated_at":       o.UpdatedAt.UTC().Format(time.RFC3339Nano),
		"customer_id":      o.CustomerID,
		"order_version":    o.Version,
		"customer_version": int64(0),
		"customer_deleted": c == nil,
		"indexed_at":       time.Now().UTC().Format(time.RFC3339Nano),
	}
	var cv int64
	if c != nil {
		cv = c.Version
		all["customer_name"] = c.Name
		all["customer_country"] = c.Country
		all["customer_version"] = c.Version
	}
	doc := make(map[string]any, len(fields))
	for f := range fields {
		if v, ok := all[f]; ok {
			doc[f] = v
		}
	}
	return doc, docVersion(o.Version, cv)
}

func timePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}
