package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"idp/verifier"
)

// server is the MCP endpoint.
type server struct {
	maxBody int64
}

// newServer serves the MCP endpoint at the resource URL's path behind v's
// middleware, which answers requests without a valid token with 401 and
// the metadata's URL (RFC 9728 §5.1), and the RFC 9728 document itself at
// its well-known path (§3.1). v must have been built with Config.Resource.
func newServer(v *verifier.Verifier) (http.Handler, error) {
	md := v.ResourceMetadata()
	md.ScopesSupported = []string{"openid"}
	md.ResourceName = "idp's example MCP server"
	meta, err := verifier.NewMetadataHandler(md)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(md.Resource)
	if err != nil {
		return nil, err
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	s := &server{maxBody: 1 << 20}
	mux := http.NewServeMux()
	mux.Handle(meta.Path(), meta)
	mux.Handle(path, v.Middleware(http.HandlerFunc(s.mcp)))
	return mux, nil
}

// rpc is one JSON-RPC 2.0 message.
type rpc struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// mcp is the Streamable HTTP endpoint: a JSON-RPC request in, its answer
// out as JSON (no server-initiated stream: GET is 405). Only requests with
// a valid token get here.
func (s *server) mcp(w http.ResponseWriter, r *http.Request) {
	claims, _ := verifier.ClaimsFrom(r.Context()) // set by the middleware
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
