package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// market is a country with typical names and its currency.
type market struct {
	country, currency string
	weight            int
	first, last       []string
	companySuffix     []string
}

// markets are weighted roughly like a European-American B2B customer base.
var markets = []market{
	{"US", "USD", 24, []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "Maria", "Daniel"},
		[]string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson"}, []string{"Inc.", "LLC", "Corp."}},
	{"DE", "EUR", 14, []string{"Lukas", "Anna", "Jonas", "Lea", "Felix", "Hannah", "Maximilian", "Sophie", "Paul", "Marie", "Jürgen", "Ursula"},
		[]string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter"}, []string{"GmbH", "AG", "KG"}},
	{"GB", "GBP", 10, []string{"Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie", "Sophia"},
		[]string{"Taylor", "Davies", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Thompson", "White", "Hughes"}, []string{"Ltd", "PLC"}},
	{"FR", "EUR", 8, []string{"Gabriel", "Louise", "Raphaël", "Jade", "Léo", "Emma", "Louis", "Chloé", "Hugo", "Inès"},
		[]string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"}, []string{"SA", "SARL", "SAS"}},
	{"NL", "EUR", 5, []string{"Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Levi", "Tess"},
		[]string{"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit"}, []string{"B.V.", "N.V."}},
	{"ES", "EUR", 5, []string{"Hugo", "Lucía", "Martín", "Sofía", "Pablo", "Martina", "Álvaro", "Paula"},
		[]string{"García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez"}, []string{"S.A.", "S.L."}},
	{"IT", "EUR", 5, []string{"Leonardo", "Sofia", "Francesco", "Giulia", "Alessandro", "Aurora", "Lorenzo", "Ginevra"},
		[]string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"}, []string{"S.p.A.", "S.r.l."}},
	{"SE", "SEK", 3, []string{"William", "Alice", "Liam", "Maja", "Noah", "Elsa", "Hugo", "Astrid"},
		[]string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson"}, []string{"AB"}},
	{"PL", "PLN", 4, []string{"Jakub", "Zuzanna", "Antoni", "Julia", "Jan", "Zofia", "Szymon", "Hanna"},
		[]string{"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński"}, []string{"Sp. z o.o.", "S.A."}},
	{"CH", "CHF", 3, []string{"Noah", "Mia", "Luca", "Emma", "Leon", "Lina", "Elias", "Lea"},
		[]string{"Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer"}, []string{"AG", "GmbH", "SA"}},
	{"JP", "JPY", 5, []string{"Haruto", "Yui", "Sota", "Hina", "Yuto", "Mei", "Riku", "Sakura"},
		[]string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"}, []string{"K.K.", "G.K."}},
	{"BR", "BRL", 4, []string{"Miguel", "Helena", "Arthur", "Alice", "Gael", "Laura", "Heitor", "Manuela"},
		[]string{"Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira"}, []string{"Ltda.", "S.A."}},
	{"IN", "INR", 4, []string{"Aarav", "Ananya", "Vivaan", "Diya", "Aditya", "Saanvi", "Arjun", "Isha"},
		[]string{"Sharma", "Verma", "Gupta", "Patel", "Singh", "Kumar", "Reddy", "Iyer"}, []string{"Pvt. Ltd.", "Ltd."}},
	{"CA", "CAD", 3, []string{"Liam", "Olivia", "Noah", "Charlotte", "William", "Emma", "Benjamin", "Chloé"},
		[]string{"Tremblay", "Gagnon", "Roy", "Côté", "Smith", "Brown", "Wilson", "MacDonald"}, []string{"Inc.", "Ltd."}},
	{"AU", "AUD", 3, []string{"Oliver", "Charlotte", "Noah", "Amelia", "Jack", "Isla", "William", "Mia"},
		[]string{"Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Kelly"}, []string{"Pty Ltd"}},
}

var companyWords = []string{"Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme",
	"Vandelay", "Soylent", "Tyrell", "Hooli", "Pied Piper", "Wonka", "Cyberdyne", "Oceanic", "Blue Sun", "Monarch", "Gringotts"}
var companyTrades = []string{"Logistics", "Industries", "Trading", "Systems", "Foods", "Textiles", "Electronics", "Pharma",
	"Machinery", "Packaging", "Chemicals", "Retail", "Automotive", "Energy", "Furniture"}

// generator makes reproducible realistic records from a seed.
type generator struct {
	rng         *rand.Rand
	totalWeight int
	now         time.Time
}

func newGenerator(seed uint64, stream uint64, now time.Time) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(seed, stream)), now: now}
	for _, m := range markets {
		g.totalWeight += m.weight
	}
	return g
}

func (g *generator) market() market {
	n := g.rng.IntN(g.totalWeight)
	for _, m := range markets {
		if n < m.weight {
			return m
		}
		n -= m.weight
	}
	return markets[0]
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// customer returns a person (60%) or a company (40%) with a matching email.
func (g *generator) customer() customers.CreateInput {
	m := g.market()
	first, last := pick(g.rng, m.first), pick(g.rng, m.last)
	company := pick(g.rng, companyWords) + " " + pick(g.rng, companyTrades)
	domain := asciiSlug(company, "") + "." + strings.ToLower(m.country) + ".example"
	var name, local string
	if g.rng.IntN(10) < 6 {
		name = first + " " + last
		local = asciiSlug(first, "") + "." + asciiSlug(last, "")
	} else {
		name = company + " " + pick(g.rng, m.companySuffix)
		local = pick(g.rng, []string{"purchasing", "accounts", "orders", "procurement", "ap"})
	}
	if g.rng.IntN(3) == 0 {
		local += fmt.Sprint(g.rng.IntN(100))
	}
	return customers.CreateInput{Name: name, Email: local + "@" + domain, Country: m.country}
}

// order returns an order for customerID in the customer's market currency (sometimes USD or
// EUR), with a log-normal total and a status mix of a live business.
func (g *generator) order(customerID, country string) orders.CreateInput {
	currency := "USD"
	for _, m := range markets {
		if m.country == country {
			currency = m.currency
		}
	}
	if g.rng.IntN(10) == 0 {
		currency = pick(g.rng, []string{"USD", "EUR"})
	}
	minor, _ := orders.MinorUnits(currency)
	scale := 1.0
	switch currency { // totals in comparable purchasing power
	case "JPY":
		scale = 150
	case "INR":
		scale = 83
	case "SEK":
		scale = 10
	case "PLN", "BRL":
		scale = 4
	}
	amount := math.Exp(g.rng.NormFloat64()*1.2+6.2) * scale // median ~ 500 USD
	amount = math.Min(amount, 5e6*scale)
	total := fmt.Sprintf("%.*f", minor, amount)
	status := "shipped"
	switch n := g.rng.IntN(100); {
	case n < 10:
		status = "draft"
	case n < 30:
		status = "placed"
	case n < 60:
		status = "paid"
	case n < 95:
		status = "shipped"
	default:
		status = "cancelled"
	}
	in := orders.CreateInput{CustomerID: customerID, Status: status, Total: total, Currency: currency}
	if status != "draft" {
		t := g.now.Add(-time.Duration(g.rng.Int64N(int64(365 * 24 * time.Hour)))).UTC().Truncate(time.Second)
		in.PlacedAt = &t
	}
	return in
}

// asciiSlug lower-cases s and keeps ASCII letters and digits (folding common accents).
func asciiSlug(s, sep string) string {
	fold := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "é", "e", "è", "e", "ë", "e", "á", "a",
		"à", "a", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "ç", "c", "ô", "o", "ś", "s", "ź", "z", "ż", "z", "ł", "l",
		"ń", "n", "ą", "a", "ę", "e", "ć", "c", "å", "a", "ø", "o", "æ", "ae", "ã", "a", "ê", "e", "î", "i", "ï", "i")
	s = fold.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.':
			b.WriteString(sep)
		}
	}
	return b.String()
}
