package db

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// fileLocker is a goose SessionLocker for SQLite: an exclusive flock(2) on a
// file beside the database, so two processes starting on the same file apply
// migrations one after the other instead of both creating the same tables.
type fileLocker struct {
	path string
}

var fileLocks sync.Map // path -> *os.File held by this process

// SessionLock blocks until the lock file is held or ctx ends.
func (l fileLocker) SessionLock(ctx context.Context, _ *sql.Conn) error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return fmt.Errorf("migration lock: %w", err)
		}
		fileLocks.Store(l.path, f)
		return nil
	case <-ctx.Done():
		f.Close() // releases the lock if the goroutine got it after all
		return ctx.Err()
	}
}

// SessionUnlock releases the lock taken by SessionLock.
func (l fileLocker) SessionUnlock(_ context.Context, _ *sql.Conn) error {
	v, ok := fileLocks.LoadAndDelete(l.path)
	if !ok {
		return nil
	}
	return v.(*os.File).Close()
}
