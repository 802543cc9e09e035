// Package apitest checks HTTP traffic against the OpenAPI description of
// the API (CONTRACT §9), so that the description cannot drift from what
// the handlers do: every request a test sends and every response it gets
// is validated by github.com/pb33f/libopenapi-validator (a maintained
// OpenAPI 3.1 validator, JSON Schema 2020-12), and a problem's code must
// be one that the description lists for that route and status.
//
// Wrap a client's transport with [Transport] or a handler with [Handler].
// A test that sends a deliberately malformed request marks it with
// [Malformed]: its response is still checked, its request is not.
package apitest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
)

// Spec is a parsed description: the validator, and what our own checks
// need (the routes and each response's problem codes).
type Spec struct {
	v      validator.Validator
	routes []route
	// generic are the problems any path may answer outside its
	// operations: an unknown path, or a method the path lacks.
	generic map[int][]string
}

type route struct {
	method   string
	segments []string // "{…}" matches any one segment
	// codes: status -> the problem codes its response lists; a status
	// without problem content is absent.
	codes map[int][]string
}

var (
	parsedMu sync.Mutex
	parsed   = map[[32]byte]*Spec{}
)

// Parse reads an OpenAPI 3.1 document; the same bytes are parsed once per
// test binary.
func Parse(doc []byte) (*Spec, error) {
	key := sha256.Sum256(doc)
	parsedMu.Lock()
	defer parsedMu.Unlock()
	if s, ok := parsed[key]; ok {
		return s, nil
	}
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	// Security requirements are not checked on requests: a test that
	// calls a protected route without a token is not malformed, it is
	// unauthenticated, and the 401 it gets is checked as a response.
	v, errs := validator.NewValidator(d, config.WithoutSecurityValidation(), config.WithURLEncodedBodyValidation())
	if len(errs) > 0 {
		return nil, fmt.Errorf("apitest: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("apitest: the description is not valid OpenAPI: %s", describe(verrs))
	}
	s := &Spec{v: v, generic: map[int][]string{404: {"not_found"}, 405: {"method_not_allowed"}}}
	if err := s.index(doc); err != nil {
		return nil, err
	}
	parsed[key] = s
	return s, nil
}

// MustParse is Parse for test set-up.
func MustParse(doc []byte) *Spec {
	s, err := Parse(doc)
	if err != nil {
		panic(err)
	}
	return s
}

func (r *route) name() string { return r.method + " /" + strings.Join(r.segments, "/") }

// Operations lists "METHOD /path" for every operation of the description,
// with OpenAPI's path templates.
func (s *Spec) Operations() []string {
	var out []string
	for i := range s.routes {
		out = append(out, s.routes[i].name())
	}
	sort.Strings(out)
	return out
}

// index reads the paths of doc with plain JSON, resolving the $refs our
// description uses (to components), to know each response's codes.
func (s *Spec) index(doc []byte) error {
	var root map[string]any
	if err := json.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("apitest: %w", err)
	}
	resolve := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		for i := 0; m != nil && i < 8; i++ {
			ref, ok := m["$ref"].(string)
			if !ok {
				break
			}
			m = lookup(root, ref)
		}
		return m
	}
	paths, _ := root["paths"].(map[string]any)
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			o, ok := op.(map[string]any)
			if !ok || strings.HasPrefix(method, "x-") || method == "parameters" {
				continue
			}
			r := route{method: strings.ToUpper(method), segments: strings.Split(strings.TrimPrefix(p, "/"), "/"), codes: map[int][]string{}}
			responses, _ := o["responses"].(map[string]any)
			for st, resp := range responses {
				status, err := strconv.Atoi(st)
				if err != nil {
					return fmt.Errorf("apitest: %s %s: response %q is not a status", r.method, p, st)
				}
				content, _ := resolve(resp)["content"].(map[string]any)
				pj, ok := content["application/problem+json"].(map[string]any)
				if !ok {
					continue
				}
				codes := codesOf(resolve, resolve(pj["schema"]))
				if len(codes) == 0 {
					return fmt.Errorf("apitest: %s %s %d: a problem response must list its codes (an enum on code)", r.method, p, status)
				}
				r.codes[status] = codes
			}
			s.routes = append(s.routes, r)
		}
	}
	return nil
}

// codesOf finds the enum of the code property in a schema or its allOf.
func codesOf(resolve func(any) map[string]any, schema map[string]any) []string {
	if schema == nil {
		return nil
	}
	if props, ok := schema["properties"].(map[string]any); ok {
		if code, ok := props["code"].(map[string]any); ok {
			if enum, ok := code["enum"].([]any); ok {
				out := make([]string, 0, len(enum))
				for _, e := range enum {
					out = append(out, fmt.Sprint(e))
				}
				return out
			}
		}
	}
	all, _ := schema["allOf"].([]any)
	for _, sub := range all {
		if c := codesOf(resolve, resolve(sub)); c != nil {
			return c
		}
	}
	return nil
}

func lookup(root map[string]any, ref string) map[string]any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	m, _ := cur.(map[string]any)
	return m
}

// match returns the operation of method and path, and whether the path
// exists at all (for any method). A literal segment beats a template.
func (s *Spec) match(method, path string) (r *route, pathKnown bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	best := -1
	for i := range s.routes {
		c := &s.routes[i]
		if len(c.segments) != len(segs) {
			continue
		}
		literal, ok := 0, true
		for j, seg := range c.segments {
			if strings.HasPrefix(seg, "{") {
				if segs[j] == "" {
					ok = false
				}
				continue
			}
			if seg != segs[j] {
				ok = false
				break
			}
			literal++
		}
		if !ok {
			continue
		}
		pathKnown = true
		if c.method == method && literal > best {
			best, r = literal, c
		}
	}
	return r, pathKnown
}
