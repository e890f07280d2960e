// Package conformance runs Elasticsearch's own YAML REST tests (../shared/es-rest-tests,
// next to the repository) against the embedded engine, a fresh one per test file. With ES_URL
// set they run against that cluster only when CONFORMANCE_ON_ES_URL=1 declares it disposable:
// some tests change every index (_all, *); indices that existed before are never deleted.
//
// Everything lives in the package's tests: `go test ./internal/esembed/conformance` prints
// `conformance: N passed, N failed, N skipped`, and `-update` rewrites FAILURES.md, the list of
// failing tests grouped by cause that the engine's developers work from.
package conformance
