package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fusionrank/fusionrank"
)

func maxBytes(c *gin.Context, n int64) io.ReadCloser {
	return http.MaxBytesReader(c.Writer, c.Request.Body, n)
}

// decodeJSON reads the whole body into v, rejecting unknown fields, trailing data and
// wrong types with a message that names the field.
func decodeJSON(c *gin.Context, v any) error {
	body, err := readJSON(c)
	if err != nil {
		return err
	}
	return DecodeStrict(body, v)
}

// DecodeBody is decodeJSON for handlers outside the package (the web routes).
func DecodeBody(c *gin.Context, v any) error { return decodeJSON(c, v) }

// readJSON reads the whole body; a body over the limit is a TooLarge error.
func readJSON(c *gin.Context) ([]byte, error) {
	body, err := readBody(c.Request)
	if err != nil {
		return nil, bodyError(err)
	}
	return body, nil
}

// bodyBufs holds request body buffers of up to maxPooledBody bytes for readJSONPooled.
var bodyBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBody = 256 << 10

// readJSONPooled is readJSON into a pooled buffer, for the rerank and recommendation
// routes: a rerank body of 100 candidates is about 5 KB, a twelfth of what a rerank
// would otherwise allocate.
// release gives the buffer back: the caller must not keep any part of the
// body past it, so it suits decoders that copy what they keep (the fast paths, and
// encoding/json into types without json.RawMessage).
func readJSONPooled(c *gin.Context) (body []byte, release func(), err error) {
	bp := bodyBufs.Get().(*[]byte)
	body, err = readBodyInto(c.Request, *bp)
	release = func() {
		if cap(body) <= maxPooledBody {
			*bp = body[:0]
		}
		bodyBufs.Put(bp)
	}
	if err != nil {
		release()
		return nil, func() {}, bodyError(err)
	}
	return body, release, nil
}

// bodyError describes a failure to read a request body: over its size limit (413),
// not arrived within the body deadline (408), or cut off (400).
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fusionrank.Errorf(fusionrank.TooLarge, "body: larger than the limit of %d bytes", mbe.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fusionrank.Wrap(fusionrank.Timeout, err, "body: did not arrive within the body deadline; the connection is closed")
	}
	return fusionrank.Wrap(fusionrank.Invalid, err, "body: could not be read")
}

// readBody reads the whole body, into one allocation when the length is announced.
func readBody(r *http.Request) ([]byte, error) { return readBodyInto(r, nil) }

// readBodyInto is readBody reading into buf's memory when it is large enough.
func readBodyInto(r *http.Request, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= 64<<20 {
		if int64(cap(buf)) < n+1 {
			buf = make([]byte, n+1) // one more byte to see a body longer than announced
		}
		buf = buf[:n+1]
		k, err := io.ReadFull(r.Body, buf)
		switch {
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			return buf[:k], nil
		case err != nil:
			return nil, err
		}
		rest, err := io.ReadAll(r.Body)
		return append(buf, rest...), err
	}
	return io.ReadAll(r.Body)
}

// DecodeStrict decodes one JSON object from data into v. A body that is not an object
// (null, an array, a string), unknown fields, trailing data, type mismatches, keys given
// twice (also in different case), NUL characters and bytes that are not UTF-8 in
// strings are Invalid errors that name the field.
func DecodeStrict(data []byte, v any) error { return decodeStrict(data, v, -1) }

// decodeStrict is DecodeStrict checking keys and strings at most checkDepth containers
// deep (see checkJSON); a batch checks its elements one by one instead.
func decodeStrict(data []byte, v any, checkDepth int) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return invalid("body: empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return invalid("body: expected a JSON object, got %s", jsonKind(trimmed[0]))
	}
	if err := checkJSON(data, checkDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := timeField(data, err); ok {
			return invalid("%s: expected an RFC3339 timestamp string (%s)", f, strings.TrimPrefix(err.Error(), "Time.UnmarshalJSON: "))
		}
		return jsonError(err)
	}
	if dec.More() {
		return invalid("body: unexpected data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return invalid("body: unexpected data after the JSON object")
	}
	return nil
}

// timeField names the top-level field of the object data whose value time.Time
// refuses with err: encoding/json passes time.Time's own errors on (a malformed
// string, or a value that is not a string) without the field's name.
func timeField(data []byte, err error) (string, bool) {
	var pe *time.ParseError
	if !errors.As(err, &pe) && !strings.HasPrefix(err.Error(), "Time.UnmarshalJSON") {
		return "", false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return "", false
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var t time.Time
		if e := json.Unmarshal(fields[k], &t); e != nil && e.Error() == err.Error() {
			return k, true
		}
	}
	return "", false
}

// jsonKind names the kind of JSON value that starts with b, for messages.
func jsonKind(b byte) string {
	switch {
	case b == 'n':
		return "null"
	case b == '[':
		return "an array"
	case b == '"':
		return "a string"
	case b == 't' || b == 'f':
		return "true or false"
	case b == '-' || (b >= '0' && b <= '9'):
		return "a number"
	}
	return "something that is not JSON"
}

// jsonError turns encoding/json's errors into client messages that name the field.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return invalid("%s: expected %s, got %s", field, jsonType(te.Type.String()), te.Value)
	case errors.As(err, &se):
		return invalid("body: malformed JSON at byte %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("body: truncated JSON")
	case errors.As(err, new(base64.CorruptInputError)):
		var ce base64.CorruptInputError
		errors.As(err, &ce)
		return invalid("image: not valid base64 (standard alphabet, padded) at byte %d", int64(ce))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("%s: unknown field", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	}
	var fe *fusionrank.Error
	if errors.As(err, &fe) {
		return err
	}
	return invalid("body: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonType(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch {
	case goType == "time.Time":
		return "an RFC3339 timestamp string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a number"
	}
	return fmt.Sprintf("a %s", goType)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

func sortRejections(r []fusionrank.EventRejection) {
	sort.Slice(r, func(i, j int) bool { return r[i].Index < r[j].Index })
}

func sortLines(r []fusionrank.LineRejection) {
	sort.SliceStable(r, func(i, j int) bool { return r[i].Line < r[j].Line })
}

// queryImageField names a query's photo field in a base64 error ("image" → "query.image").
func queryImageField(err error) error {
	var fe *fusionrank.Error
	if errors.As(err, &fe) && strings.HasPrefix(fe.Message, "image: ") {
		return invalid("query.%s", fe.Message)
	}
	return err
}

// isMultipart reports whether the request body is multipart/form-data.
func isMultipart(c *gin.Context) bool {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	return err == nil && mt == "multipart/form-data"
}

// decodeMultipart reads a multipart/form-data request: the part "request" holds the
// JSON request (optional; decoded into v as a JSON body is) and the part "image" the
// query photo's file, which goes into q.Image. Other parts are errors.
func decodeMultipart(c *gin.Context, v any, q *fusionrank.Query) error {
	_, params, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if params["boundary"] == "" {
		return invalid("body: multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	var image []byte
	var sawImage bool
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return bodyError(err)
		}
		switch part.FormName() {
		case "request":
			if err := queryImageField(DecodeStrict(data, v)); err != nil {
				return err
			}
		case "image":
			image, sawImage = data, true
		default:
			return invalid("%s: unknown part; expected request (JSON) and image (the photo's file)", part.FormName())
		}
	}
	if sawImage {
		if q.Image != nil {
			return invalid("query.image: given both in the request part and as the image part")
		}
		if len(image) == 0 {
			return invalid("query.image: the image part is empty")
		}
		q.Image = image
	}
	return nil
}
