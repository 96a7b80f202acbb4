package main

import (
	"context"
	"log/slog"
	"math"
	"strconv"

	"github.com/fusionrank/fusionrank/api"
	"github.com/fusionrank/fusionrank/features"
	"github.com/fusionrank/fusionrank/vision/photoset"
	"github.com/fusionrank/fusionrank/web"
)

// webRoutes wires the demo page, the widget script and their endpoints (package web)
// to the stores.
func (m *Main) webRoutes() []api.Route {
	return web.Routes(web.Options{
		Tokens:       m.Keys,
		Catalogue:    webCatalogue{m.Features.Catalog()},
		Customers:    webCustomers{m.Features},
		Logger:       m.Log,
		SamplePhotos: samplePhotos(m.Config.DemoPhotos, m.Log),
	})
}

// samplePhotos lists the shopper photos of the val split of a catalogue folder in the
// Grocery Store layout, a few of each product, for the demo's search by photo.
func samplePhotos(dir string, log *slog.Logger) []web.SamplePhoto {
	if dir == "" {
		return nil
	}
	set, err := photoset.Open(dir)
	if err == nil {
		var val []photoset.Photo
		if val, err = set.Split("val"); err == nil {
			per := map[int]int{}
			var out []web.SamplePhoto
			for _, p := range val {
				if per[p.Product]++; per[p.Product] <= 2 {
					out = append(out, web.SamplePhoto{Label: set.Products[p.Product].Name + " " + strconv.Itoa(per[p.Product]), Path: p.Path})
				}
			}
			return out
		}
	}
	log.Warn("FUSIONRANK_DEMO_PHOTOS: no sample photos", "err", err)
	return nil
}

// webCatalogue shows the serving catalogue to package web.
type webCatalogue struct{ c *features.Catalog }

func webItem(meta *features.ItemMeta) web.Item {
	it := web.Item{ID: meta.ID, Title: meta.Title, Category: meta.Category, ImageURL: meta.ImageURL}
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
type webCustomers struct{ fs *features.Store }

func (w webCustomers) TopCustomers(ctx context.Context, n int) ([]web.Customer, error) {
	users, err := w.fs.TopUsers(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]web.Customer, len(users))
	for i, u := range users {
		out[i] = web.Customer{ID: u.UserID, Events: int(u.Events)}
	}
	return out, nil
}
