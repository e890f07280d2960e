package contract

import (
	"testing"

	"github.com/ordertable/ordertable/internal/testenv"
)

// esURL returns ES_URL, or a fresh in-memory embedded engine for the test.
func esURL(t *testing.T) string {
	t.Helper()
	return testenv.ESURL(t)
}
