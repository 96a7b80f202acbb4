package usertoken

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testSecret(id int64, b byte) Secret {
	k := make([]byte, SecretSize)
	for i := range k {
		k[i] = b + byte(i)
	}
	return Secret{ID: id, Key: k}
}

func keysOf(ss ...Secret) func(int64) ([]byte, bool) {
	return func(id int64) ([]byte, bool) {
		for _, s := range ss {
			if s.ID == id {
				return s.Key, true
			}
		}
		return nil, false
	}
}

func TestSignVerify(t *testing.T) {
	s1, s2 := testSecret(1, 7), testSecret(2, 99)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tok := Sign(s1, "c17850", now.Add(time.Hour))
	if !strings.HasPrefix(tok, "fru1.1.") {
		t.Fatalf("token %q", tok)
	}
	c, err := Verify(tok, keysOf(s1, s2), now)
	if err != nil || c.UserID != "c17850" || !c.Expires.Equal(now.Add(time.Hour)) || c.SecretID != 1 {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	// The message is fixed: a signature computed elsewhere from the documented format
	// must match (HMAC-SHA256 of "fru1.1.<exp>.YzE3ODUw" under the key).
	if got := tok[:strings.LastIndexByte(tok, '.')]; got != "fru1.1.1796130000.YzE3ODUw" {
		t.Fatalf("signed message %q", got)
	}

	cases := []struct {
		name  string
		token string
		keys  func(int64) ([]byte, bool)
		at    time.Time
		want  error
	}{
		{"expired", tok, keysOf(s1), now.Add(time.Hour), ErrExpired},
		{"secret retired", tok, keysOf(s2), now, ErrUnknownSecret},
		{"another user", strings.Replace(tok, "YzE3ODUw", "YzE3ODUx", 1), keysOf(s1), now, ErrBadSignature},
		{"later expiry", strings.Replace(tok, "1796130000", "1796133600", 1), keysOf(s1), now, ErrBadSignature},
		{"signed by another secret with its id", "fru1.1" + Sign(s2, "c17850", now.Add(time.Hour))[len("fru1.2"):], keysOf(s1, s2), now, ErrBadSignature},
		{"empty", "", keysOf(s1), now, ErrMalformed},
		{"no signature", "fru1.1.1796130000.YzE3ODUw", keysOf(s1), now, ErrMalformed},
		{"other version", "fru2" + tok[4:], keysOf(s1), now, ErrMalformed},
		{"padded id", strings.Replace(tok, "fru1.1.", "fru1.01.", 1), keysOf(s1), now, ErrMalformed},
		{"too long", tok + strings.Repeat("A", MaxLen), keysOf(s1), now, ErrMalformed},
		{"empty user", Sign(s1, "", now.Add(time.Hour)), keysOf(s1), now, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Verify(c.token, c.keys, c.at); !errors.Is(err, c.want) {
				t.Fatalf("Verify(%q) = %v, want %v", c.token, err, c.want)
			}
		})
	}
}

func TestSecretText(t *testing.T) {
	s, err := NewSecret(42)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSecret(s.String())
	if err != nil || back.ID != 42 || string(back.Key) != string(s.Key) {
		t.Fatalf("ParseSecret(%q) = %+v, %v", s.String(), back, err)
	}
	for _, bad := range []string{"", "frus_", "frus_0_" + s.String()[8:], "frus_x_abc", "frk_1_abc", "frus_1_" + "AAAA"} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}

// FuzzVerify: Verify never panics, and a token it accepts is exactly the one Sign
// writes for its claims (one spelling per token: no malleable variant verifies).
func FuzzVerify(f *testing.F) {
	s := testSecret(3, 1)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Add(Sign(s, "u1", now.Add(time.Minute)))
	f.Add(Sign(s, strings.Repeat("u", 128), now.Add(time.Minute)))
	f.Add(Sign(s, "a.b:c@d", now.Add(-time.Minute)))
	f.Add("fru1.3.1.dQ.AAAA")
	f.Add("fru1.3.-1.dQ=.x.y")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := Verify(token, keysOf(s), now)
		if err != nil {
			return
		}
		if again := Sign(s, c.UserID, c.Expires); again != token {
			t.Fatalf("Verify accepted %q, which Sign writes as %q", token, again)
		}
	})
}
