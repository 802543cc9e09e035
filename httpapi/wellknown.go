package httpapi

import (
	"net/http"
)

func (a *api) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short caching: a rotated key must reach verifiers within minutes,
	// and they refetch on an unknown kid anyway.
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(a.jwks())
}

// metadata is the RFC 8414 authorization server metadata.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
}

func (a *api) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, metadata{
		Issuer:                 a.issuer,
		TokenEndpoint:          a.issuer + "/api/auth/token",
		RevocationEndpoint:     a.issuer + "/api/auth/revoke",
		JWKSURI:                a.issuer + "/.well-known/jwks.json",
		ResponseTypesSupported: []string{}, // no authorization endpoint
		GrantTypesSupported:    []string{"password", "refresh_token", "client_credentials"},
		// Users' apps are public clients (none); service clients
		// authenticate with their secret (RFC 6749 §2.3.1).
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethods:     []string{"none"},
		IntrospectionEndpoint:             a.issuer + "/api/auth/introspect",
		IntrospectionEndpointAuthMethods:  []string{"client_secret_basic", "client_secret_post"},
	})
}
