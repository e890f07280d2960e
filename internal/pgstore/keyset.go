package pgstore

import (
	"fmt"
	"strings"
)

// KeysetQuery appends id bounds (after < id < before; empty bounds are open), the id order
// and the limit to base, a SELECT without WHERE. Each bound combination gets its own
// statement text so the planner always sees a plain primary-key range scan, which stays
// stable under concurrent inserts and deletes.
func KeysetQuery(base, after, before string, limit int) (string, []any) {
	var conds []string
	var args []any
	if after != "" {
		args = append(args, after)
		conds = append(conds, fmt.Sprintf("id > $%d", len(args)))
	}
	if before != "" {
		args = append(args, before)
		conds = append(conds, fmt.Sprintf("id < $%d", len(args)))
	}
	if len(conds) > 0 {
		base += " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, limit)
	return fmt.Sprintf("%s ORDER BY id LIMIT $%d", base, len(args)), args
}
