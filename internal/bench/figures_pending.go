package bench

import (
	"context"
	"errors"
)

func (r *run) abuseFigures(ctx context.Context) ([]Figure, error) {
	return nil, errors.New("search API not available yet")
}

func (r *run) reindexFigures(ctx context.Context) ([]Figure, error) {
	return nil, errors.New("reindex job not available yet")
}

func (r *run) memoryFigures(ctx context.Context) ([]Figure, error) {
	return nil, errors.New("components not available yet")
}
