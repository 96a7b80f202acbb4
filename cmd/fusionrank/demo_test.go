package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank"
)

// fixtureThemes name the fixture's categories.
var fixtureThemes = []string{"candles", "bags", "christmas", "kitchen", "garden", "party"}

// fixtureTitles is a small gift shop in the spirit of UCI Online Retail: six themes of
// six products.
var fixtureTitles = [][]string{
	{"white hanging heart candle holder", "red heart candle set", "glass star candle lantern", "vanilla scented candle", "pink heart tea light holder", "large candle jar"},
	{"jumbo red lunch bag", "retro spot lunch bag", "green shopping bag", "strawberry lunch box", "pink polkadot lunch bag", "charlotte tote bag"},
	{"christmas tree decoration", "christmas star ornament", "red christmas bauble set", "wooden christmas advent calendar", "christmas gift wrap", "silver christmas garland"},
	{"blue ceramic mug", "spotty breakfast mug", "teacup and saucer set", "vintage tea pot", "enamel coffee mug", "flowered tea cup"},
	{"children's garden tools", "watering can", "flower pot set", "herb garden markers", "garden kneeling pad", "bird house"},
	{"paper party napkins", "birthday party bunting", "party cake candles", "party hats set", "balloon pump", "paper cups pack"},
}

// loadFixtureShop puts the fixture catalogue and a few customers' histories into m and
// answers the customers' ids, the one with the most events first.
func loadFixtureShop(t *testing.T, m *Main, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var items []fusionrank.Item
	for th, titles := range fixtureTitles {
		for i, title := range titles {
			p := 1.25 + float64(th*6+i)*0.85
			items = append(items, fusionrank.Item{ID: fmt.Sprintf("%sitem-%d-%d", prefix, th, i), Title: title,
				Category: fixtureThemes[th], Price: &p, Active: true})
		}
	}
	if errs, err := m.Features.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range errs {
			if e != nil {
				t.Fatal(e)
			}
		}
	}
	if _, err := m.Features.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// Customer c has events on its favourite theme (c mod 6) and a little of the next one.
	now := time.Now().Add(-48 * time.Hour)
	var evs []fusionrank.Event
	var customers []string
	for c := 0; c < 8; c++ {
		user := fmt.Sprintf("%scustomer-%d", prefix, c)
		customers = append(customers, user)
		fav := c % 6
		n := 12 - c // the first customer has the most events
		for k := 0; k < n; k++ {
			th, i := fav, k%6
			if k%4 == 3 {
				th = (fav + 1) % 6
			}
			typ := fusionrank.Click
			if k%3 == 0 {
				typ = fusionrank.Purchase
			}
			evs = append(evs, fusionrank.Event{EventID: fmt.Sprintf("%sev-%d-%d", prefix, c, k), UserID: user,
				ItemID: fmt.Sprintf("%sitem-%d-%d", prefix, th, i), Type: typ, Timestamp: now.Add(time.Duration(c*100+k) * time.Minute)})
		}
	}
	res, err := m.Features.IngestEvents(ctx, evs)
	if err != nil || len(res.Rejected) > 0 {
		t.Fatalf("events: %v %+v", err, res.Rejected)
	}
	return customers
}

// browserEnv configures the servers of the browser tests. They check what the pages do,
// not latency, so a loaded machine gets a generous request deadline.
var browserEnv = map[string]string{"FUSIONRANK_TEXT_VECTORS": glove, "FUSIONRANK_REQUEST_TIMEOUT": "2s"}

// TestDemoPageInBrowser drives the demo page in headless Chromium: pick a customer, see
// ten explained recommendations and the customer's recent items, search and see the
// lexical results beside their rerank, buy a recommended item and see the list change.
func TestDemoPageInBrowser(t *testing.T) {
	m := startMain(t, browserEnv)
	customers := loadFixtureShop(t, m, "demo-")
	public, read, write := createKey(t, m, fusionrank.ScopePublic), createKey(t, m, fusionrank.ScopeRead), createKey(t, m, fusionrank.ScopeWrite)
	who := customers[0]
	userToken(t, m, who) // the page asks /demo/user-token, which signs with the secret this creates

	b := startBrowser(t)
	b.open(m.URL() + "/demo#public=" + public + "&read=" + read + "&write=" + write)
	b.waitJS("the customer list", `return document.querySelector('#customer').dataset.state === 'ready'`)
	if got := b.str(`return location.hash`); got != "" {
		t.Errorf("the keys stay in the address bar: %q", got)
	}
	b.click(fmt.Sprintf(`#customer option[value=%q]`, who))

	b.waitJS("ten recommendations", `return document.querySelector('#recs').dataset.state === 'ready' && document.querySelectorAll('#recs .card').length === 10`)
	if meta := b.str(`return document.querySelector('#recs-meta').textContent`); !strings.HasPrefix(meta, "personalised") {
		t.Errorf("the page's public-key recommendations are not personal (no user token?): %q", meta)
	}
	b.waitJS("the recent items", `return document.querySelectorAll('#recent li').length > 0`)
	before := b.str(`return document.querySelector('#recs').dataset.items`)
	if src := b.str(`return document.querySelector('#recs .card .badge').textContent`); src == "" || src == "unknown source" {
		t.Errorf("a recommendation without its source: %q", src)
	}
	if title := b.str(`return document.querySelector('#recs .card .title').textContent`); strings.HasPrefix(title, "demo-") {
		t.Errorf("a recommendation shows its id, not its title: %q", title)
	}
	if model := b.str(`return document.querySelector('#model').textContent`); !strings.Contains(model, "model:") || strings.Contains(model, "…") {
		t.Errorf("model version not shown: %q", model)
	}

	// Search: the lexical results and their rerank, side by side.
	b.typeInto("#q", "heart candle\ue007")
	b.waitJS("the search results and their rerank", `return document.querySelector('#reranked').dataset.state === 'ready' && document.querySelectorAll('#reranked li').length === document.querySelectorAll('#lexical li').length`)
	lexical := b.str(`return [...document.querySelectorAll('#lexical li')].map(li => li.textContent).join('|')`)
	if !strings.Contains(lexical, "heart candle") {
		t.Errorf("lexical results lack the heart candles: %s", lexical)
	}

	// Buy the first recommendation: the purchase is recorded and the list changes.
	bought := b.str(`return document.querySelector('#recs .card').dataset.item`)
	b.click("#recs .card button.buy")
	b.waitJS("the answer after the purchase", `return document.querySelector('#recs').dataset.events === '1' && document.querySelector('#recs').dataset.state === 'ready'`)
	after := b.str(`return document.querySelector('#recs').dataset.items`)
	if after == before {
		t.Errorf("the recommendations did not change after a purchase: %s", after)
	}
	if first := b.str(`return document.querySelector('#recent li').dataset.item`); first != bought {
		t.Errorf("the purchase is not the most recent item: got %q, want %q", first, bought)
	}
	if st := b.str(`return document.querySelector('#status').className`); st == "error" {
		t.Errorf("the page shows an error: %s", b.str(`return document.querySelector('#status').textContent`))
	}
	var n int
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE user_id = $1 AND item_id = $2 AND type = 'purchase' AND request_id IS NOT NULL`, who, bought).Scan(&n); err != nil || n != 1 {
		t.Errorf("purchase events with a request id in Postgres: %d (%v), want 1", n, err)
	}
	b.waitJS("the widget preview", `return document.querySelectorAll('#widget-slot .frw-card').length > 0`)
	if snippet := b.str(`return document.querySelector('#snippet').textContent`); !strings.Contains(snippet, `data-user-token="fru1.`) {
		t.Errorf("the widget snippet lacks the user token: %s", snippet)
	}
	// A click with the public key, from the page's card: stored for the customer.
	b.click("#recs .card button.click")
	b.waitJS("the answer after the click", `return document.querySelector('#recs').dataset.events === '2' && document.querySelector('#recs').dataset.state === 'ready'`)
	if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE user_id = $1 AND type = 'click' AND event_id LIKE 'public/demo-%'`, who).Scan(&n); err != nil || n != 1 {
		t.Errorf("the page's public click in Postgres: %d (%v), want 1", n, err)
	}
	b.screenshot("demo.png")
}

// hostPage serves a plain page of another origin with the widget snippet on it; it
// records every error and unhandled rejection in window.errors.
func hostPage(t *testing.T, scriptURL, attrs string) *httptest.Server {
	t.Helper()
	page := `<!doctype html><html><head><meta charset="utf-8"><title>a shop</title>
<script>window.errors = []; addEventListener('error', e => errors.push(String(e.message)));
addEventListener('unhandledrejection', e => errors.push('unhandled: ' + e.reason));</script></head>
<body><h1>Welcome to the shop</h1>
<div id="reco" ` + attrs + `></div>
<p id="after">The rest of the page.</p>
<script src="` + scriptURL + `" async></script></body></html>`
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestWidgetOnHostPage puts the widget snippet on a page of another origin: it renders a
// row of recommendations, sends a view event and a click event carrying the answer's
// request_id; when the service is unreachable it renders nothing and throws nothing.
func TestWidgetOnHostPage(t *testing.T) {
	m := startMain(t, browserEnv)
	customers := loadFixtureShop(t, m, "widget-")
	public := createKey(t, m, fusionrank.ScopePublic)
	token := userToken(t, m, customers[1])
	b := startBrowser(t)

	t.Run("renders", func(t *testing.T) {
		b.t = t
		host := hostPage(t, m.URL()+"/widget.js", fmt.Sprintf(`data-fusionrank-user=%q data-user-token=%q data-count="6" data-key=%q data-title="Picked for you"`, customers[1], token, public))
		b.open(host.URL)
		b.waitJS("the widget row", `return document.querySelector('#reco').dataset.fusionrankState === 'shown'`)
		if n := b.str(`return document.querySelectorAll('#reco .frw-card').length`); n != "6" {
			t.Errorf("cards: %s, want 6", n)
		}
		rid := b.str(`return document.querySelector('#reco').dataset.requestId`)
		countEvents := func(typ string) int {
			var n int
			if err := m.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE user_id = $1 AND request_id = $2 AND type = $3`, customers[1], rid, typ).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		eventually(t, 10*time.Second, "the view events", func() bool { return countEvents("view") == 6 })
		b.click("#reco .frw-card")
		eventually(t, 10*time.Second, "the click event", func() bool { return countEvents("click") == 1 })
		if errs := b.str(`return errors.join('; ')`); errs != "" {
			t.Errorf("errors on the host page: %s", errs)
		}
		b.screenshot("widget.png")
	})

	t.Run("service down", func(t *testing.T) {
		b.t = t
		// The script itself comes from a CDN that still answers; the API does not.
		script := do(t, "GET", m.URL()+"/widget.js", "", nil).body
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + l.Addr().String()
		l.Close()
		cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(script)
		}))
		t.Cleanup(cdn.Close)
		host := hostPage(t, cdn.URL+"/widget.js", fmt.Sprintf(`data-fusionrank-user=%q data-key=%q data-server=%q`, customers[1], public, down))
		b.open(host.URL)
		b.waitJS("the widget to give up", `return document.querySelector('#reco').dataset.fusionrankState === 'off'`)
		if html := b.str(`return document.querySelector('#reco').innerHTML`); html != "" {
			t.Errorf("the widget rendered something while the service is down: %q", html)
		}
		if errs := b.str(`return errors.join('; ')`); errs != "" {
			t.Errorf("errors thrown into the host page: %s", errs)
		}
		if got := b.str(`return document.querySelector('#after').textContent`); got != "The rest of the page." {
			t.Errorf("the host page changed: %q", got)
		}
	})
}

// TestDemoEndpoints checks the routes outside /v1 that the page and the widget use: their
// keys and scopes, their answers, CORS for the widget's calls and their OpenAPI entries.
func TestDemoEndpoints(t *testing.T) {
	m := startMain(t, nil)
	customers := loadFixtureShop(t, m, "endpoints-")
	base := m.URL()
	public, read := createKey(t, m, fusionrank.ScopePublic), createKey(t, m, fusionrank.ScopeRead)

	for _, c := range []struct {
		path, key string
		status    int
		want      string
	}{
		{"/demo", "", 200, "<title>fusionrank demo shop</title>"},
		{"/demo/assets/demo.js", "", 200, "/v1/recommendations"},
		{"/demo/assets/demo.css", "", 200, ".card"},
		{"/demo/assets/nope.js", "", 404, "not_found"},
		{"/widget.js", "", 200, "data-fusionrank-user"},
		{"/widget/items?ids=endpoints-item-0-0,endpoints-nope", "", 401, "unauthorized"},
		{"/widget/items?ids=endpoints-item-0-0,endpoints-nope", "frk_unknown", 401, "unauthorized"},
		{"/widget/items?ids=endpoints-item-0-0,endpoints-nope", public, 200, `"title":"white hanging heart candle holder"`},
		{"/demo/customers?count=3", public, 403, "forbidden"},
		{"/demo/customers?count=0", read, 400, "invalid"},
		{"/demo/customers?count=200", read, 200, `"id":"` + customers[0] + `","events":12`},
		{"/demo/search?q=lunch+bag&count=3", public, 403, "forbidden"},
		{"/demo/search?q=lunch+bag&count=3", read, 200, `"title":"jumbo red lunch bag"`},
	} {
		r := do(t, "GET", base+c.path, c.key, nil)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Errorf("GET %s: %d %.300s; want %d and %q", c.path, r.status, r.body, c.status, c.want)
		}
	}
	if ct := do(t, "GET", base+"/widget.js", "", nil).header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("widget.js Content-Type %q", ct)
	}

	// A preflight from another origin, as the widget's browser sends it.
	req, _ := http.NewRequest("OPTIONS", base+"/v1/recommendations", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	doc := string(do(t, "GET", base+"/openapi.json", "", nil).body)
	for _, p := range []string{`"/demo"`, `"/widget.js"`, `"/widget/items"`, `"/demo/customers"`, `"/demo/search"`} {
		if !strings.Contains(doc, p) {
			t.Errorf("/openapi.json lacks %s", p)
		}
	}
}
