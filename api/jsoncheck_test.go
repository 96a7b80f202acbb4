package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fusionrank/fusionrank"
)

func TestCheckJSON(t *testing.T) {
	cases := []struct {
		name, in string
		depth    int
		want     string // "" : accepted
	}{
		{"plain", `{"a":1,"b":"x","c":[{"a":1},{"a":2}]}`, -1, ""},
		{"empty object and array", `{"a":{},"b":[]}`, -1, ""},
		{"duplicate", `{"a":1,"a":2}`, -1, "a: duplicate key"},
		{"duplicate in another case", `{"title":"x","TITLE":"y"}`, -1, "TITLE: duplicate key"},
		{"duplicate through an escape", `{"ab":1,"\u0061b":2}`, -1, "ab: duplicate key"},
		{"duplicate by Unicode folding", `{"k":1,"\u212a":2}`, -1, `"\u212a": duplicate key`},
		{"duplicate nested", `{"events":[{"x":1},{"type":"a","Type":"b"}]}`, -1, "events[1].Type: duplicate key"},
		{"same key in sibling objects", `{"a":{"k":1},"b":{"k":2}}`, -1, ""},
		{"many keys", `{` + manyKeys(40, "") + `}`, -1, ""},
		{"many keys, one twice", `{` + manyKeys(40, `,"K07":0`) + `}`, -1, "K07: duplicate key"},
		{"NUL in a value", `{"title":"a\u0000b"}`, -1, "title: contains a NUL character"},
		{"NUL in a key", `{"attributes":{"k\u0000":1}}`, -1, "attributes: a key contains a NUL character"},
		{"escaped backslash then u0000 is text", `{"title":"\\u0000"}`, -1, ""},
		{"not UTF-8", "{\"title\":\"caf\xe9\"}", -1, "title: not valid UTF-8"},
		{"not UTF-8 in an array", "{\"tags\":[\"ok\",\"\xff\"]}", -1, "tags[1]: not valid UTF-8"},
		{"UTF-8 is fine", `{"title":"café ☕"}`, -1, ""},
		{"depth 2 leaves elements alone", `{"events":[{"a":1,"a":2}]}`, 2, ""},
		{"depth 2 checks the envelope", `{"events":[],"events":[]}`, 2, "events: duplicate key"},
		{"malformed is left to encoding/json", `{"a":`, -1, ""},
		{"top-level string", `"\u0000"`, -1, "body: contains a NUL character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkJSON([]byte(c.in), c.depth)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("checkJSON(%s) = %v, want nil", c.in, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("checkJSON(%s) = %v, want %q", c.in, err, c.want)
			}
		})
	}
}

func manyKeys(n int, extra string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('0'+i/10)) + string(rune('0'+i%10)) + `":1`)
	}
	b.WriteString(extra)
	return b.String()
}

// referenceCheck is checkJSON's verdict for valid JSON computed the slow way: every
// token through encoding/json, keys compared with strings.EqualFold (as encoding/json
// matches fields), every decoded string searched for NUL, and the whole input checked
// for UTF-8 (outside strings valid JSON is ASCII).
func referenceCheck(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   []string
		expect bool // object: the next string is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return true // malformed: not the checker's to judge
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: v == '{', expect: v == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				return false
			}
			if top != nil && top.object && top.expect {
				for _, k := range top.keys {
					if strings.EqualFold(k, v) {
						return false
					}
				}
				top.keys = append(top.keys, v)
				top.expect = false
				continue
			}
		}
		if top != nil && top.object {
			top.expect = true
		}
	}
}

// FuzzCheckJSON compares checkJSON with referenceCheck on valid JSON, and checks that
// it never panics on anything.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"A":2}`, `{"title":"a\u0000b"}`, "{\"t\":\"\xff\"}", `{"a":[{"b":1},{"b":{"c":"\\u0000"}}]}`,
		`{"k":1,"\u212a":2}`, `{"ſ":1,"S":2}`, `{"events":[{"event_id":"e","type":"view","Type":"x"}]}`,
		`{"a":"\ud800"}`, `[1,2,{"x":null}]`, `"x"`, `{"a":{"a":{"a":{}}}}`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkJSON(data, -1)
		if !json.Valid(data) {
			return
		}
		if want := referenceCheck(data); (err == nil) != want {
			t.Fatalf("checkJSON(%q) = %v; the reference says ok=%v", data, err, want)
		}
	})
}

// TestTimeErrorsNameTheField: a timestamp time.Time refuses (a malformed string, a
// number) is answered naming the field, as every other type mismatch is; encoding/json
// alone says only "parsing time …".
func TestTimeErrorsNameTheField(t *testing.T) {
	for _, body := range []string{
		`{"event_id":"e","user_id":"u","item_id":"i","type":"view","timestamp":"yesterday"}`,
		`{"event_id":"e","user_id":"u","item_id":"i","type":"view","timestamp":1767323045}`,
		`{"event_id":"e","user_id":"u","item_id":"i","type":"view","timestamp":"2026-13-02T03:04:05Z"}`,
	} {
		var ev fusionrank.Event
		err := DecodeStrict([]byte(body), &ev)
		if err == nil || !strings.HasPrefix(err.Error(), "timestamp: ") {
			t.Errorf("%s: error %v, want one starting with the field name", body, err)
		}
		var fe *fusionrank.Error
		if !errors.As(err, &fe) || fe.Code != fusionrank.Invalid {
			t.Errorf("%s: error %v is not an invalid-argument error", body, err)
		}
		if err2 := DecodeEvent([]byte(body), &ev); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("%s: DecodeEvent says %v, DecodeStrict %v", body, err2, err)
		}
	}
}
