package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
	"github.com/fusionrank/fusionrank/api"
)

//go:embed static
var static embed.FS

// Item is what the pages show of a catalogue item.
type Item struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Category string   `json:"category,omitempty"`
	Price    *float64 `json:"price,omitempty"`
	// ImageURL is where the item's photo is shown from: the shop's address, or a
	// path on this service (/images/…) for photos sent as files.
	ImageURL string `json:"image_url,omitempty"`
}

// SamplePhoto is a query photo the demo page offers for search by photo.
type SamplePhoto struct {
	// Label names what the photo shows ("Red-Bell-Pepper").
	Label string `json:"label"`
	// Path is the photo's file on the server; never sent to the page.
	Path string `json:"-"`
}

// Catalogue is the in-memory catalogue the endpoints read.
type Catalogue interface {
	// Lookup returns the item with the given id, if it is an active item of the
	// catalogue (a deactivated item's title and price are not shown).
	Lookup(id string) (Item, bool)
	// Each calls visit with every active item until visit returns false.
	Each(visit func(Item) bool)
}

// Customer is a shopper with history, for the demo's customer picker.
type Customer struct {
	ID     string `json:"id"`
	Events int    `json:"events"`
}

// Customers lists the shoppers with the most events.
type Customers interface {
	TopCustomers(ctx context.Context, n int) ([]Customer, error)
}

// Tokens signs user tokens (keys.Store satisfies it).
type Tokens interface {
	SignUserToken(userID string, ttl time.Duration) (token string, expires time.Time, err error)
}

// Options configures the routes.
type Options struct {
	// Tokens signs the demo's user tokens; nil answers POST /demo/user-token with 409.
	Tokens Tokens
	// TokenTTL is how long a demo user token is valid. Default 1 hour.
	TokenTTL time.Duration
	// Catalogue is required.
	Catalogue Catalogue
	// Customers feeds the demo's customer picker; nil answers an empty list.
	Customers Customers
	// CustomersTTL is how long the customer list is cached. Default 1 minute.
	CustomersTTL time.Duration
	// Logger receives the cause of 5xx answers. Default: discard.
	Logger *slog.Logger
	// SamplePhotos are the query photos the demo page's search by photo offers
	// (GET /demo/photos); none: upload only.
	SamplePhotos []SamplePhoto
}

// handlers holds the state of the endpoints.
type handlers struct {
	opt Options

	mu        sync.Mutex
	customers []Customer
	fetched   time.Time
}

// Routes returns the routes of the demo page, the widget script and their endpoints,
// for api.Config.Extra.
func Routes(opt Options) []api.Route {
	if opt.CustomersTTL == 0 {
		opt.CustomersTTL = time.Minute
	}
	if opt.TokenTTL == 0 {
		opt.TokenTTL = time.Hour
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handlers{opt: opt}
	return []api.Route{
		{Method: "GET", Path: "/demo", Summary: "The demo shop page (HTML).", ContentType: "text/html", Handler: file("static/demo.html", "text/html; charset=utf-8")},
		{Method: "GET", Path: "/demo/assets/{file}", Summary: "The demo page's scripts and styles.", ContentType: "text/javascript", Handler: assets},
		{Method: "GET", Path: "/widget.js", Summary: "The homepage widget script (see the README for the snippet).", ContentType: "text/javascript", Handler: file("static/widget.js", "text/javascript; charset=utf-8")},
		{Method: "GET", Path: "/widget/items", Scope: fusionrank.ScopePublic, Summary: "Titles, categories and prices of the active items among ?ids=a,b,c (any key; for the widget and the demo).", ContentType: "application/json", Handler: h.items},
		// Counting a large shop's events takes longer than a ranking call's deadline;
		// the list is cached (CustomersTTL).
		{Method: "GET", Path: "/demo/customers", Scope: fusionrank.ScopeRead, Timeout: 10 * time.Second, Summary: "The demo's customers: those with the most events (?count=, read key).", ContentType: "application/json", Handler: h.topCustomers},
		{Method: "GET", Path: "/demo/search", Scope: fusionrank.ScopeRead, Summary: "The demo's lexical retrieval over catalogue titles (?q=, ?count=, read key).", ContentType: "application/json", Handler: h.search},
		{Method: "POST", Path: "/demo/user-token", Scope: fusionrank.ScopeRead, Summary: "A user token for {\"user_id\"}, valid for an hour (read key): what a shop's backend signs for its logged-in shopper, for the demo page and its widget.", ContentType: "application/json", Handler: h.userToken},
		{Method: "GET", Path: "/demo/photos", Scope: fusionrank.ScopeRead, Summary: "The sample query photos of the demo's search by photo (their labels; read key).", ContentType: "application/json", Handler: h.photos},
		{Method: "GET", Path: "/demo/photos/{n}", Scope: fusionrank.ScopeRead, Summary: "Sample query photo n of /demo/photos (read key).", ContentType: "image/jpeg", Handler: h.photo},
	}
}

// file serves one embedded file.
func file(name, contentType string) gin.HandlerFunc {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("web: " + err.Error())
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, contentType, b)
	}
}

var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

func assets(c *gin.Context) {
	name := c.Param("file")
	ext := name[strings.LastIndexByte(name, '.')+1:]
	ct, ok := assetTypes["."+ext]
	b, err := fs.ReadFile(static, "static/"+name)
	if !ok || err != nil || strings.Contains(name, "/") {
		fail(c, http.StatusNotFound, "not_found", "no asset "+name)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ct, b)
}

func fail(c *gin.Context, status int, code, msg string) {
	c.AbortWithStatusJSON(status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

// maxLookup caps the ids of one /widget/items call.
const maxLookup = 200

func (h *handlers) items(c *gin.Context) {
	var ids []string
	for _, id := range strings.Split(c.Query("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxLookup {
		fail(c, http.StatusBadRequest, "invalid", "ids: at most "+strconv.Itoa(maxLookup)+" per call")
		return
	}
	out := []Item{}
	for _, id := range ids {
		if it, ok := h.opt.Catalogue.Lookup(id); ok {
			out = append(out, it)
		}
	}
	api.WriteJSON(c, http.StatusOK, gin.H{"items": out})
}

func count(c *gin.Context, def, most int) (int, bool) {
	v := c.Query("count")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		fail(c, http.StatusBadRequest, "invalid", "count: expected a whole number from 1 to "+strconv.Itoa(most))
		return 0, false
	}
	return n, true
}

func (h *handlers) topCustomers(c *gin.Context) {
	n, ok := count(c, 30, 200)
	if !ok {
		return
	}
	list, err := h.cachedCustomers(c.Request.Context())
	if err != nil {
		h.opt.Logger.Warn("web: customers", "err", err)
		fail(c, http.StatusServiceUnavailable, "unavailable", "a store is unavailable; retry")
		return
	}
	api.WriteJSON(c, http.StatusOK, gin.H{"customers": list[:min(n, len(list))]})
}

// cachedCustomers lists up to 200 customers, cached for CustomersTTL: the list only
// seeds a picker, and counting events over a large shop takes a moment.
func (h *handlers) cachedCustomers(ctx context.Context) ([]Customer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.customers != nil && time.Since(h.fetched) < h.opt.CustomersTTL {
		return h.customers, nil
	}
	if h.opt.Customers == nil {
		return []Customer{}, nil
	}
	list, err := h.opt.Customers.TopCustomers(ctx, 200)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []Customer{}
	}
	h.customers, h.fetched = list, time.Now()
	return list, nil
}

// Hit is one result of the lexical retrieval.
type Hit struct {
	Item
	Score float64 `json:"score"`
}

func (h *handlers) search(c *gin.Context) {
	n, ok := count(c, 20, 500)
	if !ok {
		return
	}
	api.WriteJSON(c, http.StatusOK, gin.H{"query": c.Query("q"), "items": Search(h.opt.Catalogue, c.Query("q"), n)})
}

// userToken signs a user token for the demo page, which holds a read key: a read key
// already gets personal answers for any user and may send view and click events for
// any user, which is all a user token lets a public key do, so the route grants nothing
// the caller's key does not already allow.
func (h *handlers) userToken(c *gin.Context) {
	var req struct {
		UserID string `json:"user_id"`
	}
	err := api.DecodeBody(c, &req)
	if err == nil {
		err = fusionrank.ValidateID("user_id", req.UserID)
	}
	var token string
	var exp time.Time
	if err == nil {
		if h.opt.Tokens == nil {
			err = fusionrank.Errorf(fusionrank.Conflict, "user tokens: this server signs none")
		} else {
			token, exp, err = h.opt.Tokens.SignUserToken(req.UserID, h.opt.TokenTTL)
		}
	}
	if err != nil {
		code := fusionrank.ErrorCode(err)
		msg := fusionrank.ErrorMessage(err)
		if api.StatusOf(code) >= 500 {
			h.opt.Logger.Error("web: signing a user token", "err", err)
			msg = "internal error"
		}
		fail(c, api.StatusOf(code), string(code), msg)
		return
	}
	api.WriteJSON(c, http.StatusOK, gin.H{"user_id": req.UserID, "user_token": token, "expires_at": exp.UTC().Format(time.RFC3339)})
}

// Words splits text into lower-case words of letters and digits.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Search is the demo's stand-in for a shop's search engine: it scores each item by the
// query words its title contains, each weighted by its inverse document frequency
// log(1 + N/df), divided by 1 + 0.05 × (title words), so a short title that matches
// beats a long one; it returns the best n items with a positive score, best first (ties
// by id). An empty query has no results.
func Search(cat Catalogue, query string, n int) []Hit {
	q := map[string]bool{}
	for _, w := range Words(query) {
		q[w] = true
	}
	hits := []Hit{}
	if len(q) == 0 || n <= 0 {
		return hits
	}
	type match struct {
		it    Item
		words []string
		size  int
	}
	df := map[string]int{}
	var matches []match
	total := 0
	cat.Each(func(it Item) bool {
		total++
		var found []string
		ws := Words(it.Title)
		seen := map[string]bool{}
		for _, w := range ws {
			if q[w] && !seen[w] {
				seen[w] = true
				found = append(found, w)
				df[w]++
			}
		}
		if len(found) > 0 {
			matches = append(matches, match{it, found, len(ws)})
		}
		return true
	})
	for _, m := range matches {
		var s float64
		for _, w := range m.words {
			s += math.Log(1 + float64(total)/float64(df[w]))
		}
		hits = append(hits, Hit{Item: m.it, Score: s / (1 + 0.05*float64(m.size))})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Score != hits[j].Score {
			return hits[i].Score > hits[j].Score
		}
		return hits[i].ID < hits[j].ID
	})
	return hits[:min(n, len(hits))]
}

func (h *handlers) photos(c *gin.Context) {
	out := make([]SamplePhoto, len(h.opt.SamplePhotos))
	copy(out, h.opt.SamplePhotos)
	c.JSON(http.StatusOK, gin.H{"photos": out})
}

func (h *handlers) photo(c *gin.Context) {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 || n >= len(h.opt.SamplePhotos) {
		fail(c, http.StatusNotFound, "not_found", "no sample photo "+c.Param("n"))
		return
	}
	b, err := os.ReadFile(h.opt.SamplePhotos[n].Path)
	if err != nil {
		h.opt.Logger.Error("sample photo", "err", err)
		fail(c, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, http.DetectContentType(b), b)
}
