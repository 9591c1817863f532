package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"idp/verifier"
)

// server is the MCP endpoint and its protected-resource metadata.
type server struct {
	v                 *verifier.Verifier
	issuer, resource  string
	metadataURL, path string
	maxBody           int64
}

func newServer(v *verifier.Verifier, issuer, resource string) (http.Handler, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("--resource must be an absolute URL, not %q", resource)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	s := &server{v: v, issuer: issuer, resource: resource, path: path, maxBody: 1 << 20,
		// RFC 9728 §3.1: the well-known segment goes between host and path.
		metadataURL: u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource" + strings.TrimSuffix(path, "/")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-protected-resource"+strings.TrimSuffix(path, "/"), s.metadata)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", s.metadata)
	mux.HandleFunc(path, s.mcp)
	return mux, nil
}

// metadata is the RFC 9728 §2 document.
func (s *server) metadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"resource":                 s.resource,
		"authorization_servers":    []string{s.issuer},
		"bearer_methods_supported": []string{"header"},
		"scopes_supported":         []string{"openid"},
		"resource_name":            "idp's example MCP server",
	})
}

// challenge is RFC 9728 §5.1's 401: where the metadata is, and what was
// wrong with the token, if one came.
func (s *server) challenge(w http.ResponseWriter, tokenSent bool) {
	c := `Bearer resource_metadata="` + s.metadataURL + `"`
	if tokenSent {
		c += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", c)
	http.Error(w, "authorization required", http.StatusUnauthorized)
}

// rpc is one JSON-RPC 2.0 message.
type rpc struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// mcp is the Streamable HTTP endpoint: a JSON-RPC request in, its answer
// out as JSON (no server-initiated stream: GET is 405).
func (s *server) mcp(w http.ResponseWriter, r *http.Request) {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if raw == "" || raw == r.Header.Get("Authorization") {
		s.challenge(w, raw != "")
		return
	}
	claims, err := s.v.VerifyAccessToken(r.Context(), raw)
	if err != nil {
		s.challenge(w, true)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "this server sends no event stream", http.StatusMethodNotAllowed)
		return
	}
	var msg rpc
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.maxBody)).Decode(&msg); err != nil || msg.JSONRPC != "2.0" {
		reply(w, nil, nil, &rpcError{Code: -32700, Message: "not a JSON-RPC 2.0 message"})
		return
	}
	if len(msg.ID) == 0 { // a notification (notifications/initialized): nothing to answer
		w.WriteHeader(http.StatusAccepted)
		return
	}
	result, rerr := s.call(msg, claims)
	reply(w, msg.ID, result, rerr)
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func reply(w http.ResponseWriter, id json.RawMessage, result any, e *rpcError) {
	w.Header().Set("Content-Type", "application/json")
	out := map[string]any{"jsonrpc": "2.0", "id": id}
	if id == nil {
		out["id"] = nil
	}
	if e != nil {
		out["error"] = e
	} else {
		out["result"] = result
	}
	_ = json.NewEncoder(w).Encode(out)
}

// call answers the methods this server knows: initialize, ping and one
// tool, whoami, which says who the token is for.
func (s *server) call(m rpc, c *verifier.AccessClaims) (any, *rpcError) {
	switch m.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if p.ProtocolVersion == "" {
			p.ProtocolVersion = "2025-06-18"
		}
		return map[string]any{"protocolVersion": p.ProtocolVersion, "capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo": map[string]any{"name": "idp-example-mcp", "version": "1.0.0"}}, nil
	case "ping":
		return map[string]any{}, nil
	case "tools/list":
		return map[string]any{"tools": []any{map[string]any{"name": "whoami", "description": "Who the access token was issued for",
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{}}}}}, nil
	case "tools/call":
		var p struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(m.Params, &p); err != nil || p.Name != "whoami" {
			return nil, &rpcError{Code: -32602, Message: "unknown tool"}
		}
		text := fmt.Sprintf("sub=%s client_id=%s aud=%s scope=%s", c.Subject, c.ClientID, strings.Join(c.Audience, ","), c.Scope)
		return map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}}, nil
	}
	return nil, &rpcError{Code: -32601, Message: "method not found: " + m.Method}
}
