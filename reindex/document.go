package reindex

import (
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

// buildDoc joins an order with its customer's state (nil when neither the customer service nor
// the indexer knows it) through the indexer's field catalog, so backfilled and verified
// documents and their external versions are exactly the indexer's.
func buildDoc(fields mappings.FieldSet, o events.Order, c *indexer.CustomerState, indexedAt time.Time) (indexer.Document, error) {
	return indexer.BuildDocument(o, c, fields, indexedAt)
}

// docVersionOf reads the external version back from a stored document's version fields.
func docVersionOf(doc map[string]any) int64 {
	v, err := indexer.DocVersion(asInt(doc["order_version"]), asInt(doc["customer_version"]))
	if err != nil {
		return 0
	}
	return v
}
