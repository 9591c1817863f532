package tokens

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRefresh measures one refresh_token rotation in the store:
// loading the token and its family, the user, two ES256 signatures, sealing
// the child and the claim+insert transaction. "chain" follows one rotation
// chain; "parallel" runs one chain per goroutine (GOMAXPROCS × -cpu), the
// shape of many clients refreshing at once. SQLite by default, PostgreSQL
// with IDP_TEST_POSTGRES.
func BenchmarkRefresh(b *testing.B) {
	b.Run("chain", func(b *testing.B) {
		e := newRefreshEnv(b, Config{ReuseGrace: time.Minute, RefreshIdleTTL: time.Hour, RefreshTokenTTL: 24 * time.Hour})
		tok := e.family(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			resp, err := e.s.Refresh(ctx, e.client, tok, "", nil, Meta{IP: "127.0.0.1", UserAgent: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			tok = resp.RefreshToken
		}
	})
	for _, par := range []int{1, 32} {
		b.Run(fmt.Sprintf("parallel-x%d", par), func(b *testing.B) { benchRefreshParallel(b, par) })
	}
}

// benchRefreshParallel runs par × GOMAXPROCS chains at once.
func benchRefreshParallel(b *testing.B, par int) {
	{
		e := newRefreshEnv(b, Config{ReuseGrace: time.Minute, RefreshIdleTTL: time.Hour, RefreshTokenTTL: 24 * time.Hour})
		ctx := context.Background()
		var failed atomic.Value
		b.ReportAllocs()
		b.SetParallelism(par)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			tok := e.family(b)
			for pb.Next() {
				resp, err := e.s.Refresh(ctx, e.client, tok, "", nil, Meta{IP: "127.0.0.1", UserAgent: "bench"})
				if err != nil {
					failed.Store(err)
					return
				}
				tok = resp.RefreshToken
			}
		})
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
}
