package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// MaxBodyBytes is the largest request body accepted (CONTRACT §2: 413 beyond).
const MaxBodyBytes = 1 << 20

// readBody reads a request body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, gatehouse.ErrPayloadTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, gatehouse.ErrPayloadTooLarge
	}
	if err != nil {
		return nil, badRequest("the request body could not be read")
	}
	return body, nil
}

// mediaType returns the lower-cased media type of the request body, "" if none.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", gatehouse.ErrUnsupportedMediaType
	}
	return mt, nil
}

// fields is the decoded top level of a request: member name -> string value.
type fields map[string]string

// decodeJSON reads a JSON object body and returns the string members named
// in want (and, for a name ending in "{}", an object member's raw text). It is strict where encoding/json is lenient (SECURITY.md §10):
// names match exactly (no case folding), duplicate names, invalid UTF-8 and
// trailing data are refused with 400, a body that is not JSON is 415, a
// member of want that is not a string (null counts as absent) is 422.
// An empty body is an empty object when allowEmpty is set.
func decodeJSON(w http.ResponseWriter, r *http.Request, allowEmpty bool, want ...string) (fields, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 && allowEmpty && (mt == "" || mt == "application/json") {
		return fields{}, nil
	}
	if mt != "application/json" {
		return nil, gatehouse.ErrUnsupportedMediaType
	}
	return parseJSONObject(body, want)
}

// parseJSONObject is decodeJSON's parser, separate so it can be fuzzed.
func parseJSONObject(body []byte, want []string) (fields, error) {
	if !utf8.Valid(body) {
		return nil, badRequest("the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, badRequest("the request body is not valid JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, badRequest("the request body must be a JSON object")
	}
	raw := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badRequest("the request body is not valid JSON")
		}
		name := tok.(string) // inside an object, a token before a value is always its name
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, badRequest("the request body is not valid JSON")
		}
		if _, dup := raw[name]; dup {
			return nil, badRequest(fmt.Sprintf("member %q appears twice", truncateName(name)))
		}
		raw[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, badRequest("the request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("the request body has data after the JSON object")
	}
	out := fields{}
	var verr *gatehouse.ValidationError
	for _, name := range want {
		// A name ending in "{}" wants a JSON object, kept as its raw text
		// (a WebAuthn credential) under the name without the suffix; one
		// ending in "!" wants a boolean, kept as "true" or "false".
		object := strings.HasSuffix(name, "{}")
		boolean := strings.HasSuffix(name, "!")
		name = strings.TrimSuffix(strings.TrimSuffix(name, "{}"), "!")
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		if boolean {
			if s := string(v); s == "true" || s == "false" {
				out[name] = s
			} else {
				verr = verr.Add(name, "must be true or false")
			}
			continue
		}
		if object {
			if bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) {
				out[name] = string(v)
			} else {
				verr = verr.Add(name, "must be an object")
			}
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			verr = verr.Add(name, "must be a string")
			continue
		}
		out[name] = s
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func truncateName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// decodeForm reads the body of an OAuth endpoint: form-encoded (RFC 6749
// §4.3, §6) or, as a convenience, a JSON object. Parameters given twice
// are refused (RFC 6749 §3.2).
func decodeForm(w http.ResponseWriter, r *http.Request, want ...string) (fields, error) {
	mt, err := mediaType(r)
	if err != nil {
		return nil, err
	}
	switch mt {
	case "application/json":
		return decodeJSON(w, r, false, want...)
	case "application/x-www-form-urlencoded":
	default:
		return nil, withDetail(gatehouse.ErrUnsupportedMediaType, "request body must be application/x-www-form-urlencoded or application/json")
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(body) {
		return nil, badRequest("the request body is not valid UTF-8")
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("the request body is not a valid form")
	}
	out := fields{}
	for _, name := range want {
		vs := values[name]
		if len(vs) > 1 {
			return nil, badRequest(fmt.Sprintf("parameter %q appears twice", name))
		}
		if len(vs) == 1 && vs[0] != "" {
			if !utf8.ValidString(vs[0]) {
				return nil, badRequest("the request body is not valid UTF-8")
			}
			out[name] = vs[0]
		}
	}
	return out, nil
}
