package search

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshotDir = flag.String("screenshot-dir", "", "also save the browser test's screenshots here (always, not only on failure)")

// chromiumPath finds a Chromium/Chrome binary: $CHROME_PATH or the usual names.
func chromiumPath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives the page in headless Chromium: sort by clicking headers, page, search,
// filter by a facet chip, and see v2's new column after the alias moves.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium binary found (apt-get install -y chromium, or set CHROME_PATH); skipping the browser test")
	}
	s := newStack(t)
	r := rand.New(rand.NewPCG(testSeed(t), 8))
	docs := genOrders(r, 130, true)
	v1 := s.createIndex("v1")
	s.bulk(v1, docs, false)
	s.point(v1)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	shot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		dirs := []string{*screenshotDir}
		if t.Failed() {
			dirs = append(dirs, t.TempDir())
		}
		for _, d := range dirs {
			if d == "" {
				continue
			}
			p := filepath.Join(d, name+".png")
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Logf("screenshot: %v", err)
			} else if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Logf("screenshot: %v", err)
			} else {
				t.Logf("screenshot: %s", p)
			}
		}
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Errorf("%s: %v", name, err)
			shot("failed-" + strings.ReplaceAll(name, " ", "-"))
			t.FailNow()
		}
	}
	// waitJS polls a JS expression until it is true.
	waitJS := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
	}
	// column reads the cells of a column into out.
	column := func(col string, out *[]string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll('#orders tbody td[data-column=%q]')].map(td => td.textContent)`, col))(ctx, tg)
			*out = v
			return err
		})
	}
	numbers := func(ids []string) []string {
		byID := map[string]string{}
		for _, d := range docs {
			byID[d.OrderID] = d.OrderNumber
		}
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = byID[id]
		}
		return out
	}

	step("load", chromedp.Navigate(s.srv.URL+"/"), waitJS(`document.body.dataset.state === "ready"`))
	headers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#orders thead th')].map(th => th.dataset.column)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(headers, "customer_name") || slices.Contains(headers, "customer_country") || slices.Contains(headers, "order_id") {
		t.Errorf("v1 headers: got %v, want visible v1 columns only", headers)
	}

	// Sort by customer name, ascending then descending.
	step("sort asc", chromedp.Click(chromedp.CSS(`th[data-column="customer_name"] button`)),
		waitJS(`document.querySelector('th[data-column="customer_name"]').getAttribute('aria-sort') === 'ascending' && document.body.dataset.state === 'ready'`))
	var got []string
	want := numbers(expectedOrder(docs, []SortKey{{Column: "customer_name"}}))
	step("read page 1", waitJS(`location.search.includes('sort=customer_name')`), column("order_number", &got))
	if !slices.Equal(got, want[:50]) {
		t.Errorf("page 1 by customer name: got %v, want %v", got, want[:50])
	}
	step("next page", chromedp.Click(chromedp.CSS(`#next`)), waitJS(`document.querySelector('#page-no').textContent === 'Page 2'`), column("order_number", &got))
	if !slices.Equal(got, want[50:100]) {
		t.Errorf("page 2 by customer name: got %v, want %v", got, want[50:100])
	}
	step("previous page", chromedp.Click(chromedp.CSS(`#prev`)), waitJS(`document.querySelector('#page-no').textContent === 'Page 1'`), column("order_number", &got))
	if !slices.Equal(got, want[:50]) {
		t.Errorf("back on page 1: got %v", got)
	}
	step("sort desc", chromedp.Click(chromedp.CSS(`th[data-column="customer_name"] button`)),
		waitJS(`document.querySelector('th[data-column="customer_name"]').getAttribute('aria-sort') === 'descending' && location.search.includes('sort=-customer_name')`),
		waitJS(`document.body.dataset.state === 'ready'`), column("order_number", &got))
	wantDesc := numbers(expectedOrder(docs, []SortKey{{Column: "customer_name", Desc: true}}))
	if !slices.Equal(got, wantDesc[:50]) {
		t.Errorf("page 1 by customer name desc: got %v, want %v", got, wantDesc[:50])
	}
	// Shift-click adds a secondary sort.
	step("secondary sort", chromedp.Evaluate[chromedp.Void](`document.querySelector('th[data-column="total"] button').dispatchEvent(new MouseEvent('click', {bubbles: true, shiftKey: true}))`),
		waitJS(`location.search.includes('sort=-customer_name%2Ctotal')`), waitJS(`document.querySelector('th[data-column="total"] sup') !== null`))

	// Search.
	nLovelace := 0
	for _, d := range docs {
		if d.CustomerName != nil && strings.EqualFold(*d.CustomerName, "ada lovelace") {
			nLovelace++
		}
	}
	step("search", chromedp.SendKeys(chromedp.CSS(`#q`), "lovelace\r"),
		waitJS(fmt.Sprintf(`document.querySelectorAll('#orders tbody tr').length === %d && location.search.includes('q=lovelace')`, min(nLovelace, 50))),
		column("customer_name", &got))
	for _, name := range got {
		if !strings.EqualFold(name, "ada lovelace") {
			t.Errorf("search lovelace shows %q", name)
		}
	}
	step("clear search", chromedp.SendKeys(chromedp.CSS(`#q`), "\x1b"), waitJS(`!location.search.includes('q=')`))
	shot("v1")

	// The reindex: v2 with a new column goes live; the page shows it after a refresh.
	v2 := s.createIndex("v2")
	s.bulk(v2, docs, true)
	s.point(v2)
	step("refresh after swap", chromedp.Click(chromedp.CSS(`#refresh`)),
		waitJS(`document.querySelector('th[data-column="customer_country"]') !== null`),
		waitJS(fmt.Sprintf(`document.querySelector('#index-link').textContent.startsWith(%q)`, v2)))
	var countries []string
	step("country cells", column("customer_country", &countries))
	if len(countries) == 0 || !slices.ContainsFunc(countries, func(c string) bool {
		return strings.HasSuffix(c, "DE") || strings.HasSuffix(c, "FR") || strings.HasSuffix(c, "GB") || strings.HasSuffix(c, "US") || strings.HasSuffix(c, "JP")
	}) {
		t.Errorf("customer_country cells: %v", countries)
	}

	// Facet chip filter.
	nPaid := 0
	for _, d := range docs {
		if d.Status == "paid" {
			nPaid++
		}
	}
	step("filter paid", waitJS(`document.querySelector('.filter-group[data-column="status"] button[data-value="paid"]') !== null`),
		chromedp.Click(chromedp.CSS(`.filter-group[data-column="status"] button[data-value="paid"]`)),
		waitJS(`location.search.includes('filter.status=paid')`),
		waitJS(fmt.Sprintf(`document.querySelector('#summary').textContent.includes('of %d orders')`, nPaid)),
		column("status", &got))
	for _, st := range got {
		if st != "paid" {
			t.Errorf("filtered to paid, row shows %q", st)
		}
	}
	shot("v2")
	if t.Failed() {
		shot("end")
	}
}
