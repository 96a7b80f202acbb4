package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A small WebDriver client (the W3C protocol over HTTP, spoken by chromedriver), enough
// for the browser tests: no library, so go.mod stays as it is.

// browser is one WebDriver session of headless Chromium.
type browser struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT/session/ID
	timeout time.Duration
}

// elementKey is the W3C name of an element reference in JSON.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// startBrowser starts chromedriver and a headless Chromium session from the Debian
// packages. A missing package fails the test: it never skips.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (apt-get install chromium chromium-driver, or WITH_BROWSER=1 scripts/services.sh): %v", err)
	}
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Fatalf("chromedriver is not installed (apt-get install chromium-driver, or WITH_BROWSER=1 scripts/services.sh): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromedriver: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	b := &browser{t: t, base: root, timeout: 20 * time.Second}
	eventually(t, 10*time.Second, "chromedriver to answer", func() bool {
		resp, err := http.Get(root + "/status")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
		"--disable-dev-shm-usage", "--window-size=1280,1500", "--user-data-dir=" + t.TempDir()}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	b.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
	}}}, &sess)
	if sess.SessionID == "" {
		t.Fatalf("no WebDriver session; chromedriver said:\n%s", logs.String())
	}
	b.base = root + "/session/" + sess.SessionID
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", b.base, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	return b
}

// call sends one WebDriver command and decodes its "value" into out (when not nil).
func (b *browser) call(method, path string, body any, out any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		b.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		b.t.Fatalf("webdriver %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if resp.StatusCode != 200 {
		b.t.Fatalf("webdriver %s %s: %d %s", method, path, resp.StatusCode, env.Value)
	}
	if out != nil {
		if err := json.Unmarshal(env.Value, out); err != nil {
			b.t.Fatalf("webdriver %s %s: %v in %s", method, path, err, env.Value)
		}
	}
}

func (b *browser) open(url string) {
	b.t.Helper()
	b.call("POST", "/url", map[string]any{"url": url}, nil)
}

// find returns the first element matching a CSS selector.
func (b *browser) find(css string) string {
	b.t.Helper()
	var el map[string]string
	b.call("POST", "/element", map[string]any{"using": "css selector", "value": css}, &el)
	return el[elementKey]
}

func (b *browser) click(css string) {
	b.t.Helper()
	b.call("POST", "/element/"+b.find(css)+"/click", map[string]any{}, nil)
}

// typeInto types text into the element; "\ue007" is the Enter key.
func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	b.call("POST", "/element/"+b.find(css)+"/value", map[string]any{"text": text}, nil)
}

// eval runs a script in the page (a function body: "return …") and decodes its result.
func (b *browser) eval(script string, out any, args ...any) {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	b.call("POST", "/execute/sync", map[string]any{"script": script, "args": args}, out)
}

func (b *browser) str(script string, args ...any) string {
	b.t.Helper()
	var s any
	b.eval(script, &s, args...)
	if s == nil {
		return ""
	}
	return fmt.Sprint(s)
}

// waitJS waits until a script answers true. On a timeout it fails with what the page's
// status line (#status) says, if it has one.
func (b *browser) waitJS(what, script string, args ...any) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	for {
		var ok bool
		b.eval(script, &ok, args...)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %s waiting for %s; the page says: %q", b.timeout, what,
				b.str(`const s = document.querySelector('#status'); return s ? s.textContent : ''`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshot saves the page as a PNG under test-artifacts/ at the repository root (git
// ignored, or $FUSIONRANK_TEST_ARTIFACTS) and logs its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	var b64 string
	b.call("GET", "/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		b.t.Fatal(err)
	}
	dir := os.Getenv("FUSIONRANK_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path, _ := filepath.Abs(filepath.Join(dir, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// eventually polls cond until it holds or the timeout passes. The browser runs on its
// own, so there is nothing to wait on but the page's state.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
