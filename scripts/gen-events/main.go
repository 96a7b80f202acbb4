// Command gen-events writes a generated event history as NDJSON (the API's event
// objects, one per line) for import and start-up measurements: -n events of -users
// users on -items items over the -months months before -end, in time order. Users and
// items are drawn with skew (a few popular items and busy users, as in shops: item rank
// r is chosen with probability ∝ 1/(r+10)), types 70% view, 20% click, 7% add_to_cart,
// 3% purchase. The same flags and -seed give the same file.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 10_000_000, "events")
	users := flag.Int("users", 500_000, "users")
	items := flag.Int("items", 50_000, "items")
	months := flag.Int("months", 24, "months of history")
	end := flag.String("end", "2026-12-01", "end of the history (UTC date)")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "-", "output file (.gz: gzip); -: stdout")
	flag.Parse()
	endT, err := time.Parse("2006-01-02", *end)
	if err != nil {
		log.Fatal(err)
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		w = f
		if strings.HasSuffix(*out, ".gz") {
			gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
			defer gz.Close()
			w = gz
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	defer bw.Flush()
	rng := rand.New(rand.NewPCG(*seed, 42))
	// Skewed ranks by inverse transform of a 1/(r+c) density on [0, m).
	skewed := func(m int) int {
		const c = 10.0
		u := rng.Float64()
		r := c*math.Exp(u*math.Log((float64(m)+c)/c)) - c
		return min(int(r), m-1)
	}
	start := endT.AddDate(0, -*months, 0)
	span := endT.Sub(start)
	types := []string{"view", "click", "add_to_cart", "purchase"}
	var line []byte
	for i := range *n {
		ts := start.Add(time.Duration(float64(span) * (float64(i) + rng.Float64()) / float64(*n)))
		t := types[0]
		switch p := rng.Float64(); {
		case p >= 0.97:
			t = types[3]
		case p >= 0.90:
			t = types[2]
		case p >= 0.70:
			t = types[1]
		}
		line = line[:0]
		line = append(line, `{"event_id":"g`...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, `","user_id":"u`...)
		line = strconv.AppendInt(line, int64(skewed(*users)), 10)
		line = append(line, `","item_id":"i`...)
		line = strconv.AppendInt(line, int64(skewed(*items)), 10)
		line = append(line, `","type":"`...)
		line = append(line, t...)
		line = append(line, `","timestamp":"`...)
		line = ts.UTC().AppendFormat(line, time.RFC3339Nano)
		line = append(line, "\"}\n"...)
		if _, err := bw.Write(line); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "gen-events: %d events, %d users, %d items, %s to %s\n", *n, *users, *items, start.Format("2006-01-02"), endT.Format("2006-01-02"))
}
