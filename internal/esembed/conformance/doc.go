// Package conformance runs Elasticsearch's own YAML REST tests (../shared/es-rest-tests,
// next to the repository) against the embedded engine, or against ES_URL when it is set.
//
// Everything lives in the package's tests: `go test ./internal/esembed/conformance` prints
// `conformance: N passed, N failed, N skipped`, and `-update` rewrites FAILURES.md, the list of
// failing tests grouped by cause that the engine's developers work from.
package conformance
