package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/internal/testenv"
)

const grocery = "../../../shared/datasets/grocery-store"

// TestPhotoSearchInBrowser: the Grocery Store catalogue (81 products with their
// web-shop photos) is imported with `fusionrank import items --format grocery`; on the
// demo page, a shopper's val photo of a red bell pepper is picked and searched; the
// results show the products' photos and what carried the match, and the widget
// renders photos. The screenshots are saved under test-artifacts/.
//
// The first result is a pepper (coarse class) only with a trained encoder: the fixed
// descriptor puts Red-Delicious apples first for all five red bell pepper val photos.
// The test registers and activates testdata/grocery-features.safetensors, the features
// encoder `fusionrank train-images` trains on the Grocery Store training photos
// (reproduce it with `fusionrank train-images --data ../shared/datasets/grocery-store
// --out cmd/fusionrank/testdata/grocery-features.safetensors --epochs 20`, seed 1, about
// 3 CPU-minutes), or the file FUSIONRANK_TEST_IMAGE_ENCODER names, and asserts it.
func TestPhotoSearchInBrowser(t *testing.T) {
	if _, err := os.Stat(grocery + "/classes.csv"); err != nil {
		t.Skipf("the Grocery Store data set is not here: %v", err)
	}
	env := map[string]string{"FUSIONRANK_DEMO_PHOTOS": grocery}
	for k, v := range browserEnv {
		env[k] = v
	}
	m := startMainWith(t, testenv.DB(t, "cmdphotoweb"), env, testLog(t), nil)
	ctx := context.Background()
	var out, errb bytes.Buffer
	if err := runImport(ctx, []string{"items", "--format", "grocery", "--quiet", "--database-url", m.Config.DatabaseURL, grocery}, &out, &errb); err != nil {
		t.Fatalf("import: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "stored 81") {
		t.Fatalf("import: %s %s", out.String(), errb.String())
	}
	trained := firstNonEmpty(os.Getenv("FUSIONRANK_TEST_IMAGE_ENCODER"), "testdata/grocery-features.safetensors")
	{
		out.Reset()
		if err := runEncoders(ctx, []string{"register", "--activate", "--database-url", m.Config.DatabaseURL, trained}, &out, &errb); err != nil {
			t.Fatalf("encoders register: %v\n%s", err, errb.String())
		}
		version := strings.Fields(out.String())[1]
		eventually(t, 60*time.Second, "the trained encoder to serve", func() bool {
			_, v := m.Features.PhotoEncoder()
			return v == version
		})
	}
	eventually(t, 10*time.Second, "the catalogue's photos", func() bool {
		c := m.Features.Catalog()
		c.RLock()
		defer c.RUnlock()
		b := c.Block("photo")
		n := 0
		for s := range int32(c.Len()) {
			if b != nil && b.Vector(s) != nil {
				n++
			}
		}
		return n == 81
	})
	read, public := createKey(t, m, fusionrank.ScopeRead), createKey(t, m, fusionrank.ScopePublic)
	b := startBrowser(t)
	b.open(m.URL() + "/demo#public=" + public + "&read=" + read)
	b.waitJS("the sample photos", `return document.querySelector('#sample').dataset.state === 'ready'`)
	n := b.str(`var o = Array.from(document.querySelectorAll('#sample option')).find(o => o.textContent === 'Red-Bell-Pepper 1'); return o ? o.value : ''`)
	if n == "" {
		t.Fatal("no Red-Bell-Pepper sample photo offered")
	}
	b.eval(`var s = document.querySelector('#sample'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));`, nil, n)
	b.waitJS("the photo preview", `var p = document.querySelector('#photo-preview'); return !p.hidden && p.complete && p.naturalWidth > 0`)
	b.click("#photo-form button")
	b.waitJS("the results", `return document.querySelector('#photo-results').dataset.state === 'ready'`)
	items := strings.Split(b.str(`return document.querySelector('#photo-results').dataset.items`), ",")
	if len(items) != 8 {
		t.Fatalf("results: %v", items)
	}
	b.waitJS("the result photos", `return Array.from(document.querySelectorAll('#photo-results img.thumb')).filter(i => i.complete && i.naturalWidth > 0).length === 8`)
	if src := b.str(`return document.querySelector('#photo-results .card img').getAttribute('src')`); !strings.HasPrefix(src, "/images/") {
		t.Errorf("first result's photo: %q", src)
	}
	if txt := b.str(`return document.querySelector('#photo-results .card .tokens').textContent`); !strings.Contains(txt, "the photo") {
		t.Errorf("first result's explanation: %q", txt)
	}
	b.screenshot("photo-search.png")
	first, _ := m.Features.GetItem(ctx, items[0])
	t.Logf("red bell pepper val photo 1: first result %s (%s), encoder %s", first.ID, first.Category, b.str(`return document.querySelector('#photo-meta').textContent`))
	if first.Category != "Pepper" {
		t.Errorf("first result %s is a %s, want a Pepper", first.ID, first.Category)
	}

	// The widget shows the products' photos.
	b.eval(`var d = document.createElement('div'); d.id = 'photo-widget';
		d.setAttribute('data-fusionrank-user', 'shopper-1'); d.setAttribute('data-count', '6');
		d.setAttribute('data-key', arguments[0]); d.setAttribute('data-server', location.origin);
		document.querySelector('#photo-panel').appendChild(d); FusionRank.render(d);`, nil, public)
	b.waitJS("the widget", `return document.querySelector('#photo-widget').dataset.fusionrankState === 'shown'`)
	b.waitJS("the widget's photos", `return Array.from(document.querySelectorAll('#photo-widget img.frw-photo')).filter(i => i.complete && i.naturalWidth > 0).length === 6`)
	if tiles := b.str(`return String(document.querySelectorAll('#photo-widget div.frw-img').length)`); tiles != "0" {
		t.Errorf("letter tiles for items with photos: %s", tiles)
	}
	b.eval(`document.querySelector('#photo-widget').scrollIntoView()`, nil)
	b.screenshot("widget-photos.png")
}
