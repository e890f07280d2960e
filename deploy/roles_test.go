package deploy

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// role is an Elasticsearch role descriptor as PUT /_security/role/<name> takes it.
type role struct {
	Description string   `json:"description"`
	Cluster     []string `json:"cluster"`
	Indices     []struct {
		Names                  []string `json:"names"`
		Privileges             []string `json:"privileges"`
		AllowRestrictedIndices bool     `json:"allow_restricted_indices"`
	} `json:"indices"`
	Metadata map[string]any `json:"metadata"`
}

func loadRoles(t testing.TB) map[string]role {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy/elasticsearch/roles/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no role files: %v", err)
	}
	roles := map[string]role{}
	for _, f := range files {
		rel, _ := filepath.Rel(repoRoot(t), f)
		var r role
		if err := json.Unmarshal(readFile(t, rel), &r); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		roles[strings.TrimSuffix(filepath.Base(f), ".json")] = r
	}
	return roles
}

// allows reports whether the role grants privilege on index (Elasticsearch wildcard names;
// "all" grants everything).
func (r role) allows(index, privilege string) bool {
	for _, ip := range r.Indices {
		if !slices.Contains(ip.Privileges, privilege) && !slices.Contains(ip.Privileges, "all") {
			continue
		}
		for _, name := range ip.Names {
			re := "^" + strings.ReplaceAll(regexp.QuoteMeta(name), `\*`, ".*") + "$"
			if regexp.MustCompile(re).MatchString(index) {
				return true
			}
		}
	}
	return false
}

// The indices of the contract (shared conventions) and a few the components must not touch.
var (
	liveIndices  = []string{"orders_v1", "orders_v2", "orders_v17"}
	aliases      = []string{"orders", "orders_targets"}
	stateIndices = []string{"ordertable-state-customers", "ordertable-state-orders"}
	jobsIndex    = "ordertable-jobs"
	foreign      = []string{".kibana", ".security-7", "customers", "logs-app-default", "ordertable-other"}
	writeLike    = []string{"write", "index", "create", "create_doc", "delete", "create_index", "delete_index", "manage", "all"}
)

func TestRolesAreLeastPrivilege(t *testing.T) {
	roles := loadRoles(t)
	for _, name := range []string{"ordertable_search", "ordertable_indexer", "ordertable_reindex"} {
		if _, ok := roles[name]; !ok {
			t.Fatalf("role %s missing", name)
		}
	}
	// The privilege names Elasticsearch 8 knows: a typo fails the setup service at start.
	clusterPrivileges := []string{"all", "cancel_task", "create_snapshot", "grant_api_key", "manage", "manage_api_key",
		"manage_ilm", "manage_index_templates", "manage_ingest_pipelines", "manage_own_api_key", "manage_pipeline",
		"manage_security", "monitor", "monitor_snapshot", "read_ilm", "read_pipeline", "read_security", "none"}
	indexPrivileges := []string{"all", "auto_configure", "create", "create_doc", "create_index", "delete", "delete_index",
		"index", "maintenance", "manage", "manage_data_stream_lifecycle", "manage_follow_index", "manage_ilm",
		"manage_leader_index", "monitor", "none", "read", "read_cross_cluster", "view_index_metadata", "write"}
	for name, r := range roles {
		for _, c := range r.Cluster {
			if !slices.Contains(clusterPrivileges, c) {
				t.Errorf("%s: unknown cluster privilege %q", name, c)
			}
		}
		for _, ip := range r.Indices {
			for _, p := range ip.Privileges {
				if !slices.Contains(indexPrivileges, p) {
					t.Errorf("%s: unknown index privilege %q on %v", name, p, ip.Names)
				}
			}
		}
	}
	for name, r := range roles {
		if r.Description == "" {
			t.Errorf("%s: no description", name)
		}
		for _, c := range r.Cluster {
			if c != "monitor" {
				t.Errorf("%s: cluster privilege %s; only monitor (read-only health and task status) is needed", name, c)
			}
		}
		for _, ip := range r.Indices {
			if ip.AllowRestrictedIndices {
				t.Errorf("%s: allow_restricted_indices", name)
			}
			for _, n := range ip.Names {
				if n == "*" || strings.HasPrefix(n, ".") {
					t.Errorf("%s: index pattern %q is too wide", name, n)
				}
			}
			if slices.Contains(ip.Privileges, "all") {
				t.Errorf("%s: privilege all on %v", name, ip.Names)
			}
		}
		for _, idx := range foreign {
			for _, p := range append([]string{"read"}, writeLike...) {
				if r.allows(idx, p) {
					t.Errorf("%s: %s on %s, which is not ordertable's", name, p, idx)
				}
			}
		}
	}

	type grant struct {
		index, privilege string
		want             bool
	}
	var cases = map[string][]grant{}
	add := func(roleName string, want bool, privilege string, indices ...string) {
		for _, i := range indices {
			cases[roleName] = append(cases[roleName], grant{i, privilege, want})
		}
	}
	// search: may only read orders*.
	add("ordertable_search", true, "read", aliases[0])
	for _, p := range writeLike {
		add("ordertable_search", false, p, append(append(slices.Clone(liveIndices), aliases...), stateIndices...)...)
		add("ordertable_search", false, p, jobsIndex)
	}
	add("ordertable_search", false, "read", append(slices.Clone(stateIndices), jobsIndex)...)
	// indexer: writes orders_*, its state; creates orders_v1 and the aliases on first start.
	add("ordertable_indexer", true, "write", liveIndices...)
	add("ordertable_indexer", true, "create_index", "orders_v1")
	add("ordertable_indexer", true, "manage", append(slices.Clone(aliases), "orders_v1")...)
	add("ordertable_indexer", true, "read", aliases...)
	add("ordertable_indexer", true, "write", stateIndices...)
	add("ordertable_indexer", true, "create_index", stateIndices...)
	add("ordertable_indexer", false, "delete_index", append(slices.Clone(liveIndices), stateIndices...)...)
	add("ordertable_indexer", false, "write", jobsIndex)
	// reindex: creates indices, moves aliases, keeps its job state, cleans up old versions.
	add("ordertable_reindex", true, "create_index", liveIndices...)
	add("ordertable_reindex", true, "manage", append(slices.Clone(liveIndices), aliases...)...)
	add("ordertable_reindex", true, "read", aliases...)
	add("ordertable_reindex", true, "write", liveIndices...)
	add("ordertable_reindex", true, "delete_index", "orders_v1")
	add("ordertable_reindex", true, "write", jobsIndex)
	add("ordertable_reindex", true, "create_index", jobsIndex)
	add("ordertable_reindex", false, "write", stateIndices...)
	add("ordertable_reindex", false, "delete_index", jobsIndex)
	if !slices.Contains(roles["ordertable_reindex"].Cluster, "monitor") {
		t.Error("ordertable_reindex: no monitor cluster privilege (task status of _reindex)")
	}
	for roleName, grants := range cases {
		for _, g := range grants {
			if got := roles[roleName].allows(g.index, g.privilege); got != g.want {
				t.Errorf("%s: %s on %s: got %v, want %v", roleName, g.privilege, g.index, got, g.want)
			}
		}
	}
}
