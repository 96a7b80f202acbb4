package api

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkJSON finds what encoding/json would accept silently but the API refuses, and
// names the field:
//
//   - a key twice in one object, also when the two differ only in case: encoding/json
//     matches struct fields without case and lets the last one win, so {"type":"view",
//     "Type":"purchase"} would be a purchase;
//   - a NUL character (\u0000) in a string: Postgres cannot store it in text or jsonb,
//     so an item holding one would fail in the store, and with it every good item of the
//     same transaction;
//   - bytes that are not UTF-8 in a string: encoding/json replaces them with U+FFFD,
//     so the stored text would differ from what was sent.
//
// It checks objects and strings nested at most maxDepth containers deep (the top-level
// object is depth 1; a negative maxDepth checks everything), so that a batch can check
// its envelope here and each element on its own, reporting a bad element without
// refusing the batch. It is one pass over the bytes and allocates only for keys with
// escapes or non-ASCII characters and for objects of more than 32 keys. Syntax errors
// are left to encoding/json: on malformed input it returns nil, or a problem it found
// before the malformed part.
func checkJSON(data []byte, maxDepth int) error {
	if maxDepth < 0 {
		maxDepth = maxCheckDepth
	}
	c := jsonChecker{data: data, maxDepth: maxDepth}
	c.value(0)
	return c.err
}

// maxCheckDepth is the deepest nesting checked; encoding/json refuses deeper input
// (its limit is 10,000), so nothing past it can be accepted anyway.
const maxCheckDepth = 10000

// jsonChecker is the state of one checkJSON pass.
type jsonChecker struct {
	data     []byte
	i        int
	maxDepth int
	err      error
	path     []pathElem // where the checker is, for messages
	sets     []*keySet  // the keys seen so far in the open object at each depth
}

// pathElem is one step of a path: an object key or an array index.
type pathElem struct {
	key   jsonKey
	index int
	isKey bool
}

// jsonKey is an object key: its raw bytes between the quotes (data[start:end]), and,
// when those hold escapes or non-ASCII bytes, its decoded text and case fold.
type jsonKey struct {
	start, end int
	text, fold string
	simple     bool // printable ASCII without escapes: raw bytes are the text
}

// keySet holds the keys of one object: a slice for the usual few, a map of folds past
// 32.
type keySet struct {
	keys []jsonKey
	m    map[string]struct{}
}

func (c *jsonChecker) space() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// value checks one value whose container is depth deep (0 at the top). It reports
// false when it stopped: a problem was found (c.err) or the input is malformed.
func (c *jsonChecker) value(depth int) bool {
	c.space()
	if c.i >= len(c.data) || depth >= maxCheckDepth {
		return false
	}
	switch c.data[c.i] {
	case '{':
		return c.object(depth + 1)
	case '[':
		return c.array(depth + 1)
	case '"':
		_, ok := c.str(depth <= c.maxDepth, false)
		return ok
	}
	// A number or a literal: its validity is encoding/json's to judge.
	start := c.i
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return c.i > start
		}
		c.i++
	}
	return c.i > start
}

func (c *jsonChecker) object(depth int) bool {
	c.i++ // '{'
	check := depth <= c.maxDepth
	for len(c.sets) <= depth {
		c.sets = append(c.sets, &keySet{})
	}
	set := c.sets[depth]
	set.keys, set.m = set.keys[:0], nil
	c.space()
	if c.i < len(c.data) && c.data[c.i] == '}' {
		c.i++
		return true
	}
	for {
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != '"' {
			return false
		}
		k, ok := c.str(check, true)
		if !ok {
			return false
		}
		if check && !c.addKey(set, k) {
			return false
		}
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return false
		}
		c.i++
		c.path = append(c.path, pathElem{key: k, isKey: true})
		if !c.value(depth) {
			return false
		}
		c.path = c.path[:len(c.path)-1]
		c.space()
		if c.i >= len(c.data) {
			return false
		}
		switch c.data[c.i] {
		case ',':
			c.i++
		case '}':
			c.i++
			return true
		default:
			return false
		}
	}
}

func (c *jsonChecker) array(depth int) bool {
	c.i++ // '['
	c.space()
	if c.i < len(c.data) && c.data[c.i] == ']' {
		c.i++
		return true
	}
	c.path = append(c.path, pathElem{})
	for n := 0; ; n++ {
		c.path[len(c.path)-1].index = n
		if !c.value(depth) {
			return false
		}
		c.space()
		if c.i >= len(c.data) {
			return false
		}
		switch c.data[c.i] {
		case ',':
			c.i++
		case ']':
			c.i++
			c.path = c.path[:len(c.path)-1]
			return true
		default:
			return false
		}
	}
}

// str reads the string at c.i. With check it refuses a NUL character and bytes that
// are not UTF-8 (for a key, the message names the key's object). For a key it returns
// the key.
func (c *jsonChecker) str(check, isKey bool) (jsonKey, bool) {
	c.i++ // '"'
	k := jsonKey{start: c.i, simple: true}
	for c.i < len(c.data) {
		b := c.data[c.i]
		switch {
		case b == '"':
			k.end = c.i
			c.i++
			if isKey && !k.simple {
				text, ok := decodeKey(c.data[k.start-1 : k.end+1])
				if !ok {
					return k, false
				}
				k.text, k.fold = text, foldString(text)
			}
			return k, true
		case b == '\\':
			k.simple = false
			if c.i+1 >= len(c.data) {
				return k, false
			}
			if c.data[c.i+1] != 'u' {
				c.i += 2
				continue
			}
			if c.i+6 > len(c.data) {
				return k, false
			}
			r, err := strconv.ParseUint(string(c.data[c.i+2:c.i+6]), 16, 16)
			if err != nil {
				return k, false
			}
			if r == 0 && check {
				c.fail(isKey, "contains a NUL character (\\u0000), which text may not hold")
				return k, false
			}
			c.i += 6
		case b < 0x20:
			return k, false // a raw control character: malformed
		case b < utf8.RuneSelf:
			c.i++
		default:
			k.simple = false
			r, size := utf8.DecodeRune(c.data[c.i:])
			if r == utf8.RuneError && size == 1 {
				if check {
					c.fail(isKey, "is not valid UTF-8")
				}
				return k, false
			}
			c.i += size
		}
	}
	return k, false
}

// decodeKey decodes a quoted key with escapes or non-ASCII bytes (a separate function,
// so that only this rare path allocates).
func decodeKey(quoted []byte) (string, bool) {
	var text string
	if err := json.Unmarshal(quoted, &text); err != nil {
		return "", false
	}
	return text, true
}

// foldString maps every rune to the smallest rune of its simple case-folding orbit, so
// that foldString(a) == foldString(b) exactly when strings.EqualFold(a, b), the
// comparison encoding/json uses to match keys with struct fields.
func foldString(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// equalKeys compares two keys as encoding/json does (without case).
func (c *jsonChecker) equalKeys(a, b jsonKey) bool {
	if a.simple && b.simple {
		x, y := c.data[a.start:a.end], c.data[b.start:b.end]
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			p, q := x[i], y[i]
			if 'a' <= p && p <= 'z' {
				p -= 'a' - 'A'
			}
			if 'a' <= q && q <= 'z' {
				q -= 'a' - 'A'
			}
			if p != q {
				return false
			}
		}
		return true
	}
	return c.fold(a) == c.fold(b)
}

// fold is a key's case fold.
func (c *jsonChecker) fold(k jsonKey) string {
	if k.simple {
		return foldString(string(c.data[k.start:k.end]))
	}
	return k.fold
}

// addKey records k in its object's set; a key already there is an error.
func (c *jsonChecker) addKey(set *keySet, k jsonKey) bool {
	dup := false
	if set.m != nil {
		f := c.fold(k)
		_, dup = set.m[f]
		set.m[f] = struct{}{}
	} else {
		for _, o := range set.keys {
			if c.equalKeys(o, k) {
				dup = true
				break
			}
		}
		set.keys = append(set.keys, k)
		if len(set.keys) > 32 {
			set.m = make(map[string]struct{}, 64)
			for _, o := range set.keys {
				set.m[c.fold(o)] = struct{}{}
			}
		}
	}
	if dup {
		c.path = append(c.path, pathElem{key: k, isKey: true})
		c.err = invalid("%s: duplicate key (keys of an object must differ, also in more than case)", c.where())
		return false
	}
	return true
}

// fail records a problem of the current string: the field's value, or (isKey) one of
// the keys of the current object.
func (c *jsonChecker) fail(isKey bool, problem string) {
	if isKey {
		c.err = invalid("%s: a key %s", c.whereOr("body"), problem)
		return
	}
	c.err = invalid("%s: %s", c.whereOr("body"), strings.TrimPrefix(problem, "is "))
}

// where is the current path, as the API's messages name fields: vectors.image,
// events[3].type.
func (c *jsonChecker) where() string {
	var b strings.Builder
	for _, e := range c.path {
		if !e.isKey {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		switch {
		case e.key.simple:
			b.Write(c.data[e.key.start:e.key.end])
		case printableASCII(e.key.text):
			b.WriteString(e.key.text)
		default:
			b.WriteString(strconv.QuoteToASCII(e.key.text))
		}
	}
	return b.String()
}

func (c *jsonChecker) whereOr(def string) string {
	if w := c.where(); w != "" {
		return w
	}
	return def
}

// printableASCII reports whether s can name a field in a message as it is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return s != ""
}
