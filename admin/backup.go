package admin

import (
	"context"
	"fmt"
	"os"
)

// Backup is a copy of the database that Backup wrote.
type Backup struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Backup writes a consistent copy of the (SQLite) database to path while
// the provider runs; on PostgreSQL it refuses with the pg_dump advice. The
// copy is useless without the master key, which the caller must keep with
// it. The backup itself is audited (after the copy, so not in it).
func (s *Service) Backup(ctx context.Context, actor Actor, path string) (Backup, error) {
	ctx = as(ctx, actor)
	if err := s.db.Backup(ctx, path); err != nil {
		return Backup{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Backup{}, fmt.Errorf("backup: %w", err)
	}
	s.record(ctx, "database.backup", path, fmt.Sprintf("bytes=%d", fi.Size()))
	return Backup{Path: path, Bytes: fi.Size()}, nil
}
