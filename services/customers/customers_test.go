package customers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/internal/events"
	st "github.com/ordertable/ordertable/internal/sourceservice/servicetest"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/customers"
)

// start runs the service without Kafka, so every event stays in the outbox where the test
// can see it.
func start(t *testing.T, token string) (base, dbURL string) {
	t.Helper()
	dbURL = testenv.NewDatabase(t, "customers")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := customers.New(ctx, customers.Config{DatabaseURL: dbURL, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, dbURL
}

func TestLifecycleAndEvents(t *testing.T) {
	base, db := start(t, "")
	r := st.Do(t, "POST", base+"/v1/customers", `{"name":" Ada Lovelace ","email":"ada@example.com","country":"gb"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: got %d %s, want 201", r.Status, r.Body)
	}
	var c customers.Customer
	r.Decode(t, &c)
	if c.Name != "Ada Lovelace" || c.Country != "GB" || c.Version != 1 || len(c.ID) != 36 || c.ID[14] != '7' {
		t.Fatalf("created %+v: want trimmed name, upper-case country, version 1, UUIDv7 id", c)
	}
	if got, want := r.Header.Get("Location"), "/v1/customers/"+c.ID; got != want {
		t.Fatalf("Location: got %q, want %q", got, want)
	}
	if got := r.Header.Get("ETag"); got != `"1"` {
		t.Fatalf("ETag: got %q, want \"1\"", got)
	}
	var got customers.Customer
	st.Do(t, "GET", base+"/v1/customers/"+c.ID, "").Decode(t, &got)
	if got != c {
		t.Fatalf("get: got %+v, want %+v", got, c)
	}

	r = st.Do(t, "PATCH", base+"/v1/customers/"+c.ID, `{"email":"ada@analytical.engine.org"}`, "If-Match: 1")
	if r.Status != http.StatusOK {
		t.Fatalf("patch: got %d %s", r.Status, r.Body)
	}
	var up customers.Customer
	r.Decode(t, &up)
	if up.Version != 2 || up.Email != "ada@analytical.engine.org" || up.Name != c.Name || !up.UpdatedAt.After(c.UpdatedAt) || !up.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("patched %+v: want version 2, new email, same name and created_at, later updated_at", up)
	}
	// A patch that changes nothing is not a new version and emits nothing.
	r = st.Do(t, "PATCH", base+"/v1/customers/"+c.ID, `{"email":"ada@analytical.engine.org","country":"GB"}`)
	var same customers.Customer
	r.Decode(t, &same)
	if r.Status != http.StatusOK || same.Version != 2 {
		t.Fatalf("no-op patch: got %d version %d, want 200 version 2", r.Status, same.Version)
	}
	if r := st.Do(t, "DELETE", base+"/v1/customers/"+c.ID, "", "If-Match: 2"); r.Status != http.StatusNoContent {
		t.Fatalf("delete: got %d %s, want 204", r.Status, r.Body)
	}
	if r := st.Do(t, "GET", base+"/v1/customers/"+c.ID, ""); r.Status != http.StatusNotFound {
		t.Fatalf("get deleted: got %d, want 404", r.Status)
	}

	evs := st.Outbox(t, db)
	wantTypes := []events.Type{events.CustomerCreated, events.CustomerUpdated, events.CustomerDeleted}
	if len(evs) != len(wantTypes) {
		t.Fatalf("outbox holds %d events, want %d: %+v", len(evs), len(wantTypes), evs)
	}
	for i, e := range evs {
		if e.Type != wantTypes[i] || e.Version != int64(i+1) || e.EntityID != c.ID || e.Customer == nil {
			t.Fatalf("event %d: got %s v%d %s, want %s v%d %s", i, e.Type, e.Version, e.EntityID, wantTypes[i], i+1, c.ID)
		}
	}
	if *evs[0].Customer != c {
		t.Fatalf("created snapshot: got %+v, want %+v", *evs[0].Customer, c)
	}
	if *evs[1].Customer != up {
		t.Fatalf("updated snapshot: got %+v, want %+v", *evs[1].Customer, up)
	}
	if d := evs[2].Customer; d.Email != up.Email || d.Version != 3 {
		t.Fatalf("deleted snapshot: got %+v, want last snapshot at version 3", d)
	}
}

// Every bad request answers with the one error shape, changes nothing and emits nothing.
func TestErrors(t *testing.T) {
	base, db := start(t, "")
	var c customers.Customer
	st.Do(t, "POST", base+"/v1/customers", `{"name":"Grace","email":"grace@example.com","country":"US"}`).Decode(t, &c)
	one := base + "/v1/customers/" + c.ID
	missing := base + "/v1/customers/01932f4e-0000-7000-8000-000000000000"
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `","email":"a@b.co","country":"DE"}`
	cases := []st.ErrorCase{
		st.Case("malformed json", "POST", base+"/v1/customers", `{"name":`, nil, 400, "bad_request", nil),
		st.Case("not an object", "POST", base+"/v1/customers", `[1,2]`, nil, 400, "bad_request", nil),
		st.Case("empty body", "POST", base+"/v1/customers", ``, nil, 400, "bad_request", nil),
		st.Case("trailing data", "POST", base+"/v1/customers", `{"name":"a","email":"a@b.co","country":"DE"} {}`, nil, 400, "bad_request", nil),
		st.Case("unknown field", "POST", base+"/v1/customers", `{"name":"a","email":"a@b.co","country":"DE","vip":true}`, nil, 400, "bad_request", []string{"vip"}),
		st.Case("wrong type", "POST", base+"/v1/customers", `{"name":7,"email":"a@b.co","country":"DE"}`, nil, 400, "bad_request", []string{"name"}),
		st.Case("all fields invalid", "POST", base+"/v1/customers", `{"name":"","email":"nope","country":"XX"}`, nil, 422, "validation_failed", []string{"name", "email", "country"}),
		st.Case("missing fields", "POST", base+"/v1/customers", `{}`, nil, 422, "validation_failed", []string{"name", "email", "country"}),
		st.Case("email display name", "POST", base+"/v1/customers", `{"name":"a","email":"A <a@b.co>","country":"DE"}`, nil, 422, "validation_failed", []string{"email"}),
		st.Case("email no dot", "POST", base+"/v1/customers", `{"name":"a","email":"a@localhost","country":"DE"}`, nil, 422, "validation_failed", []string{"email"}),
		st.Case("country alpha-3", "POST", base+"/v1/customers", `{"name":"a","email":"a@b.co","country":"DEU"}`, nil, 422, "validation_failed", []string{"country"}),
		st.Case("name too long", "POST", base+"/v1/customers", `{"name":"`+strings.Repeat("n", 201)+`","email":"a@b.co","country":"DE"}`, nil, 422, "validation_failed", []string{"name"}),
		st.Case("body too large", "POST", base+"/v1/customers", big, nil, 413, "body_too_large", nil),
		st.Case("patch too large", "PATCH", one, big, nil, 413, "body_too_large", nil),
		st.Case("patch null", "PATCH", one, `{"name":null}`, nil, 422, "validation_failed", []string{"name"}),
		st.Case("patch invalid", "PATCH", one, `{"country":"ZZ","email":"x"}`, nil, 422, "validation_failed", []string{"email", "country"}),
		st.Case("patch unknown field", "PATCH", one, `{"nickname":"g"}`, nil, 400, "bad_request", []string{"nickname"}),
		st.Case("patch malformed", "PATCH", one, `{"name"}`, nil, 400, "bad_request", nil),
		st.Case("patch stale version", "PATCH", one, `{"name":"G"}`, []string{"If-Match: 7"}, 412, "version_mismatch", nil),
		st.Case("patch bad if-match", "PATCH", one, `{"name":"G"}`, []string{"If-Match: soon"}, 400, "bad_request", []string{"If-Match"}),
		st.Case("delete stale version", "DELETE", one, ``, []string{`If-Match: "2"`}, 412, "version_mismatch", nil),
		st.Case("get unknown", "GET", missing, ``, nil, 404, "not_found", nil),
		st.Case("get non-uuid", "GET", base+"/v1/customers/42", ``, nil, 404, "not_found", nil),
		st.Case("patch unknown", "PATCH", missing, `{"name":"G"}`, nil, 404, "not_found", nil),
		st.Case("delete unknown", "DELETE", missing, ``, nil, 404, "not_found", nil),
		st.Case("list bad limit", "GET", base+"/v1/customers?limit=1001", ``, nil, 400, "bad_request", []string{"limit"}),
		st.Case("list zero limit", "GET", base+"/v1/customers?limit=0", ``, nil, 400, "bad_request", []string{"limit"}),
		st.Case("list bad cursor", "GET", base+"/v1/customers?after=abc", ``, nil, 400, "bad_request", []string{"after"}),
		st.Case("list unknown param", "GET", base+"/v1/customers?sort=name", ``, nil, 400, "bad_request", []string{"sort"}),
		st.Case("ids with after", "GET", base+"/v1/customers?ids="+c.ID+"&after="+c.ID, ``, nil, 400, "bad_request", []string{"ids"}),
		st.Case("ids malformed", "GET", base+"/v1/customers?ids="+c.ID+",x", ``, nil, 400, "bad_request", []string{"ids"}),
		st.Case("too many ids", "GET", base+"/v1/customers?ids="+manyIDs(1001), ``, nil, 400, "bad_request", []string{"ids"}),
		st.Case("method not allowed", "PUT", one, `{}`, nil, 405, "method_not_allowed", nil),
		st.Case("no route", "GET", base+"/v2/customers", ``, nil, 404, "not_found", nil),
	}
	before := st.Outbox(t, db)
	st.RunErrorCases(t, st.LoadContract(t, base), cases)

	if after := st.Outbox(t, db); len(after) != len(before) {
		t.Fatalf("failed requests emitted events: outbox went from %d to %d", len(before), len(after))
	}
	var now customers.Customer
	st.Do(t, "GET", one, "").Decode(t, &now)
	if now != c {
		t.Fatalf("failed requests changed the customer: got %+v, want %+v", now, c)
	}
	if n := st.Count(t, db, `SELECT count(*) FROM customers`); n != 1 {
		t.Fatalf("got %d customers, want 1", n)
	}
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("01932f4e-0000-7000-8000-%012d", i)
	}
	return strings.Join(ids, ",")
}

func TestAuth(t *testing.T) {
	base, db := start(t, "s3cret")
	body := `{"name":"a","email":"a@b.co","country":"DE"}`
	for _, h := range [][]string{nil, {"Authorization: Bearer wrong"}, {"Authorization: s3cret"}} {
		r := st.Do(t, "POST", base+"/v1/customers", body, h...)
		if r.Status != http.StatusUnauthorized || r.Error(t).Code != "unauthorized" || r.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("headers %v: got %d %s, want 401 unauthorized with WWW-Authenticate", h, r.Status, r.Body)
		}
	}
	r := st.Do(t, "POST", base+"/v1/customers", body, "Authorization: Bearer s3cret")
	if r.Status != http.StatusCreated {
		t.Fatalf("with token: got %d %s, want 201", r.Status, r.Body)
	}
	var c customers.Customer
	r.Decode(t, &c)
	// Reads need no token.
	if r := st.Do(t, "GET", base+"/v1/customers/"+c.ID, ""); r.Status != http.StatusOK {
		t.Fatalf("read without token: got %d, want 200", r.Status)
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		if r := st.Do(t, m, base+"/v1/customers/"+c.ID, `{"name":"b"}`); r.Status != http.StatusUnauthorized {
			t.Fatalf("%s without token: got %d, want 401", m, r.Status)
		}
	}
	if n := len(st.Outbox(t, db)); n != 1 {
		t.Fatalf("got %d events, want 1 (only the authorised create)", n)
	}
}

// Keyset pages cover every customer exactly once, also while others are being inserted
// and deleted concurrently; batch lookups skip unknown ids.
func TestListAndBatch(t *testing.T) {
	base, _ := start(t, "")
	ctx := context.Background()
	cl := customers.NewClient(base, "", nil)
	var ids []string
	for i := range 25 {
		c, err := cl.Create(ctx, customers.CreateInput{Name: fmt.Sprintf("C%02d", i), Email: fmt.Sprintf("c%d@example.com", i), Country: "FR"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // concurrent churn: new customers and deletions of new customers
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := cl.Create(ctx, customers.CreateInput{Name: "churn", Email: "churn@example.com", Country: "IT"})
			if err == nil {
				_ = cl.Delete(ctx, c.ID, 0)
			}
		}
	})
	seen := map[string]int{}
	pages := 0
	after := ""
	for {
		p, err := cl.List(ctx, after, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, c := range p.Items {
			seen[c.ID]++
			if i > 0 && p.Items[i-1].ID >= c.ID {
				t.Fatalf("page not ordered by id: %s then %s", p.Items[i-1].ID, c.ID)
			}
		}
		if p.Next == nil {
			break
		}
		if *p.Next != p.Items[len(p.Items)-1].ID {
			t.Fatalf("next %s is not the last id of the page", *p.Next)
		}
		after = *p.Next
	}
	close(stop)
	wg.Wait()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("customer %s seen %d times, want 1", id, seen[id])
		}
	}
	if pages < 3 {
		t.Fatalf("got %d pages of 10 for 25 customers, want >= 3", pages)
	}
	// Bounds are exclusive on both sides.
	p, err := cl.List(ctx, ids[2], ids[7], 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 4 || p.Items[0].ID != ids[3] || p.Items[3].ID != ids[6] || p.Next != nil {
		t.Fatalf("after %s before %s: got %d items, next %v; want ids[3..6], next null", ids[2], ids[7], len(p.Items), p.Next)
	}
	// The exact last page says next: null.
	p, err = cl.List(ctx, ids[19], ids[24], 4)
	if err != nil || len(p.Items) != 4 || p.Next != nil {
		t.Fatalf("exact last page: got %d items, next %v, err %v; want 4, null", len(p.Items), p.Next, err)
	}
	unknown := "01932f4e-0000-7000-8000-000000000001"
	got, err := cl.BatchGet(ctx, []string{ids[5], unknown, ids[1], ids[1]})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != ids[1] || got[1].ID != ids[5] {
		t.Fatalf("batch: got %d items, want ids[1], ids[5]", len(got))
	}
	// The client splits batches over the server's limit.
	many := append(strings.Split(manyIDs(1500), ","), ids[0])
	got, err = cl.BatchGet(ctx, many)
	if err != nil || len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("batch of 1501: got %d items, err %v; want 1", len(got), err)
	}
}

func TestClientErrors(t *testing.T) {
	base, _ := start(t, "tok")
	ctx := context.Background()
	anon := customers.NewClient(base, "", nil)
	if _, err := anon.Create(ctx, customers.CreateInput{Name: "a", Email: "a@b.co", Country: "DE"}); entityapi.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("create without token: got %v, want a 401 error", err)
	}
	cl := customers.NewClient(base, "tok", nil)
	c, err := cl.Create(ctx, customers.CreateInput{Name: "a", Email: "a@b.co", Country: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	name := "b"
	if _, err := cl.Update(ctx, c.ID, 5, customers.PatchInput{Name: &name}); entityapi.StatusOf(err) != http.StatusPreconditionFailed {
		t.Fatalf("stale update: got %v, want 412", err)
	}
	up, err := cl.Update(ctx, c.ID, 1, customers.PatchInput{Name: &name})
	if err != nil || up.Name != "b" || up.Version != 2 {
		t.Fatalf("update: got %+v, %v", up, err)
	}
	if err := cl.Delete(ctx, c.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Get(ctx, c.ID); !entityapi.IsNotFound(err) {
		t.Fatalf("get deleted: got %v, want not found", err)
	}
	down := customers.NewClient("http://127.0.0.1:1", "", nil)
	if _, err := down.Get(ctx, c.ID); !errors.Is(err, entityapi.ErrUnavailable) {
		t.Fatalf("unreachable: got %v, want ErrUnavailable", err)
	}
}

// Every successful answer matches the OpenAPI document (the error answers are checked in
// TestErrors).
func TestResponsesMatchOpenAPI(t *testing.T) {
	base, _ := start(t, "")
	contract := st.LoadContract(t, base)
	r := st.Do(t, "POST", base+"/v1/customers", `{"name":"Ada","email":"ada@example.com","country":"GB"}`)
	contract.Check(t, r)
	var c customers.Customer
	r.Decode(t, &c)
	for _, r := range []st.Response{
		st.Do(t, "GET", base+"/v1/customers/"+c.ID, ""),
		st.Do(t, "GET", base+"/v1/customers?limit=1", ""),
		st.Do(t, "GET", base+"/v1/customers?after="+c.ID, ""),
		st.Do(t, "GET", base+"/v1/customers?ids="+c.ID, ""),
		st.Do(t, "PATCH", base+"/v1/customers/"+c.ID, `{"country":"IE"}`, "If-Match: 1"),
		st.Do(t, "DELETE", base+"/v1/customers/"+c.ID, ""),
		st.Do(t, "GET", base+"/readyz", ""),
	} {
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", r.Method, r.URL, r.Status, r.Body)
		}
		contract.Check(t, r)
	}
}
