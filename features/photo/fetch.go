package photo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fusionrank/fusionrank"
)

// FetchOptions configure a Fetcher. Zero values take the defaults.
type FetchOptions struct {
	// Timeout bounds one fetch from the first dial to the last byte, redirects
	// included. Default 10s.
	Timeout time.Duration
	// MaxRedirects is how many redirects a fetch follows. Default 3.
	MaxRedirects int
	// MaxBytes caps the body. Default DefaultMaxBytes.
	MaxBytes int64
	// AllowPrivate lets fetches reach loopback, private, link-local and other
	// non-public addresses. Default false: a URL that resolves to one is refused
	// (server-side request forgery: a caller must not make the service reach its own
	// network).
	AllowPrivate bool
	// UserAgent is sent with every fetch. Default "fusionrank-image-fetcher/1".
	UserAgent string
}

func (o FetchOptions) withDefaults() FetchOptions {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 3
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.UserAgent == "" {
		o.UserAgent = "fusionrank-image-fetcher/1"
	}
	return o
}

// Fetcher downloads photos over HTTP(S). The address of every connection is checked
// when it is dialled, after name resolution, so neither a name that resolves to a
// private address (DNS rebinding included) nor a redirect to one gets through. It
// uses no proxy. It is safe for concurrent use.
type Fetcher struct {
	opt    FetchOptions
	client *http.Client
	// exempt lists host:port addresses a test server listens on, which the address
	// check lets through although they are loopback.
	exempt map[string]bool
}

// errRefused marks a dial refused by the address check.
var errRefused = errors.New("refused address")

// NewFetcher returns a fetcher.
func NewFetcher(opt FetchOptions) *Fetcher {
	opt = opt.withDefaults()
	f := &Fetcher{opt: opt}
	dialer := &net.Dialer{Timeout: opt.Timeout, Control: f.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opt.Timeout,
		ResponseHeaderTimeout: opt.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	f.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > opt.MaxRedirects {
				return fmt.Errorf("more than %d redirects", opt.MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("a redirect to a %s: URL", req.URL.Scheme)
			}
			return nil
		},
	}
	return f
}

// Options returns the fetcher's options with defaults applied.
func (f *Fetcher) Options() FetchOptions { return f.opt }

// control runs after name resolution, before connect: it refuses non-public
// addresses unless they are allowed.
func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	if f.opt.AllowPrivate || f.exempt[address] {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errRefused, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s", errRefused, address)
	}
	if why := nonPublic(ip); why != "" {
		return fmt.Errorf("%w: %s is %s", errRefused, ip, why)
	}
	return nil
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// nonPublic says why ip is not a public unicast address ("" when it is).
func nonPublic(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "a link-local address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address"
	case cgnat.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	case ip.Is4() && ip.As4()[0] == 0:
		return "in 0.0.0.0/8"
	case ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	return ""
}

// MaxURLLen caps an image URL.
const MaxURLLen = 2048

// CheckURL validates an image URL without any network access: http or https, a host,
// at most MaxURLLen bytes, and (unless private addresses are allowed) a host that is
// not a literal non-public address. Errors are Invalid and start with field.
func (f *Fetcher) CheckURL(field, raw string) error {
	if len(raw) > MaxURLLen {
		return fusionrank.Errorf(fusionrank.Invalid, "%s: longer than %d bytes", field, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fusionrank.Errorf(fusionrank.Invalid, "%s: %q is not an http or https URL", field, clip(raw))
	}
	if f.opt.AllowPrivate || f.exempt[u.Host] {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fusionrank.Errorf(fusionrank.Invalid, "%s: %s is a loopback name; the service fetches public addresses only", field, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := nonPublic(ip); why != "" {
			return fusionrank.Errorf(fusionrank.Invalid, "%s: %s is %s; the service fetches public addresses only", field, ip, why)
		}
	}
	return nil
}

// Fetch downloads the body of raw. Its errors are Invalid, start with field and say
// what went wrong in terms a shop can act on; Retryable reports which of them may
// succeed on a later try.
func (f *Fetcher) Fetch(ctx context.Context, field, raw string) ([]byte, error) {
	if err := f.CheckURL(field, raw); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fusionrank.Errorf(fusionrank.Invalid, "%s: %q is not a valid URL", field, clip(raw))
	}
	req.Header.Set("User-Agent", f.opt.UserAgent)
	req.Header.Set("Accept", "image/jpeg, image/png, image/gif, image/webp")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.fetchError(ctx, field, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := fusionrank.Errorf(fusionrank.Invalid, "%s: the server answered %d %s", field, resp.StatusCode, http.StatusText(resp.StatusCode))
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, retryable(e)
		}
		return nil, e
	}
	if resp.ContentLength > f.opt.MaxBytes {
		return nil, fusionrank.Errorf(fusionrank.Invalid, "%s: the server announced %d bytes, over the limit of %d bytes", field, resp.ContentLength, f.opt.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opt.MaxBytes+1))
	if err != nil {
		return nil, f.fetchError(ctx, field, err)
	}
	if int64(len(body)) > f.opt.MaxBytes {
		return nil, fusionrank.Errorf(fusionrank.Invalid, "%s: the body is over the limit of %d bytes", field, f.opt.MaxBytes)
	}
	return body, nil
}

// fetchError turns a transport error into a client message.
func (f *Fetcher) fetchError(ctx context.Context, field string, err error) error {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errRefused):
		msg := err.Error()
		if i := strings.Index(msg, errRefused.Error()+": "); i >= 0 {
			msg = msg[i+len(errRefused.Error())+2:]
		}
		return fusionrank.Errorf(fusionrank.Invalid, "%s: refused: the address %s; the service fetches public addresses only", field, msg)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return retryable(fusionrank.Errorf(fusionrank.Invalid, "%s: the server did not send the photo within the fetch timeout of %s", field, f.opt.Timeout))
	case errors.As(err, &dnsErr):
		e := fusionrank.Errorf(fusionrank.Invalid, "%s: the host %s could not be resolved", field, dnsErr.Name)
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			return retryable(e)
		}
		return e
	case strings.Contains(err.Error(), "redirect"):
		var ue *url.Error
		msg := err.Error()
		if errors.As(err, &ue) && ue.Err != nil {
			msg = ue.Err.Error()
		}
		return fusionrank.Errorf(fusionrank.Invalid, "%s: %s", field, msg)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return retryable(fusionrank.Errorf(fusionrank.Invalid, "%s: the photo could not be fetched: %s %s", field, oe.Op, oe.Err))
	}
	return retryable(fusionrank.Wrap(fusionrank.Invalid, err, field+": the photo could not be fetched"))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryableError marks a fetch error that a later try may not hit.
type retryableError struct{ err *fusionrank.Error }

func (r retryableError) Error() string { return r.err.Error() }
func (r retryableError) Unwrap() error { return r.err }

func retryable(e *fusionrank.Error) error { return retryableError{e} }

// Retryable reports whether a Fetch error may go away on a later try (a timeout, a
// 5xx answer, a failed connection); a refused address, a 404 or an oversized file
// will not.
func Retryable(err error) bool {
	var r retryableError
	return errors.As(err, &r)
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
