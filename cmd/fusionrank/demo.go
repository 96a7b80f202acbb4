package main

import (
	"context"
	"math"

	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/postgres"
	"github.com/fusionrank/fusionrank/web"
)

// webRoutes wires the demo page, the widget script and their endpoints (package web)
// to the stores.
func (m *Main) webRoutes() []api.Route {
	return web.Routes(web.Options{
		Tokens:    m.Keys,
		Catalogue: webCatalogue{m.Features.Catalog()},
		Customers: webCustomers{m.DB},
		Logger:    m.Log,
	})
}

// webCatalogue shows the serving catalogue to package web.
type webCatalogue struct{ c *features.Catalog }

func webItem(meta *features.ItemMeta) web.Item {
	it := web.Item{ID: meta.ID, Title: meta.Title, Category: meta.Category}
	if !math.IsNaN(meta.Price) {
		p := meta.Price
		it.Price = &p
	}
	return it
}

func (w webCatalogue) Lookup(id string) (web.Item, bool) {
	w.c.RLock()
	defer w.c.RUnlock()
	slot, ok := w.c.Slot(id)
	if !ok || !w.c.Meta(slot).Active {
		return web.Item{}, false
	}
	return webItem(w.c.Meta(slot)), true
}

func (w webCatalogue) Each(visit func(web.Item) bool) {
	w.c.RLock()
	defer w.c.RUnlock()
	for slot := int32(0); int(slot) < w.c.Len(); slot++ {
		if meta := w.c.Meta(slot); meta.Active && !visit(webItem(meta)) {
			return
		}
	}
}

// webCustomers lists the shoppers with the most events, for the demo's picker.
type webCustomers struct{ db *postgres.DB }

func (w webCustomers) TopCustomers(ctx context.Context, n int) ([]web.Customer, error) {
	rows, err := w.db.Pool.Query(ctx, `SELECT user_id, count(*) FROM events GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT $1`, n)
	if err != nil {
		return nil, postgres.Translate(err)
	}
	defer rows.Close()
	var out []web.Customer
	for rows.Next() {
		var c web.Customer
		if err := rows.Scan(&c.ID, &c.Events); err != nil {
			return nil, postgres.Translate(err)
		}
		out = append(out, c)
	}
	return out, postgres.Translate(rows.Err())
}
