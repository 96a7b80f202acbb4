package usertoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Version starts every token; a later format would take another.
const Version = "fru1"

// SecretPrefix starts every written secret, so a leaked one is recognisable.
const SecretPrefix = "frus_"

// SecretSize is the length of a secret's key in bytes.
const SecretSize = 32

// MaxUserIDLen bounds the user id a token may carry (the API's id limit).
const MaxUserIDLen = 128

// Secret is one signing key and the id that names it in tokens.
type Secret struct {
	ID  int64
	Key []byte
}

// NewSecret returns a secret of SecretSize random bytes with the id.
func NewSecret(id int64) (Secret, error) {
	k := make([]byte, SecretSize)
	if _, err := rand.Read(k); err != nil {
		return Secret{}, err
	}
	return Secret{ID: id, Key: k}, nil
}

// String writes the secret as frus_<id>_<key>.
func (s Secret) String() string {
	return SecretPrefix + strconv.FormatInt(s.ID, 10) + "_" + base64.RawURLEncoding.EncodeToString(s.Key)
}

// ParseSecret reads a secret written by String.
func ParseSecret(text string) (Secret, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), SecretPrefix)
	id, key, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return Secret{}, errors.New("usertoken: a secret looks like frus_<id>_<key>")
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return Secret{}, errors.New("usertoken: the secret's id is not a positive number")
	}
	k, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(k) != SecretSize {
		return Secret{}, fmt.Errorf("usertoken: the secret's key is not %d bytes of base64url", SecretSize)
	}
	return Secret{ID: n, Key: k}, nil
}

// Sign returns a token for userID that is void after expires.
func Sign(s Secret, userID string, expires time.Time) string {
	msg := Version + "." + strconv.FormatInt(s.ID, 10) + "." + strconv.FormatInt(expires.Unix(), 10) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(userID))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac(s.Key, msg))
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Claims is what a valid token says.
type Claims struct {
	UserID   string
	Expires  time.Time
	SecretID int64
}

// The reasons a token is refused. Verify's errors wrap one of them.
var (
	ErrMalformed     = errors.New("not a user token")
	ErrUnknownSecret = errors.New("signed with a secret that is unknown or retired")
	ErrBadSignature  = errors.New("the signature does not match")
	ErrExpired       = errors.New("expired")
)

// tokenChars marks the bytes of a token: base64url, digits and the dots.
var tokenChars = func() (t [256]bool) {
	for _, b := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") {
		t[b] = true
	}
	return t
}()

// MaxLen bounds the length of a token Verify reads.
const MaxLen = 512

// Verify checks a token: its format, its signature under the secret it names (key
// returns that secret's bytes, or false when there is none or it is retired), and its
// expiry against now. It compares signatures in constant time.
func Verify(token string, key func(id int64) ([]byte, bool), now time.Time) (Claims, error) {
	var c Claims
	if len(token) > MaxLen {
		return c, ErrMalformed
	}
	// Only the characters Sign writes: the base64 decoder skips line breaks, which would
	// give one token many spellings.
	for i := 0; i < len(token); i++ {
		if b := token[i]; !tokenChars[b] {
			return c, ErrMalformed
		}
	}
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 {
		return c, ErrMalformed
	}
	msg, sig := token[:dot], token[dot+1:]
	parts := strings.Split(msg, ".")
	if len(parts) != 4 || parts[0] != Version {
		return c, ErrMalformed
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	user, err3 := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	got, err4 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(user) == 0 || len(user) > MaxUserIDLen || len(got) != sha256.Size {
		return c, ErrMalformed
	}
	// The decimal fields must be written as Sign writes them, so that one token has
	// one spelling.
	if strconv.FormatInt(id, 10) != parts[1] || strconv.FormatInt(exp, 10) != parts[2] {
		return c, ErrMalformed
	}
	k, ok := key(id)
	if !ok {
		return c, ErrUnknownSecret
	}
	if !hmac.Equal(got, mac(k, msg)) {
		return c, ErrBadSignature
	}
	c = Claims{UserID: string(user), Expires: time.Unix(exp, 0).UTC(), SecretID: id}
	if !now.Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}
