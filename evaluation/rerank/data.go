package rerank

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/fusionrank/fusionrank/internal/gz"
)

// Relevance grades run from MinRelevance (irrelevant) to MaxRelevance
// (exact match); the file holds the mean of the raters' grades.
const (
	MinRelevance = 1
	MaxRelevance = 3
)

// Item is one judged product of a query: one row of the file.
type Item struct {
	// ID is the row's id column.
	ID string
	// ProductUID identifies the product; a product can be judged for many
	// queries.
	ProductUID string
	// Title is the product's title.
	Title string
	// Relevance is the mean human grade, in [MinRelevance, MaxRelevance].
	Relevance float64
}

// Gain returns the item's gain in NDCG: Relevance − 1, so an irrelevant
// product counts 0 and an exact match 2.
func (it Item) Gain() float64 { return it.Relevance - MinRelevance }

// Query is one search term with every product judged for it, in file order.
type Query struct {
	// Text is the search term as typed (surrounding spaces trimmed).
	Text string
	// Items are the judged products.
	Items []Item
}

// Grades returns the number of distinct relevance values among q's items.
// Only queries with at least two are evaluated: with one, every order is
// equally good.
func (q Query) Grades() int {
	n := 0
	for i, it := range q.Items {
		seen := false
		for _, prev := range q.Items[:i] {
			if prev.Relevance == it.Relevance {
				seen = true
				break
			}
		}
		if !seen {
			n++
		}
	}
	return n
}

// columns are the header names the reader needs; other columns are ignored.
var columns = [...]string{"id", "product_uid", "product_title", "search_term", "relevance"}

// ReadFile reads a Home Depot relevance file (see [Read]), plain or
// gzip-compressed (detected from the magic bytes).
func ReadFile(path string) ([]Query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	defer f.Close()
	qs, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return qs, nil
}

// Read reads a Home Depot search-relevance CSV file from r, plain or
// gzip-compressed, streaming it row by row. The first row is a header that
// must name the columns id, product_uid, product_title, search_term and
// relevance, in any order (other columns are ignored). Every row must have a
// non-empty search_term and product_uid and a relevance that is a number in
// [1, 3]; errors name the line. Rows are grouped into queries by their exact
// search_term (after trimming surrounding spaces); queries keep the order of
// their first row, items the order of their rows.
func Read(r io.Reader) ([]Query, error) {
	src, done, err := gz.Reader(r, 256<<10)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	defer done()
	cr := csv.NewReader(src)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("rerank: empty file: no header")
	}
	if err != nil {
		return nil, fmt.Errorf("rerank: header: %w", err)
	}
	var col [len(columns)]int
	for i, name := range columns {
		col[i] = -1
		for j, h := range header {
			if strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) == name {
				col[i] = j
				break
			}
		}
		if col[i] < 0 {
			return nil, fmt.Errorf("rerank: header %q lacks the column %q", strings.Join(header, ","), name)
		}
	}

	var qs []Query
	byText := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("rerank: %w", err)
		}
		line, _ := cr.FieldPos(0)
		field := func(i int) string { return rec[col[i]] }
		text := strings.TrimSpace(field(3))
		if text == "" {
			return nil, fmt.Errorf("rerank: line %d: empty search_term", line)
		}
		uid := strings.TrimSpace(field(1))
		if uid == "" {
			return nil, fmt.Errorf("rerank: line %d: empty product_uid", line)
		}
		rel, err := strconv.ParseFloat(strings.TrimSpace(field(4)), 64)
		if err != nil || math.IsNaN(rel) || rel < MinRelevance || rel > MaxRelevance {
			return nil, fmt.Errorf("rerank: line %d: relevance %q is not a number in [%d, %d]", line, field(4), MinRelevance, MaxRelevance)
		}
		qi, ok := byText[text]
		if !ok {
			qi = len(qs)
			byText[text] = qi
			qs = append(qs, Query{Text: text})
		}
		// The record is reused: copy the strings kept.
		qs[qi].Items = append(qs[qi].Items, Item{
			ID:         strings.Clone(field(0)),
			ProductUID: strings.Clone(uid),
			Title:      strings.Clone(field(2)),
			Relevance:  rel,
		})
	}
	if len(qs) == 0 {
		return nil, errors.New("rerank: no judgements after the header")
	}
	return qs, nil
}

// SplitByQuery splits qs at random into a training and a test part, whole
// queries at a time: round(testFraction·len(qs)) queries go to test, the rest
// to train. The split depends only on len(qs), testFraction and seed; both
// parts keep the order of qs. The queries are shared, not copied.
// SplitByQuery panics if testFraction is not in [0, 1].
func SplitByQuery(qs []Query, testFraction float64, seed uint64) (train, test []Query) {
	if !(testFraction >= 0 && testFraction <= 1) {
		panic(fmt.Sprintf("rerank: SplitByQuery: testFraction = %v, want [0, 1]", testFraction))
	}
	nTest := int(math.Round(testFraction * float64(len(qs))))
	rng := rand.New(rand.NewPCG(seed, 0x5eed5eed))
	inTest := make([]bool, len(qs))
	for _, i := range rng.Perm(len(qs))[:nTest] {
		inTest[i] = true
	}
	for i, q := range qs {
		if inTest[i] {
			test = append(test, q)
		} else {
			train = append(train, q)
		}
	}
	return train, test
}

// Judgements returns the total number of items over qs.
func Judgements(qs []Query) int {
	n := 0
	for _, q := range qs {
		n += len(q.Items)
	}
	return n
}
