package verifier_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"idp/verifier"
)

// A relying service protecting its API: every request needs an idp access
// token issued for audience "orders-api"; writes also need scope
// "orders:write". Without an Output comment, go test compiles this example
// but does not run it.
func Example() {
	ctx := context.Background()
	v, err := verifier.New(ctx, verifier.Config{
		Issuer:   "https://idp.example.com", // exactly the tokens' iss
		Audience: "orders-api",              // the client id the tokens were issued to, or a resource
	})
	if err != nil {
		log.Fatal(err) // discovery or the JWKS could not be fetched
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verifier.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "orders of %s (roles %v)\n", claims.Subject, claims.Roles)
	})
	mux.Handle("POST /orders", v.RequireScope("orders:write", http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })))

	srv := &http.Server{Addr: ":8081", Handler: v.Middleware(mux), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// Where a resource publishes its metadata (RFC 9728 §3.1).
func ExampleMetadataURL() {
	for _, r := range []string{"https://api.example.com", "https://api.example.com/orders/"} {
		u, _ := verifier.MetadataURL(r)
		fmt.Println(u)
	}
	// Output:
	// https://api.example.com/.well-known/oauth-protected-resource
	// https://api.example.com/.well-known/oauth-protected-resource/orders
}
