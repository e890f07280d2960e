package pgstore

import (
	"context"
	"net/url"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/ordertable/ordertable/internal/testenv"
)

// A service's database is created when missing, and migrating twice is harmless.
func TestOpenCreatesDatabase(t *testing.T) {
	ctx := context.Background()
	admin := testenv.AdminDatabaseURL()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	name := testenv.UniqueName("ot_pgstore")
	u.Path = "/" + name
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Log(err)
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	migrations := fstest.MapFS{"00001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id uuid PRIMARY KEY);\n-- +goose Down\nDROP TABLE things;\n")}}
	for range 2 {
		pool, err := Open(ctx, Options{DatabaseURL: u.String(), Migrations: migrations})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&n); err != nil {
			t.Fatalf("migrated table missing: %v", err)
		}
		pool.Close()
	}
}

func TestKeysetQuery(t *testing.T) {
	for _, tc := range []struct {
		after, before string
		want          string
		args          int
	}{
		{"", "", "SELECT x FROM t ORDER BY id LIMIT $1", 1},
		{"a", "", "SELECT x FROM t WHERE id > $1 ORDER BY id LIMIT $2", 2},
		{"", "b", "SELECT x FROM t WHERE id < $1 ORDER BY id LIMIT $2", 2},
		{"a", "b", "SELECT x FROM t WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3", 3},
	} {
		q, args := KeysetQuery("SELECT x FROM t", tc.after, tc.before, 10)
		if q != tc.want || len(args) != tc.args || args[len(args)-1] != 10 {
			t.Errorf("after %q before %q: got %q %v, want %q", tc.after, tc.before, q, args, tc.want)
		}
	}
}
