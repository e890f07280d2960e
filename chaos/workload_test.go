package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ordertable/ordertable/internal/bench/stack"
	"github.com/ordertable/ordertable/internal/entityapi"
	"github.com/ordertable/ordertable/services/customers"
	"github.com/ordertable/ordertable/services/orders"
)

// workload drives continuous creates, updates, moves and deletes of orders and customers
// through the services' HTTP APIs. It keeps a small model of what exists only to pick
// sensible targets (the truth is always read back from the services); it never deletes a
// customer that has orders or an order being created for it, so every order keeps a customer.
type workload struct {
	st   *stack.Stack
	seed uint64

	mu        sync.Mutex
	customers []string          // live customers
	orderCust map[string]string // live order -> customer
	custUse   map[string]int    // customer -> live orders + in-flight creates/moves
	deleted   map[string]bool   // orders deleted through the API
	busy      map[string]bool   // orders with an operation in flight (one at a time per order)

	ops      [opKinds]atomic.Int64
	rejected atomic.Int64 // 404/409/412/422 answers of racing operations
	failures atomic.Int64 // anything else
	lastErr  atomic.Value
}

type opKind int

const (
	opCreateOrder opKind = iota
	opUpdateOrder
	opMoveOrder
	opDeleteOrder
	opCreateCustomer
	opRenameCustomer
	opDeleteCustomer
	opBurst
	opKinds
)

var opNames = [opKinds]string{"order create", "order update", "order move", "order delete", "customer create", "customer rename", "customer delete", "new customer with an order burst"}

// opWeights is the mix: mostly order traffic, renames for fan-out, few deletes.
var opWeights = [opKinds]int{30, 25, 10, 8, 5, 18, 4, 2}

func newWorkload(st *stack.Stack, seed uint64) *workload {
	return &workload{st: st, seed: seed, orderCust: map[string]string{}, custUse: map[string]int{}, deleted: map[string]bool{}, busy: map[string]bool{}}
}

// seed creates the starting customers and orders.
func (w *workload) seedData(ctx context.Context, nCustomers, nOrders int) error {
	rng := rand.New(rand.NewPCG(w.seed, 1))
	for range nCustomers {
		if err := w.createCustomer(ctx, rng); err != nil {
			return err
		}
	}
	for range nOrders {
		if err := w.createOrder(ctx, rng); err != nil {
			return err
		}
	}
	return nil
}

// run issues operations from workers goroutines, about perSec per second in total, until ctx
// ends.
func (w *workload) run(ctx context.Context, workers int, perSec float64) {
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(w.seed, uint64(100+i)))
			pause := time.Duration(float64(workers) / perSec * float64(time.Second))
			for ctx.Err() == nil {
				k := pick(rng)
				if err := w.do(ctx, rng, k); err != nil && ctx.Err() == nil {
					w.record(err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		})
	}
	wg.Wait()
}

func pick(rng *rand.Rand) opKind {
	total := 0
	for _, wt := range opWeights {
		total += wt
	}
	n := rng.IntN(total)
	for k, wt := range opWeights {
		if n < wt {
			return opKind(k)
		}
		n -= wt
	}
	return opCreateOrder
}

func (w *workload) record(err error) {
	switch entityapi.StatusOf(err) {
	case 404, 409, 412, 422:
		w.rejected.Add(1)
	default:
		w.failures.Add(1)
		w.lastErr.Store(err.Error())
	}
}

func (w *workload) do(ctx context.Context, rng *rand.Rand, k opKind) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch k {
	case opCreateOrder:
		return w.createOrder(ctx, rng)
	case opUpdateOrder:
		return w.updateOrder(ctx, rng)
	case opMoveOrder:
		return w.moveOrder(ctx, rng)
	case opDeleteOrder:
		return w.deleteOrder(ctx, rng)
	case opCreateCustomer:
		return w.createCustomer(ctx, rng)
	case opRenameCustomer:
		return w.renameCustomer(ctx, rng)
	case opDeleteCustomer:
		return w.deleteCustomer(ctx, rng)
	case opBurst:
		return w.burst(ctx, rng)
	}
	return nil
}

var countries = []string{"DE", "FR", "GB", "US", "NL", "SE", "IT", "ES", "PL", "JP"}

func (w *workload) createCustomer(ctx context.Context, rng *rand.Rand) error {
	n := rng.Uint32()
	c, err := w.st.Customers.Create(ctx, customers.CreateInput{
		Name:    fmt.Sprintf("Customer %08x", n),
		Email:   fmt.Sprintf("c%08x@example.com", n),
		Country: countries[rng.IntN(len(countries))],
	})
	if err != nil {
		return err
	}
	w.ops[opCreateCustomer].Add(1)
	w.mu.Lock()
	w.customers = append(w.customers, c.ID)
	w.mu.Unlock()
	return nil
}

// reserveCustomer picks a live customer and counts an in-flight use of it, so it is not
// deleted before the order referencing it is committed.
func (w *workload) reserveCustomer(rng *rand.Rand) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.customers) == 0 {
		return "", false
	}
	c := w.customers[rng.IntN(len(w.customers))]
	w.custUse[c]++
	return c, true
}

func (w *workload) release(c string) {
	w.mu.Lock()
	w.custUse[c]--
	w.mu.Unlock()
}

func (w *workload) createOrder(ctx context.Context, rng *rand.Rand) error {
	c, ok := w.reserveCustomer(rng)
	if !ok {
		return w.createCustomer(ctx, rng)
	}
	placed := time.Now().UTC().Add(-time.Duration(rng.IntN(1000)) * time.Hour).Truncate(time.Millisecond)
	o, err := w.st.Orders.Create(ctx, orders.CreateInput{
		CustomerID: c,
		Status:     orders.Statuses()[1+rng.IntN(4)],
		Total:      fmt.Sprintf("%d.%02d", rng.IntN(10_000), rng.IntN(100)),
		Currency:   []string{"EUR", "USD", "GBP"}[rng.IntN(3)],
		PlacedAt:   &placed,
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.custUse[c]--
		return err
	}
	w.ops[opCreateOrder].Add(1)
	w.orderCust[o.ID] = c // the reservation becomes the order's use
	return nil
}

// takeOrder picks a live order with no operation in flight and marks it busy until done is
// called, so the model's idea of its customer stays the services' (two racing moves of one
// order would otherwise leave the model guessing which committed last).
func (w *workload) takeOrder(rng *rand.Rand) (id string, done func(), ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.orderCust) == 0 {
		return "", nil, false
	}
	n := rng.IntN(len(w.orderCust))
	for cand := range w.orderCust {
		if n <= 0 && !w.busy[cand] {
			id = cand
			break
		}
		n--
	}
	if id == "" {
		return "", nil, false
	}
	w.busy[id] = true
	return id, func() {
		w.mu.Lock()
		delete(w.busy, id)
		w.mu.Unlock()
	}, true
}

func (w *workload) updateOrder(ctx context.Context, rng *rand.Rand) error {
	id, done, ok := w.takeOrder(rng)
	if !ok {
		return nil
	}
	defer done()
	status := orders.Statuses()[rng.IntN(5)]
	total := fmt.Sprintf("%d.%02d", rng.IntN(10_000), rng.IntN(100))
	if _, err := w.st.Orders.Update(ctx, id, 0, orders.PatchInput{Status: &status, Total: &total}); err != nil {
		return err
	}
	w.ops[opUpdateOrder].Add(1)
	return nil
}

func (w *workload) moveOrder(ctx context.Context, rng *rand.Rand) error {
	id, done, ok := w.takeOrder(rng)
	if !ok {
		return nil
	}
	defer done()
	to, ok := w.reserveCustomer(rng)
	if !ok {
		return nil
	}
	_, err := w.st.Orders.Update(ctx, id, 0, orders.PatchInput{CustomerID: &to})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.custUse[to]--
		return err
	}
	w.ops[opMoveOrder].Add(1)
	if from, live := w.orderCust[id]; live {
		w.custUse[from]--
		w.orderCust[id] = to
	} else {
		w.custUse[to]-- // deleted meanwhile; the move answered before the delete
	}
	return nil
}

func (w *workload) deleteOrder(ctx context.Context, rng *rand.Rand) error {
	id, done, ok := w.takeOrder(rng)
	if !ok {
		return nil
	}
	defer done()
	err := w.st.Orders.Delete(ctx, id, 0)
	if err != nil {
		return err
	}
	w.ops[opDeleteOrder].Add(1)
	w.mu.Lock()
	if c, live := w.orderCust[id]; live {
		w.custUse[c]--
		delete(w.orderCust, id)
	}
	w.deleted[id] = true
	w.mu.Unlock()
	return nil
}

func (w *workload) renameCustomer(ctx context.Context, rng *rand.Rand) error {
	c, ok := w.reserveCustomer(rng)
	if !ok {
		return nil
	}
	defer w.release(c)
	name := fmt.Sprintf("Renamed %08x", rng.Uint32())
	in := customers.PatchInput{Name: &name}
	if rng.IntN(3) == 0 {
		country := countries[rng.IntN(len(countries))]
		in.Country = &country
	}
	if _, err := w.st.Customers.Update(ctx, c, 0, in); err != nil {
		return err
	}
	w.ops[opRenameCustomer].Add(1)
	return nil
}

// deleteCustomer deletes a customer without orders (and none being created or moved to it).
func (w *workload) deleteCustomer(ctx context.Context, rng *rand.Rand) error {
	w.mu.Lock()
	var victim string
	for i := 0; i < 20 && len(w.customers) > 1; i++ {
		j := rng.IntN(len(w.customers))
		if c := w.customers[j]; w.custUse[c] == 0 {
			victim = c
			w.customers[j] = w.customers[len(w.customers)-1]
			w.customers = w.customers[:len(w.customers)-1]
			break
		}
	}
	w.mu.Unlock()
	if victim == "" {
		return nil
	}
	if err := w.st.Customers.Delete(ctx, victim, 0); err != nil {
		return err
	}
	w.ops[opDeleteCustomer].Add(1)
	return nil
}

// burst creates a customer and at once many orders for it, concurrently: their order events
// race the customer's first event through two topics, so some orders reach the indexer before
// their customer does.
func (w *workload) burst(ctx context.Context, rng *rand.Rand) error {
	n := rng.Uint32()
	c, err := w.st.Customers.Create(ctx, customers.CreateInput{
		Name:    fmt.Sprintf("Burst %08x", n),
		Email:   fmt.Sprintf("b%08x@example.com", n),
		Country: countries[rng.IntN(len(countries))],
	})
	if err != nil {
		return err
	}
	k := 10 + rng.IntN(20)
	w.mu.Lock()
	w.customers = append(w.customers, c.ID)
	w.custUse[c.ID] += k // reserved for the burst's creates
	w.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for i := range k {
		wg.Go(func() {
			placed := time.Now().UTC().Truncate(time.Millisecond)
			o, err := w.st.Orders.Create(ctx, orders.CreateInput{CustomerID: c.ID, Status: orders.StatusPlaced,
				Total: fmt.Sprintf("%d.%02d", i+1, i), Currency: "EUR", PlacedAt: &placed})
			w.mu.Lock()
			defer w.mu.Unlock()
			if err != nil {
				w.custUse[c.ID]--
				errs <- err
				return
			}
			w.ops[opCreateOrder].Add(1)
			w.orderCust[o.ID] = c.ID
		})
	}
	wg.Wait()
	close(errs)
	w.ops[opBurst].Add(1)
	return <-errs
}

// total is the number of successful operations.
func (w *workload) total() int64 {
	var n int64
	for i := range w.ops {
		n += w.ops[i].Load()
	}
	return n
}

func (w *workload) summary() string {
	s := ""
	for i := range w.ops {
		s += fmt.Sprintf("%s %d, ", opNames[i], w.ops[i].Load())
	}
	return s + fmt.Sprintf("rejected (races) %d, failed %d", w.rejected.Load(), w.failures.Load())
}

// wasDeleted reports whether the workload deleted order id.
func (w *workload) wasDeleted(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deleted[id]
}
