package cliflags

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestBindEnv(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://env")
	t.Setenv("BULK_SIZE", "7")
	t.Setenv("WORKERS", "notanumber")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	db := fs.String("database-url", "postgres://default", "PostgreSQL URL")
	bulk := fs.Int("bulk-size", 1, "bulk size")
	listen := fs.String("listen", "127.0.0.1:1", "listen address")
	if err := fs.Parse([]string{"--listen", "127.0.0.1:2"}); err != nil {
		t.Fatal(err)
	}
	if err := BindEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *db != "postgres://env" || *bulk != 7 || *listen != "127.0.0.1:2" {
		t.Fatalf("got db=%q bulk=%d listen=%q", *db, *bulk, *listen)
	}
	if u := fs.Lookup("database-url").Usage; !strings.Contains(u, "[$DATABASE_URL]") {
		t.Fatalf("usage %q does not name the variable", u)
	}
	fs2 := pflag.NewFlagSet("y", pflag.ContinueOnError)
	fs2.Int("workers", 1, "workers")
	if err := BindEnv(fs2); err == nil || !strings.Contains(err.Error(), "WORKERS") {
		t.Fatalf("got %v, want an error naming WORKERS", err)
	}
}
