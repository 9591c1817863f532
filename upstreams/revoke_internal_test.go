package upstreams

import (
	"bytes"
	"context"
	"testing"
)

// TestDrain: Drain waits for the give-backs still running, but only until
// its context ends, so a hanging upstream cannot hold up a shutdown.
func TestDrain(t *testing.T) {
	s := NewService(nil, nil, Config{SealKey: bytes.Repeat([]byte{7}, 32)})
	release := make(chan struct{})
	s.background.Go(func() { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s.Drain(ctx) {
		t.Fatal("Drain reported done while a give-back was still running")
	}
	close(release)
	if !s.Drain(context.Background()) {
		t.Fatal("Drain did not report the give-back done")
	}
}
