package contract

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/optype"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/refresh"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/result"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/versiontype"
)

const docMapping = `{"mappings": {"properties": {"title": {"type": "text"}, "n": {"type": "long"}, "tag": {"type": "keyword"}}}}`

func TestDocumentAPIs(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	idx := e.createIndex(t, "docs", docMapping)

	// index: created then updated, with the metadata Elasticsearch returns.
	r1, err := e.typed.Index(idx).Id("1").Raw(strings.NewReader(`{"title": "first", "n": 1}`)).Do(ctx)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	if r1.Result != result.Created || r1.Version_ != 1 || r1.Id_ != "1" || r1.Index_ != idx {
		t.Errorf("index: got %s v%d id %s index %s, want created v1 id 1 index %s", r1.Result, r1.Version_, r1.Id_, r1.Index_, idx)
	}
	if r1.SeqNo_ == nil || r1.PrimaryTerm_ == nil || *r1.PrimaryTerm_ < 1 {
		t.Errorf("index: _seq_no %v _primary_term %v, want both set", r1.SeqNo_, r1.PrimaryTerm_)
	}
	r2, err := e.typed.Index(idx).Id("1").Raw(strings.NewReader(`{"title": "second", "n": 2}`)).Do(ctx)
	if err != nil {
		t.Fatalf("re-index: %v", err)
	}
	if r2.Result != result.Updated || r2.Version_ != 2 || *r2.SeqNo_ <= *r1.SeqNo_ {
		t.Errorf("re-index: got %s v%d seq %d, want updated v2 and a higher _seq_no than %d", r2.Result, r2.Version_, *r2.SeqNo_, *r1.SeqNo_)
	}
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/1", `{"n": 3}`)
	if status != 200 || body["result"] != "updated" || path(body, "_shards.successful") == nil {
		t.Errorf("PUT existing: got %d %s, want 200 updated with _shards", status, show(body))
	}
	status, body = e.raw(t, http.MethodPut, "/"+idx+"/_doc/new", `{"n": 3}`)
	if status != 201 || body["result"] != "created" {
		t.Errorf("PUT new: got %d %s, want 201 created", status, show(body))
	}

	// POST without id generates one.
	auto, err := e.typed.Index(idx).Raw(strings.NewReader(`{"title": "auto"}`)).Do(ctx)
	if err != nil {
		t.Fatalf("index without id: %v", err)
	}
	if auto.Id_ == "" || auto.Result != result.Created {
		t.Errorf("index without id: got id %q result %s, want a generated id, created", auto.Id_, auto.Result)
	}

	// create: 409 when the document exists, through _create and op_type=create.
	_, err = e.typed.Create(idx, "1").Raw(strings.NewReader(`{"n": 9}`)).Do(ctx)
	ee := esErr(t, err, 409, "version_conflict_engine_exception")
	if ee != nil && ee.ErrorCause.Reason != nil && !strings.Contains(*ee.ErrorCause.Reason, "document already exists") {
		t.Errorf("create conflict reason: got %q, want 'document already exists'", *ee.ErrorCause.Reason)
	}
	_, err = e.typed.Index(idx).Id("1").OpType(optype.Create).Raw(strings.NewReader(`{"n": 9}`)).Do(ctx)
	esErr(t, err, 409, "version_conflict_engine_exception")
	status, body = e.raw(t, http.MethodPut, "/"+idx+"/_create/1", `{"n": 9}`)
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	if c, err := e.typed.Create(idx, "c1").Raw(strings.NewReader(`{"n": 9}`)).Do(ctx); err != nil || c.Result != result.Created {
		t.Errorf("create new: got %+v, %v; want created", c, err)
	}

	// get: real-time, with metadata; missing documents are found:false with 404.
	g, err := e.typed.Get(idx, "1").Do(ctx)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !g.Found || g.Version_ == nil || *g.Version_ != 3 || g.SeqNo_ == nil || g.PrimaryTerm_ == nil || string(g.Source_) == "" {
		t.Errorf("get: got %+v, want found v3 with _seq_no, _primary_term, _source", g)
	}
	status, body = e.raw(t, http.MethodGet, "/"+idx+"/_doc/missing", nil)
	if status != 404 || body["found"] != false || body["_id"] != "missing" || body["_index"] != idx {
		t.Errorf("get missing: got %d %s, want 404 found:false", status, show(body))
	}
	status, body = e.raw(t, http.MethodGet, "/"+idx+"/_doc/1?_source_includes=n", nil)
	if status != 200 || show(body["_source"]) != `{"n":3}` {
		t.Errorf("get _source_includes=n: got %d %s, want _source {\"n\":3}", status, show(body["_source"]))
	}
	status, body = e.raw(t, http.MethodGet, "/"+idx+"/_doc/1?_source=false", nil)
	if status != 200 || body["_source"] != nil || body["found"] != true {
		t.Errorf("get _source=false: got %d %s, want found without _source", status, show(body))
	}
	if ok, err := e.typed.Exists(idx, "1").IsSuccess(ctx); err != nil || !ok {
		t.Errorf("exists 1: got %v, %v; want true", ok, err)
	}
	if ok, err := e.typed.Exists(idx, "missing").IsSuccess(ctx); err != nil || ok {
		t.Errorf("exists missing: got %v, %v; want false", ok, err)
	}
	src := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_source/1", nil)
	if show(src) != `{"n":3}` {
		t.Errorf("_source: got %s, want {\"n\":3}", show(src))
	}
	if status, _ := e.raw(t, http.MethodGet, "/"+idx+"/_source/missing", nil); status != 404 {
		t.Errorf("_source missing: got %d, want 404", status)
	}

	// update: partial doc merge, noop, missing, upserts.
	u, err := e.typed.Update(idx, "1").Raw(strings.NewReader(`{"doc": {"tag": "x"}}`)).Do(ctx)
	if err != nil || u.Result != result.Updated || u.Version_ != 4 {
		t.Fatalf("update: got %+v, %v; want updated v4", u, err)
	}
	got := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/1", nil)
	if show(got["_source"]) != `{"n":3,"tag":"x"}` {
		t.Errorf("after partial update: got %s, want the merged document", show(got["_source"]))
	}
	u, err = e.typed.Update(idx, "1").Raw(strings.NewReader(`{"doc": {"tag": "x"}}`)).Do(ctx)
	if err != nil || u.Result != result.Noop || u.Version_ != 4 {
		t.Errorf("no-op update: got %+v, %v; want noop v4", u, err)
	}
	_, err = e.typed.Update(idx, "nope").Raw(strings.NewReader(`{"doc": {"tag": "x"}}`)).Do(ctx)
	esErr(t, err, 404, "document_missing_exception")
	u, err = e.typed.Update(idx, "up1").Raw(strings.NewReader(`{"doc": {"tag": "y"}, "doc_as_upsert": true}`)).Do(ctx)
	if err != nil || u.Result != result.Created {
		t.Errorf("doc_as_upsert: got %+v, %v; want created", u, err)
	}
	u, err = e.typed.Update(idx, "up2").Raw(strings.NewReader(`{"doc": {"tag": "y"}, "upsert": {"tag": "z", "n": 7}}`)).Do(ctx)
	if err != nil || u.Result != result.Created {
		t.Errorf("upsert: got %+v, %v; want created", u, err)
	}
	if got := e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_doc/up2", nil); show(got["_source"]) != `{"n":7,"tag":"z"}` {
		t.Errorf("upsert stored %s, want the upsert document", show(got["_source"]))
	}
	if os.Getenv("ES_URL") == "" {
		// The embedded engine has no scripting: a clear 400 that names it.
		status, body = e.raw(t, http.MethodPost, "/"+idx+"/_update/1", `{"script": {"source": "ctx._source.n += 1"}}`)
		if status != 400 || !strings.Contains(strings.ToLower(show(body)), "script") {
			t.Errorf("update with script: got %d %s, want 400 naming scripts", status, show(body))
		}
	}

	// mget, in request order, found or not.
	mg, err := e.typed.Mget().Index(idx).Ids("1", "missing", "up1").Do(ctx)
	if err != nil {
		t.Fatalf("mget: %v", err)
	}
	var found []bool
	for _, d := range mg.Docs {
		if r, ok := d.(*types.GetResult); ok {
			found = append(found, r.Found)
		}
	}
	if len(found) != 3 || !found[0] || found[1] || !found[2] {
		t.Errorf("mget found flags: got %v, want [true false true]", found)
	}
	m := e.mustRaw(t, 200, http.MethodPost, "/_mget", `{"docs": [{"_index": "`+idx+`", "_id": "1"}, {"_index": "`+idx+`", "_id": "new"}]}`)
	if path(m, "docs.0._id") != "1" || path(m, "docs.1._id") != "new" || path(m, "docs.1.found") != true {
		t.Errorf("/_mget docs: got %s", show(m))
	}

	// delete: version bump, then not_found with 404.
	d, err := e.typed.Delete(idx, "1").Refresh(refresh.True).Do(ctx)
	if err != nil || d.Result != result.Deleted || d.Version_ != 5 {
		t.Errorf("delete: got %+v, %v; want deleted v5", d, err)
	}
	status, body = e.raw(t, http.MethodDelete, "/"+idx+"/_doc/1", nil)
	if status != 404 || body["result"] != "not_found" {
		t.Errorf("delete again: got %d %s, want 404 result not_found", status, show(body))
	}
	if ok, _ := e.typed.Exists(idx, "1").IsSuccess(ctx); ok {
		t.Error("exists after delete: got true")
	}
	// Documents of a missing index.
	status, body = e.raw(t, http.MethodGet, "/"+uniqueName("none")+"/_doc/1", nil)
	checkErrorShape(t, status, body, 404, "index_not_found_exception")
}

func TestExternalVersions(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "ext", docMapping)
	put := func(id, query string) (int, map[string]any) {
		return e.raw(t, http.MethodPut, "/"+idx+"/_doc/"+id+"?"+query, `{"n": 1}`)
	}
	wantVersion := func(what string, status int, body map[string]any, wantStatus, wantVersion int) {
		t.Helper()
		if status != wantStatus || jsonInt(body["_version"]) != wantVersion {
			t.Errorf("%s: got %d _version %v (%s), want %d _version %d", what, status, body["_version"], show(body), wantStatus, wantVersion)
		}
	}
	status, body := put("1", "version=5&version_type=external")
	wantVersion("external 5 on a new doc", status, body, 201, 5)
	status, body = put("1", "version=5&version_type=external")
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	if r, _ := path(body, "error.reason").(string); !strings.Contains(r, "current version [5] is higher or equal to the one provided [5]") {
		t.Errorf("conflict reason: got %q", r)
	}
	if path(body, "error.index") != idx || path(body, "error.root_cause.0.type") != "version_conflict_engine_exception" {
		t.Errorf("conflict error: got %s, want error.index and root_cause", show(body))
	}
	status, body = put("1", "version=4&version_type=external")
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	status, body = put("1", "version=6&version_type=external")
	wantVersion("external 6", status, body, 200, 6)

	status, body = put("1", "version=6&version_type=external_gte")
	wantVersion("external_gte 6 (equal)", status, body, 200, 6)
	status, body = put("1", "version=5&version_type=external_gte")
	checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	if r, _ := path(body, "error.reason").(string); !strings.Contains(r, "current version [6] is higher than the one provided [5]") {
		t.Errorf("external_gte conflict reason: got %q", r)
	}
	status, body = put("1", "version=10&version_type=external_gte")
	wantVersion("external_gte 10", status, body, 200, 10)

	// The typed client, as the indexer uses it.
	ctx := ctxT(t)
	r, err := e.typed.Index(idx).Id("2").Version("3").VersionType(versiontype.External).Raw(strings.NewReader(`{"n": 2}`)).Do(ctx)
	if err != nil || r.Version_ != 3 {
		t.Errorf("typed external index: got %+v, %v; want _version 3", r, err)
	}
	_, err = e.typed.Index(idx).Id("2").Version("2").VersionType(versiontype.External).Raw(strings.NewReader(`{"n": 2}`)).Do(ctx)
	esErr(t, err, 409, "version_conflict_engine_exception")

	// Internal versioning can't be used for optimistic concurrency control in 8.x.
	status, body = put("1", "version=10")
	checkErrorShape(t, status, body, 400, "action_request_validation_exception")
	// A bad version_type is a 400 too.
	status, _ = put("1", "version=11&version_type=nonsense")
	if status != 400 {
		t.Errorf("version_type=nonsense: got %d, want 400", status)
	}
}

func TestIfSeqNo(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	idx := e.createIndex(t, "cas", docMapping)
	r, err := e.typed.Index(idx).Id("1").Raw(strings.NewReader(`{"n": 1}`)).Do(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq, term := *r.SeqNo_, *r.PrimaryTerm_
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }

	r2, err := e.typed.Index(idx).Id("1").IfSeqNo(itoa(seq)).IfPrimaryTerm(itoa(term)).Raw(strings.NewReader(`{"n": 2}`)).Do(ctx)
	if err != nil {
		t.Fatalf("index with the current if_seq_no: %v", err)
	}
	_, err = e.typed.Index(idx).Id("1").IfSeqNo(itoa(seq)).IfPrimaryTerm(itoa(term)).Raw(strings.NewReader(`{"n": 3}`)).Do(ctx)
	ee := esErr(t, err, 409, "version_conflict_engine_exception")
	if ee != nil && ee.ErrorCause.Reason != nil && !strings.Contains(*ee.ErrorCause.Reason, "required seqNo ["+itoa(seq)+"]") {
		t.Errorf("stale if_seq_no reason: got %q", *ee.ErrorCause.Reason)
	}
	_, err = e.typed.Update(idx, "1").IfSeqNo(itoa(seq)).IfPrimaryTerm(itoa(term)).Raw(strings.NewReader(`{"doc": {"n": 4}}`)).Do(ctx)
	esErr(t, err, 409, "version_conflict_engine_exception")
	_, err = e.typed.Delete(idx, "1").IfSeqNo(itoa(seq)).IfPrimaryTerm(itoa(term)).Do(ctx)
	esErr(t, err, 409, "version_conflict_engine_exception")
	_, err = e.typed.Index(idx).Id("absent").IfSeqNo("5").IfPrimaryTerm("1").Raw(strings.NewReader(`{"n": 3}`)).Do(ctx)
	esErr(t, err, 409, "version_conflict_engine_exception")
	d, err := e.typed.Delete(idx, "1").IfSeqNo(itoa(*r2.SeqNo_)).IfPrimaryTerm(itoa(*r2.PrimaryTerm_)).Do(ctx)
	if err != nil || d.Result != result.Deleted {
		t.Errorf("delete with the current if_seq_no: got %+v, %v", d, err)
	}
	// if_seq_no without if_primary_term is a validation error.
	status, body := e.raw(t, http.MethodPut, "/"+idx+"/_doc/1?if_seq_no=1", `{"n": 1}`)
	checkErrorShape(t, status, body, 400, "action_request_validation_exception")
}

func TestTombstones(t *testing.T) {
	e := newEnv(t)
	idx := e.createIndex(t, "tomb", `{"settings": {"index.gc_deletes": "60s"}, "mappings": {"properties": {"n": {"type": "long"}}}}`)
	put := func(id string, v string) (int, map[string]any) {
		return e.raw(t, http.MethodPut, "/"+idx+"/_doc/"+id+"?version_type=external&version="+v, `{"n": 1}`)
	}
	if got := path(e.mustRaw(t, 200, http.MethodGet, "/"+idx+"/_settings", nil), idx+".settings.index.gc_deletes"); got != "60s" {
		t.Errorf("index.gc_deletes: got %v, want 60s", got)
	}
	if status, body := put("1", "5"); status != 201 {
		t.Fatalf("index v5: got %d %s", status, show(body))
	}
	status, body := e.raw(t, http.MethodDelete, "/"+idx+"/_doc/1?version_type=external&version=6", nil)
	if status != 200 || body["result"] != "deleted" || jsonInt(body["_version"]) != 6 {
		t.Fatalf("external delete v6: got %d %s, want 200 deleted _version 6", status, show(body))
	}
	// A stale write that arrives after the delete must not resurrect the document.
	for _, v := range []string{"5", "6"} {
		status, body = put("1", v)
		checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	}
	if status, _ := e.raw(t, http.MethodGet, "/"+idx+"/_doc/1", nil); status != 404 {
		t.Errorf("after stale writes: GET got %d, want 404", status)
	}
	if status, body = put("1", "7"); status != 201 || jsonInt(body["_version"]) != 7 {
		t.Errorf("newer write after delete: got %d %s, want 201 _version 7", status, show(body))
	}

	// A delete of a document that never existed leaves a tombstone too.
	status, body = e.raw(t, http.MethodDelete, "/"+idx+"/_doc/ghost?version_type=external&version=10", nil)
	if status != 404 || body["result"] != "not_found" || jsonInt(body["_version"]) != 10 {
		t.Errorf("external delete of a missing doc: got %d %s, want 404 not_found _version 10", status, show(body))
	}
	for _, v := range []string{"9", "10"} {
		status, body = put("ghost", v)
		checkErrorShape(t, status, body, 409, "version_conflict_engine_exception")
	}
	if status, body = put("ghost", "11"); status != 201 {
		t.Errorf("write newer than the tombstone: got %d %s, want 201", status, show(body))
	}

	// Bulk follows the same rules.
	e.raw(t, http.MethodDelete, "/"+idx+"/_doc/1?version_type=external&version=8", nil)
	bulk := `{"index": {"_index": "` + idx + `", "_id": "1", "version": 8, "version_type": "external"}}
{"n": 2}
`
	status, resp := e.raw(t, http.MethodPost, "/_bulk", bulk)
	if status != 200 || resp["errors"] != true || jsonInt(path(resp, "items.0.index.status")) != 409 {
		t.Errorf("stale bulk write after delete: got %d %s, want an item with 409", status, show(resp))
	}
}
