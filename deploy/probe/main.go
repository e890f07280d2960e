// Command probe is the container health check of the ordertable image: it GETs one URL and
// exits 0 on a 2xx answer, 1 otherwise. The runtime image (distroless/static) has neither a
// shell nor curl, and Docker health checks run a program inside the container, so this small
// static binary ships beside ordertable; it is not a product command, only a probe.
//
//	probe [-timeout 3s] http://127.0.0.1:8080/readyz
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "give up after this long")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: probe [-timeout 3s] URL")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := check(ctx, http.DefaultClient, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		cancel()
		os.Exit(1)
	}
}

// check GETs url and reports an error unless the answer is 2xx.
func check(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
