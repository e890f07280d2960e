package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// orderDoc is an order document as the indexer writes it into orders_v1 (CustomerCountry is
// only sent to indices whose mapping declares it).
type orderDoc struct {
	OrderID         string  `json:"order_id"`
	OrderNumber     string  `json:"order_number"`
	Status          string  `json:"status"`
	Total           float64 `json:"total"`
	Currency        string  `json:"currency"`
	PlacedAt        string  `json:"placed_at,omitempty"`
	UpdatedAt       string  `json:"updated_at"`
	CustomerID      string  `json:"customer_id"`
	CustomerName    string  `json:"customer_name"`
	CustomerDeleted bool    `json:"customer_deleted"`
	OrderVersion    int64   `json:"order_version"`
	CustomerVersion int64   `json:"customer_version"`
	IndexedAt       string  `json:"indexed_at"`
	CustomerCountry string  `json:"customer_country,omitempty"`
}

var (
	benchStatuses   = []string{"draft", "placed", "paid", "shipped", "cancelled"}
	benchCurrencies = []string{"EUR", "USD", "GBP", "CHF", "JPY", "SEK"}
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

// doc returns the i-th order document; withCountry adds the v2 column.
func (g *docGen) doc(i int, withCountry bool) orderDoc {
	c := g.rng.IntN(g.customers)
	placed := g.base.Add(time.Duration(g.rng.Int64N(int64(300 * 24 * time.Hour)))).Truncate(time.Millisecond)
	d := orderDoc{
		OrderID:         fmt.Sprintf("0190a1b2-c3d4-7e5f-8a6b-%012x", i),
		OrderNumber:     fmt.Sprintf("PO-2026-%07d", i),
		Status:          benchStatuses[g.rng.IntN(len(benchStatuses))],
		Total:           float64(g.rng.IntN(5_000_000)) / 100,
		Currency:        benchCurrencies[g.rng.IntN(len(benchCurrencies))],
		PlacedAt:        placed.Format(time.RFC3339Nano),
		UpdatedAt:       placed.Add(time.Hour).Format(time.RFC3339Nano),
		CustomerID:      fmt.Sprintf("0190a1b2-c3d4-7e5f-9c00-%012x", c),
		CustomerName:    g.customerName(c),
		OrderVersion:    1,
		CustomerVersion: 1,
		IndexedAt:       g.base.Format(time.RFC3339Nano),
	}
	if withCountry {
		d.CustomerCountry = benchCountries[c%len(benchCountries)]
	}
	return d
}

// docs returns n encoded documents with their ids.
func (g *docGen) docs(n int, withCountry bool) (ids []string, bodies [][]byte) {
	ids = make([]string, n)
	bodies = make([][]byte, n)
	for i := range n {
		d := g.doc(i, withCountry)
		b, _ := json.Marshal(d)
		ids[i], bodies[i] = d.OrderID, b
	}
	return ids, bodies
}
