package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/testenv"
)

// TestSearchGroupAlone runs `ordertable bench --quick --only search`: the group must measure
// its figures without a group before it that starts an indexer (it used to fail every figure
// with "no such index [orders]"), and mark the API composition figure not measured, since no
// group created orders through the services.
func TestSearchGroupAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	brokers := testenv.EnvKafkaBrokers()
	rep, err := Run(ctx, Config{Quick: true, Only: []string{"search"}, Seed: 7,
		ESURL: os.Getenv("ES_URL"), KafkaBrokers: brokers, DatabaseURL: testenv.AdminDatabaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Figure{}
	for _, f := range rep.Figures {
		got[f.Name] = f
	}
	for _, name := range []string{"search.first_page_keyword_p99", "search.first_page_numeric_p99", "search.first_page_date_p99", "search.first_page_text_p99", "search.cursor_page_1000_p99"} {
		f, ok := got[name]
		if !ok || f.NotMeasured != "" {
			t.Errorf("%s: got %+v, want a measurement", name, f)
		}
	}
	if f := got["search.api_composition_vs_projection"]; !strings.Contains(f.NotMeasured, "no orders") {
		t.Errorf("api composition: got %+v, want not measured for lack of orders", f)
	}
}
