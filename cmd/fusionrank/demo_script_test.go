package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fusionrank/fusionrank/internal/testenv"
)

// writeRetailFixture writes a small file in the UCI Online Retail layout: 12 products,
// 6 customers, a cancellation and a row without a customer.
func writeRetailFixture(t *testing.T, path string) {
	t.Helper()
	titles := []string{"WHITE HANGING HEART T-LIGHT HOLDER", "WHITE METAL LANTERN", "CREAM CUPID HEARTS COAT HANGER",
		"KNITTED UNION FLAG HOT WATER BOTTLE", "RED WOOLLY HOTTIE WHITE HEART.", "SET 7 BABUSHKA NESTING BOXES",
		"GLASS STAR FROSTED T-LIGHT HOLDER", "HAND WARMER UNION JACK", "HAND WARMER RED POLKA DOT",
		"ASSORTED COLOUR BIRD ORNAMENT", "POPPY'S PLAYHOUSE BEDROOM", "JUMBO BAG RED RETROSPOT"}
	var b strings.Builder
	b.WriteString("InvoiceNo\tStockCode\tDescription\tQuantity\tInvoiceDate\tUnitPrice\tCustomerID\tCountry\n")
	base := time.Date(2011, 3, 1, 9, 0, 0, 0, time.UTC)
	row := 0
	for c := 0; c < 6; c++ {
		for k := 0; k < 8; k++ {
			p := (c*3 + k*5) % len(titles)
			ts := base.Add(time.Duration(c*24+k) * time.Hour)
			fmt.Fprintf(&b, "%d\t%d\t%s\t%d\t%d\t%.2f\t%d.0\tUnited Kingdom\n", 540000+c*10+k/4, 85000+p, titles[p], 1+k, ts.UnixNano(), 0.85+float64(p)/4, 17000+c)
			row++
		}
	}
	fmt.Fprintf(&b, "C540999\t85000\t%s\t-1\t%d\t0.85\t17000.0\tUnited Kingdom\n", titles[0], base.UnixNano())
	fmt.Fprintf(&b, "541000\t85001\t%s\t2\t%d\t0.85\t\tUnited Kingdom\n", titles[1], base.UnixNano())
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// demoRun is one run of scripts/demo.sh.
type demoRun struct {
	cmd    *exec.Cmd
	output strings.Builder // everything the script said, up to the URLs
	keys   map[string]string
	url    string
	took   time.Duration
}

// startDemo runs the script until it prints its URLs.
func startDemo(t *testing.T, env []string) *demoRun {
	t.Helper()
	r := &demoRun{keys: map[string]string{}}
	r.cmd = exec.Command("bash", "../../scripts/demo.sh")
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stdout = io.Discard
	start := time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			_ = r.cmd.Wait()
		}
	})
	up := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		done := false
		for sc.Scan() {
			line := sc.Text()
			if !done {
				r.output.WriteString(line + "\n")
			}
			f := strings.Fields(line)
			switch {
			case done:
			case len(f) >= 2 && strings.HasPrefix(line, "  public key"):
				r.keys["public"] = f[len(f)-1]
			case len(f) >= 2 && strings.HasPrefix(line, "  read key"):
				r.keys["read"] = f[len(f)-1]
			case len(f) >= 2 && strings.HasPrefix(line, "  write key"):
				r.keys["write"] = f[len(f)-1]
			case strings.HasPrefix(line, "fusionrank demo is up"):
				r.url = f[len(f)-1]
			case strings.HasPrefix(line, "Ctrl-C stops it."):
				done = true
				up <- nil
			}
		}
		if !done {
			up <- fmt.Errorf("the script ended before its URLs")
		}
	}()
	select {
	case err := <-up:
		if err != nil {
			_ = r.cmd.Wait()
			t.Fatalf("%v:\n%s", err, r.output.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the demo was not up after 3 minutes:\n%s", r.output.String())
	}
	r.took = time.Since(start)
	return r
}

// stop interrupts the script as Ctrl-C would (TERM, which its trap handles the same
// way) and waits for it and its server to end.
func (r *demoRun) stop(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the script ended with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the script did not stop within 60s of SIGTERM")
	}
}

// TestDemoScript runs scripts/demo.sh twice on a small Online Retail file: the first run
// imports the shop, creates the keys and serves the page; the second reuses both.
func TestDemoScript(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fusionrank")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "online_retail.tsv")
	writeRetailFixture(t, data)
	dbURL := testenv.FreshDatabase(t, "demo_script")
	ru, err := url.Parse(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	ru.Path = "/3" // not the database the tests' namespaces or a developer's server use
	if db := os.Getenv("FUSIONRANK_TEST_DEMO_REDIS_DB"); db != "" {
		ru.Path = "/" + db // another checkout testing beside this one
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	photoAddr := pl.Addr().String()
	pl.Close()
	vectors, _ := filepath.Abs(glove)
	keysFile := filepath.Join(dir, "demo-keys.env")
	testenv.FreshDatabase(t, "demo_script_photos") // the photo shop's, named after the shop's
	env := []string{"FUSIONRANK_BIN=" + bin, "DATA=" + data, "DEMO_DATABASE_URL=" + dbURL, "DEMO_REDIS_URL=" + ru.String(),
		"FUSIONRANK_ADDR=" + addr, "FUSIONRANK_TEXT_VECTORS=" + vectors, "DEMO_KEYS=" + keysFile, "DEMO_TRAIN=0",
		"PHOTO_ADDR=" + photoAddr, "DEMO_PHOTO_KEYS=" + filepath.Join(dir, "demo-photo-keys.env")}

	first := startDemo(t, env)
	out := first.output.String()
	for _, want := range []string{"importing the UCI Online Retail shop", "creating the demo keys", "creating the user-token secret", "http://" + addr + "/demo#public="} {
		if !strings.Contains(out, want) {
			t.Errorf("first run does not say %q:\n%s", want, out)
		}
	}
	if len(first.keys) != 3 || !strings.HasPrefix(first.keys["public"], "frk_") {
		t.Fatalf("keys printed: %v\n%s", first.keys, out)
	}
	if st, err := os.Stat(keysFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("keys file: %v %v, want mode 0600", st, err)
	}
	base := first.url
	if r := do(t, "GET", base+"/demo", "", nil); r.status != 200 {
		t.Errorf("GET /demo: %d", r.status)
	}
	// The photo shop is up beside it, with the Grocery Store's products and photos.
	if _, err := os.Stat(filepath.Join("../..", "../shared/datasets/grocery-store/classes.csv")); err == nil {
		i := strings.Index(out, "photo shop:  http://"+photoAddr+"/demo#public=")
		if i < 0 {
			t.Fatalf("no photo shop URL:\n%s", out)
		}
		f := strings.FieldsFunc(out[i:strings.Index(out[i:], "\n")+i], func(r rune) bool { return r == '=' || r == '&' || r == ' ' })
		read := f[len(f)-1]
		r := do(t, "POST", "http://"+photoAddr+"/v1/search", read, map[string]any{"query": map[string]any{"text": "x", "image": b64(catalogPhoto(t, 3))}, "count": 3})
		if r.status != 200 || len(ids(r.json(t))) != 3 || r.json(t)["image_encoder"] == nil {
			t.Fatalf("photo shop search: %d %s", r.status, r.body)
		}
	}
	r := do(t, "GET", base+"/demo/customers?count=10", first.keys["read"], nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"id":"c17000"`) {
		t.Fatalf("customers: %d %s", r.status, r.body)
	}
	// The page's way to a personal answer with the public key: a user token from
	// /demo/user-token (read key), signed with the secret the script created.
	r = do(t, "POST", base+"/demo/user-token", first.keys["read"], map[string]any{"user_id": "c17000"})
	token, _ := r.json(t)["user_token"].(string)
	if r.status != 200 || !strings.HasPrefix(token, "fru1.") {
		t.Fatalf("user token: %d %s", r.status, r.body)
	}
	r = do(t, "POST", base+"/v1/recommendations", first.keys["public"], map[string]any{"user_id": "c17000", "user_token": token, "count": 3})
	if r.status != 200 || len(ids(r.json(t))) != 3 || r.json(t)["personalized"] != true {
		t.Fatalf("recommendations: %d %s", r.status, r.body)
	}
	r = do(t, "POST", base+"/v1/events", first.keys["write"], map[string]any{"events": []map[string]any{{"event_id": "script-buy",
		"user_id": "c17000", "item_id": "sku-85003", "type": "purchase", "timestamp": time.Now().UTC().Format(time.RFC3339)}}})
	if r.status != 200 {
		t.Fatalf("purchase with the write key: %d %s", r.status, r.body)
	}
	first.stop(t)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the server still listens after the script stopped")
	}

	second := startDemo(t, env)
	out = second.output.String()
	for _, want := range []string{"skipping the import", "reusing the keys", "reusing the user-token secret"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run does not say %q:\n%s", want, out)
		}
	}
	for k, v := range first.keys {
		if second.keys[k] != v {
			t.Errorf("second run's %s key %q, want the first's %q", k, second.keys[k], v)
		}
	}
	if r := do(t, "GET", second.url+"/widget/items?ids=sku-85000", second.keys["public"], nil); r.status != 200 || !strings.Contains(string(r.body), "white hanging heart") {
		t.Errorf("items after the second start: %d %s", r.status, r.body)
	}
	t.Logf("first run up in %v, second in %v", first.took.Round(100*time.Millisecond), second.took.Round(100*time.Millisecond))
	second.stop(t)
}
