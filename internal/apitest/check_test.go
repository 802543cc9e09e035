package apitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testSpec = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/things/{id}": {
      "patch": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id"], "additionalProperties": false, "properties": {"id": {"type": "string"}}}}}},
          "404": {"$ref": "#/components/responses/NotFound"}
        }
      }
    }
  },
  "components": {"responses": {"NotFound": {"description": "no", "content": {"application/problem+json": {"schema": {
    "allOf": [{"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}},
              {"properties": {"code": {"enum": ["not_found"]}}}]}}}}}}
}`

func exchange(t *testing.T, method, path, body string, status int, ctype, respBody string, mark bool) []string {
	t.Helper()
	s, err := Parse([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, "http://x"+path, nil)
	r.Header.Set("Content-Type", "application/json")
	if mark {
		Malformed(r, "test")
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {ctype}}}
	return s.Check(r, []byte(body), !mark, resp, []byte(respBody))
}

// The check must be able to fail: each kind of violation is caught, and a
// fitting exchange passes.
func TestCheck(t *testing.T) {
	cases := []struct {
		name               string
		method, path, body string
		status             int
		ctype, resp        string
		mark               bool
		want               string // "" for no violation
	}{
		{"fits", "PATCH", "/things/1", `{"name":"a"}`, 200, "application/json", `{"id":"1"}`, false, ""},
		{"request body", "PATCH", "/things/1", `{"name":1}`, 200, "application/json", `{"id":"1"}`, false, "request PATCH"},
		{"marked malformed", "PATCH", "/things/1", `{"name":1}`, 200, "application/json", `{"id":"1"}`, true, ""},
		{"response member", "PATCH", "/things/1", `{"name":"a"}`, 200, "application/json", `{"id":"1","secret":"x"}`, false, "response 200"},
		{"undescribed status", "PATCH", "/things/1", `{"name":"a"}`, 409, "application/problem+json", `{"code":"conflict"}`, false, "response 409"},
		{"listed code", "PATCH", "/things/1", `{"name":"a"}`, 404, "application/problem+json", `{"code":"not_found"}`, false, ""},
		{"unlisted code", "PATCH", "/things/1", `{"name":"a"}`, 404, "application/problem+json", `{"code":"gone"}`, false, `"gone", a code the description does not list`},
		{"no such operation", "GET", "/things/1", ``, 200, "application/json", `{}`, false, "no such operation"},
		{"a wrong method", "GET", "/things/1", ``, 405, "application/problem+json", `{"code":"method_not_allowed"}`, false, ""},
		{"an unknown path", "GET", "/nope", ``, 404, "application/problem+json", `{"code":"not_found"}`, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, tc.method, tc.path, tc.body, tc.status, tc.ctype, tc.resp, tc.mark)
			joined := strings.Join(got, "\n")
			if tc.want == "" && len(got) > 0 || tc.want != "" && !strings.Contains(joined, tc.want) {
				t.Fatalf("violations %q, want %q", joined, tc.want)
			}
		})
	}
}

func TestParseRefusesUnlistedProblem(t *testing.T) {
	bad := strings.Replace(testSpec, `{"properties": {"code": {"enum": ["not_found"]}}}`, `{}`, 1)
	if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "must list its codes") {
		t.Fatalf("a problem response without codes: %v", err)
	}
}
