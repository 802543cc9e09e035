package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

func TestParseJSONObject(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    fields
		errKind error
	}{
		{"plain", `{"email":"a@b.c","password":"pw"}`, fields{"email": "a@b.c", "password": "pw"}, nil},
		{"unknown members ignored", `{"email":"a","extra":{"x":[1,2]}}`, fields{"email": "a"}, nil},
		{"null is absent", `{"email":null}`, fields{}, nil},
		{"names are case-sensitive", `{"EMAIL":"admin@x.y","Email":"b"}`, fields{}, nil},
		{"escapes", `{"email":"a\u0040b.c"}`, fields{"email": "a@b.c"}, nil},
		{"duplicate", `{"email":"a","email":"b"}`, nil, gatehouse.ErrInvalidRequest},
		{"trailing object", `{"email":"a"}{}`, nil, gatehouse.ErrInvalidRequest},
		{"trailing garbage", `{"email":"a"} x`, nil, gatehouse.ErrInvalidRequest},
		{"not an object", `"email"`, nil, gatehouse.ErrInvalidRequest},
		{"truncated", `{"email":"a"`, nil, gatehouse.ErrInvalidRequest},
		{"invalid UTF-8", "{\"email\":\"\xc3\x28\"}", nil, gatehouse.ErrInvalidRequest},
		{"number", `{"email":5}`, nil, gatehouse.ErrInvalidInput},
		{"object", `{"email":{"$ne":null}}`, nil, gatehouse.ErrInvalidInput},
		{"array", `{"password":["a"]}`, nil, gatehouse.ErrInvalidInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJSONObject([]byte(tc.body), []string{"email", "password"})
			if tc.errKind != nil {
				if !errors.Is(err, tc.errKind) {
					t.Fatalf("err %v, want %v", err, tc.errKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// FuzzDecodeRequest: no body, however malformed, makes the decoder panic or
// answer anything but a value or one of the documented client errors.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","password":"pw"}`, `{"email":"a","email":"b"}`, `[]`, `{`, `{"a":{"b":[1,2,{"c":null}]}}`, "{\"x\":\"\xff\"}", `{"email":"\ud800"}`} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`email=a`), "application/x-www-form-urlencoded")
	f.Add([]byte(``), "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		got, err := decodeJSON(httptest.NewRecorder(), req, false, "email", "password")
		if err != nil {
			p, ok := problemFor(err)
			if !ok || p.Status < 400 || p.Status > 499 {
				t.Fatalf("decode error %v maps to %d (mapped %v), want a 4xx", err, p.Status, ok)
			}
			return
		}
		for k := range got {
			if k != "email" && k != "password" {
				t.Fatalf("unrequested member %q", k)
			}
		}
	})
}

// FuzzBearer: the Authorization parser never panics and never returns a
// token containing white space.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "", "Bearer a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := gatehouse.BearerToken([]string{h})
		if err != nil {
			if !errors.Is(err, gatehouse.ErrTokenInvalid) && !errors.Is(err, gatehouse.ErrTokenMissing) {
				t.Fatalf("error %v is neither invalid nor missing", err)
			}
			return
		}
		if strings.TrimSpace(tok) != tok {
			t.Fatalf("token %q has surrounding space", tok)
		}
	})
}
