package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ordertable/ordertable/indexer"
	"github.com/ordertable/ordertable/internal/events"
	"github.com/ordertable/ordertable/mappings"
)

var (
	benchStatuses   = []string{"draft", "placed", "paid", "shipped", "cancelled"}
	benchCurrencies = []string{"EUR", "USD", "GBP", "CHF", "CAD", "SEK"}
	benchCountries  = []string{"DE", "FR", "GB", "US", "NL", "SE", "IT", "ES", "PL", "JP", "CH", "AT"}
	firstNames      = []string{"Anna", "Bruno", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jonas", "Keiko", "Lena", "Mateo", "Nora", "Oskar", "Priya"}
	lastNames       = []string{"Schmidt", "Dubois", "Smith", "Rossi", "Nowak", "Johansson", "García", "Tanaka", "Müller", "Jansen", "Keller", "Novák"}
	companySuffixes = []string{"GmbH", "SARL", "Ltd", "S.p.A.", "AB", "BV", "Inc.", "KK"}
)

// docGen makes deterministic, realistic order documents from a seed.
type docGen struct {
	rng       *rand.Rand
	customers int
	base      time.Time
	idBase    int // added to document numbers, so several sets of documents don't collide
}

func newDocGen(seed uint64, customers int) *docGen {
	return &docGen{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		customers: max(customers, 1),
		base:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

func (g *docGen) customerName(c int) string {
	return fmt.Sprintf("%s %s %s", firstNames[c%len(firstNames)], lastNames[(c/len(firstNames))%len(lastNames)], companySuffixes[c%len(companySuffixes)])
}

// order returns the i-th order and its customer as the source services would hold them.
func (g *docGen) order(i int) (events.Order, *indexer.CustomerState) {
	c := g.rng.IntN(g.customers)
	placed := g.base.Add(time.Duration(g.rng.Int64N(int64(300 * 24 * time.Hour)))).Truncate(time.Millisecond)
	cust := events.Customer{
		ID:        fmt.Sprintf("0190a1b2-c3d4-7e5f-9c00-%012x", c),
		Name:      g.customerName(c),
		Email:     fmt.Sprintf("buyer%d@example.com", c),
		Country:   benchCountries[c%len(benchCountries)],
		CreatedAt: g.base,
		UpdatedAt: g.base,
		Version:   1,
	}
	o := events.Order{
		ID:          fmt.Sprintf("0190a1b2-c3d4-7e5f-8a6b-%012x", g.idBase+i),
		OrderNumber: fmt.Sprintf("PO-2026-%07d", g.idBase+i),
		CustomerID:  cust.ID,
		Status:      benchStatuses[g.rng.IntN(len(benchStatuses))],
		Total:       fmt.Sprintf("%d.%02d", g.rng.IntN(50_000), g.rng.IntN(100)),
		Currency:    benchCurrencies[g.rng.IntN(len(benchCurrencies))],
		PlacedAt:    &placed,
		CreatedAt:   placed,
		UpdatedAt:   placed.Add(time.Hour),
		Version:     1,
	}
	return o, &indexer.CustomerState{Customer: cust}
}

// docs returns n order documents for the mapping m exactly as the indexer builds them, encoded,
// with their ids and external versions.
func (g *docGen) docs(n int, m *mappings.Mapping) (ids []string, versions []int64, bodies [][]byte, err error) {
	ids, versions, bodies = make([]string, n), make([]int64, n), make([][]byte, n)
	for i := range n {
		o, c := g.order(i)
		d, err := indexer.BuildDocument(o, c, m.Fields, g.base)
		if err != nil {
			return nil, nil, nil, err
		}
		b, err := json.Marshal(d.Fields)
		if err != nil {
			return nil, nil, nil, err
		}
		ids[i], versions[i], bodies[i] = d.ID, d.Version, b
	}
	return ids, versions, bodies, nil
}
