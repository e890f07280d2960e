package esembed

import (
	"strings"

	"github.com/blevesearch/bleve/v2/search/query"
)

// sqsClause is one operand of a simple_query_string.
type sqsClause struct {
	text   string
	phrase bool
	prefix bool
	not    bool
	must   bool
}

// parseSimpleQueryString tokenizes the simple_query_string syntax: terms, "phrases",
// +required, -negated, trailing * prefixes, | as OR. Parentheses group nothing here: they are
// dropped, which is exact for queries that use a single operator.
func parseSimpleQueryString(s string) []sqsClause {
	var out []sqsClause
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '(' || s[i] == ')' || s[i] == '|') {
			i++
		}
		if i >= len(s) {
			break
		}
		var c sqsClause
		for i < len(s) && (s[i] == '+' || s[i] == '-') {
			if s[i] == '-' {
				c.not = true
			} else {
				c.must = true
			}
			i++
		}
		if i < len(s) && s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				c.text = s[i+1:]
				i = len(s)
			} else {
				c.text = s[i+1 : i+1+j]
				i += j + 2
			}
			c.phrase = true
		} else {
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '(' && s[j] != ')' && s[j] != '|' {
				j++
			}
			c.text = s[i:j]
			i = j
			if strings.HasSuffix(c.text, "*") {
				c.prefix = true
				c.text = strings.TrimSuffix(c.text, "*")
			}
		}
		if c.text != "" {
			out = append(out, c)
		}
	}
	return out
}

func (c *compiler) simpleQueryString(n *qnode) (query.Query, *esError) {
	clauses := parseSimpleQueryString(n.text)
	fields := c.searchableFields(n.fields)
	if len(clauses) == 0 || len(fields) == 0 {
		return matchNone(), nil
	}
	var must, should, mustNot []query.Query
	for _, cl := range clauses {
		var per []query.Query
		for _, fb := range fields {
			f := c.m.flat[fb.name]
			if f == nil {
				continue
			}
			var q query.Query
			var err *esError
			switch {
			case cl.prefix && (f.Type == typeText || f.Type == typeKeyword):
				text := cl.text
				if f.Type == typeText {
					text = strings.ToLower(text)
				}
				pq := query.NewPrefixQuery(text)
				pq.SetField(fb.name)
				q = pq
			case cl.phrase:
				q, err = c.phraseQuery(fb.name, cl.text, fb.boost)
			default:
				q, err = c.matchQuery(fb.name, cl.text, "and", "", fb.boost, map[string]any{"lenient": true})
			}
			if err != nil {
				continue // simple_query_string is lenient: it never fails on a field
			}
			per = append(per, q)
		}
		var q query.Query = matchNone()
		if len(per) == 1 {
			q = per[0]
		} else if len(per) > 1 {
			q = query.NewDisjunctionQuery(per)
		}
		switch {
		case cl.not && (n.operator == "and" || cl.must):
			mustNot = append(mustNot, q)
		case cl.not:
			// With OR, "-x" means "anything that is not x", one optional clause among others.
			nb := query.NewBooleanQuery(nil, nil, nil)
			nb.AddMust(query.NewMatchAllQuery())
			nb.AddMustNot(q)
			should = append(should, nb)
		case cl.must || n.operator == "and":
			must = append(must, q)
		default:
			should = append(should, q)
		}
	}
	bq := query.NewBooleanQuery(nil, nil, nil)
	if len(must) > 0 {
		bq.AddMust(must...)
	}
	if len(should) > 0 {
		bq.AddShould(should...)
		if len(must) == 0 {
			bq.SetMinShould(1)
		}
	}
	if len(mustNot) > 0 {
		bq.AddMustNot(mustNot...)
		if len(must) == 0 && len(should) == 0 {
			bq.AddMust(query.NewMatchAllQuery())
		}
	}
	return withBoost(bq, n.boost), nil
}

// parseURIQuery turns the ?q= parameter (Lucene query syntax) into the query DSL for the
// subset people type by hand: field:value, field:"a phrase", bare terms, +required,
// -excluded, AND/OR/NOT between terms, and * for everything. Anything else (ranges, groups,
// fuzzy, boosts) is rejected with a 400 rather than answered wrongly.
func parseURIQuery(q, df, defaultOp string, lenient bool) (*qnode, *esError) {
	q = strings.TrimSpace(q)
	if q == "*" || q == "*:*" {
		return &qnode{kind: "match_all", boost: 1}, nil
	}
	if strings.ContainsAny(q, "()[]{}~^\\") {
		return nil, errUnsupported("query string syntax beyond field:value, phrases, +/-, AND/OR/NOT in [q]")
	}
	op := strings.ToLower(defaultOp)
	if op == "" {
		op = "or"
	}
	type term struct {
		n        *qnode
		must     bool
		not      bool
		joinedOr bool
	}
	var terms []term
	toks := tokenizeURIQuery(q)
	nextMust, nextNot, nextOr, sawAnd := false, false, false, false
	for _, tok := range toks {
		switch tok {
		case "AND", "&&":
			sawAnd = true
			if len(terms) > 0 {
				terms[len(terms)-1].must = !terms[len(terms)-1].not
			}
			nextMust = true
			continue
		case "OR", "||":
			nextOr = true
			continue
		case "NOT", "!":
			nextNot = true
			continue
		}
		t := term{must: nextMust, not: nextNot, joinedOr: nextOr}
		nextMust, nextNot, nextOr = false, false, false
		for len(tok) > 0 && (tok[0] == '+' || tok[0] == '-') {
			if tok[0] == '+' {
				t.must = true
			} else {
				t.not = true
			}
			tok = tok[1:]
		}
		field, value := df, tok
		if i := strings.IndexByte(tok, ':'); i > 0 {
			field, value = tok[:i], tok[i+1:]
		}
		phrase := strings.HasPrefix(value, "\"") && strings.HasSuffix(value, "\"") && len(value) >= 2
		if phrase {
			value = value[1 : len(value)-1]
		}
		var n *qnode
		switch {
		case field == "" || field == "*":
			n = &qnode{kind: "simple_query_string", text: value, value: value, boost: 1, operator: "and"}
			if phrase {
				n.text = "\"" + value + "\""
			}
		case value == "*":
			n = &qnode{kind: "exists", field: field, boost: 1}
		case strings.HasSuffix(value, "*") && !phrase:
			// query_string normalizes wildcard terms on text fields (lower-casing).
			n = &qnode{kind: "prefix", field: field, value: strings.TrimSuffix(value, "*"), boost: 1, params: map[string]any{"normalize_text": true}}
		case phrase:
			n = &qnode{kind: "match_phrase", field: field, value: value, boost: 1}
		default:
			n = &qnode{kind: "match", field: field, value: value, boost: 1, params: map[string]any{"lenient": lenient}}
		}
		t.n = n
		terms = append(terms, t)
	}
	_ = sawAnd
	b := &qnode{kind: "bool", boost: 1}
	for _, t := range terms {
		switch {
		case t.not:
			b.mustNot = append(b.mustNot, t.n)
		case t.must || (op == "and" && !t.joinedOr):
			b.must = append(b.must, t.n)
		default:
			b.should = append(b.should, t.n)
		}
	}
	if len(b.must) == 0 && len(b.should) == 0 && len(b.mustNot) > 0 {
		b.must = append(b.must, &qnode{kind: "match_all", boost: 1})
	}
	return b, nil
}

func tokenizeURIQuery(q string) []string {
	var toks []string
	i := 0
	for i < len(q) {
		for i < len(q) && q[i] == ' ' {
			i++
		}
		if i >= len(q) {
			break
		}
		j := i
		inQuote := false
		for j < len(q) && (inQuote || q[j] != ' ') {
			if q[j] == '"' {
				inQuote = !inQuote
			}
			j++
		}
		toks = append(toks, q[i:j])
		i = j
	}
	return toks
}
