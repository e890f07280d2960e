package orders_test

import (
	"context"
	"flag"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	st "github.com/ordertable/ordertable/internal/sourceservice/servicetest"
	"github.com/ordertable/ordertable/internal/testenv"
	"github.com/ordertable/ordertable/services/orders"
)

var update = flag.Bool("update", false, "rewrite openapi.json from the served document")

func TestOpenAPI(t *testing.T) {
	svc, err := orders.New(context.Background(), orders.Config{DatabaseURL: testenv.NewDatabase(t, "oapi"), CustomersURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	engine, ok := svc.Handler().(*gin.Engine)
	if !ok {
		t.Fatal("handler is not a gin engine")
	}
	st.CheckOpenAPI(t, srv.URL, engine.Routes(), "openapi.json", *update)
}
