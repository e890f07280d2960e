package entityapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ordertable/ordertable/internal/apierror"
)

// Resource wires the REST routes of one entity collection. Each service supplies its
// operations; the routes, status codes, cursors, ETags and error mapping are shared so the two
// APIs cannot drift apart.
type Resource[T any] struct {
	// Kind names the entity in messages, e.g. "customer".
	Kind string
	// Path is the collection path under the API group, e.g. "/customers".
	Path string
	// ID and Version read an entity's id and version.
	ID      func(T) string
	Version func(T) int64
	// Get returns one entity or entity.ErrNotFound.
	Get func(ctx context.Context, id string) (T, error)
	// List returns up to limit entities with after < id < before (empty bounds are open),
	// ordered by id.
	List func(ctx context.Context, after, before string, limit int) ([]T, error)
	// BatchGet returns the entities among ids that exist, ordered by id.
	BatchGet func(ctx context.Context, ids []string) ([]T, error)
	// Create decodes the request body itself (strictly, with DecodeJSON) and creates.
	Create func(c *gin.Context) (T, error)
	// Update decodes a partial body and applies it when the version matches ifMatch (0: any).
	Update func(c *gin.Context, id string, ifMatch int64) (T, error)
	// Delete removes the entity when the version matches ifMatch (0: any).
	Delete func(ctx context.Context, id string, ifMatch int64) error
}

// Register adds the routes to r; write routes go through auth.
func (res Resource[T]) Register(r gin.IRouter, auth gin.HandlerFunc) {
	r.GET(res.Path, res.list)
	r.GET(res.Path+"/:id", res.get)
	r.POST(res.Path, auth, res.create)
	r.PATCH(res.Path+"/:id", auth, res.update)
	r.DELETE(res.Path+"/:id", auth, res.delete)
}

func (res Resource[T]) fail(c *gin.Context, err error) {
	apierror.Write(c, DomainError(res.Kind, err))
}

func (res Resource[T]) get(c *gin.Context) {
	id, err := ParseID(c, res.Kind)
	if err != nil {
		res.fail(c, err)
		return
	}
	v, err := res.Get(c, id)
	if err != nil {
		res.fail(c, err)
		return
	}
	SetVersion(c, res.Version(v))
	c.JSON(http.StatusOK, v)
}

func (res Resource[T]) list(c *gin.Context) {
	q, err := ParseListQuery(c)
	if err != nil {
		res.fail(c, err)
		return
	}
	if q.IDs != nil {
		items, err := res.BatchGet(c, q.IDs)
		if err != nil {
			res.fail(c, err)
			return
		}
		if items == nil {
			items = []T{}
		}
		c.JSON(http.StatusOK, BatchPage[T]{Items: items})
		return
	}
	// One extra row tells whether another page follows, so the last page says next: null.
	items, err := res.List(c, q.After, q.Before, q.Limit+1)
	if err != nil {
		res.fail(c, err)
		return
	}
	page := Page[T]{Items: items}
	if len(items) > q.Limit {
		page.Items = items[:q.Limit]
		next := res.ID(page.Items[q.Limit-1])
		page.Next = &next
	}
	if page.Items == nil {
		page.Items = []T{}
	}
	c.JSON(http.StatusOK, page)
}

func (res Resource[T]) create(c *gin.Context) {
	v, err := res.Create(c)
	if err != nil {
		res.fail(c, err)
		return
	}
	c.Header("Location", c.Request.URL.Path+"/"+res.ID(v))
	SetVersion(c, res.Version(v))
	c.JSON(http.StatusCreated, v)
}

func (res Resource[T]) update(c *gin.Context) {
	id, err := ParseID(c, res.Kind)
	if err != nil {
		res.fail(c, err)
		return
	}
	want, err := IfMatch(c)
	if err != nil {
		res.fail(c, err)
		return
	}
	v, err := res.Update(c, id, want)
	if err != nil {
		res.fail(c, err)
		return
	}
	SetVersion(c, res.Version(v))
	c.JSON(http.StatusOK, v)
}

func (res Resource[T]) delete(c *gin.Context) {
	id, err := ParseID(c, res.Kind)
	if err != nil {
		res.fail(c, err)
		return
	}
	want, err := IfMatch(c)
	if err != nil {
		res.fail(c, err)
		return
	}
	if err := res.Delete(c, id, want); err != nil {
		res.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
