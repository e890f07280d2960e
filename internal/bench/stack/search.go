package stack

import (
	"fmt"

	"github.com/ordertable/ordertable/internal/esindex"
	"github.com/ordertable/ordertable/services/search"
)

// StartSearch starts the search API (reading the engine directly, not through the fault proxy)
// and returns its base URL; it stops with the stack. Calling it again returns the same URL.
func (s *Stack) StartSearch() (string, error) {
	s.mu.Lock()
	if s.searchURL != "" {
		defer s.mu.Unlock()
		return s.searchURL, nil
	}
	s.mu.Unlock()
	svc, err := search.New(search.Config{ES: esindex.Config{URLs: []string{s.ESURL}}, Logger: s.log.With("component", "search")})
	if err != nil {
		return "", fmt.Errorf("stack: search: %w", err)
	}
	u, err := s.serveHTTP("search", svc.Handler())
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.searchURL = u
	s.mu.Unlock()
	return u, nil
}
