// Package contract is the contract suite of the Elasticsearch port: the official Go client
// (typed client and esutil.BulkIndexer) against the embedded engine, or against a real
// Elasticsearch 8 when ES_URL is set. Everything lives in the package's tests; engine bugs
// they find are listed in ../conformance/FAILURES.md.
package contract
