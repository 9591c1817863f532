package dbtest

import "sync"

// Race runs fn(0) … fn(n-1) on n goroutines released together, so they
// really contend for the same rows, and returns their errors by index: the
// race half of every "exactly one wins" store contract.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { <-start; errs[i] = fn(i) })
	}
	close(start)
	wg.Wait()
	return errs
}
