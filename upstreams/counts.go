package upstreams

import (
	"context"

	"idp/db"
)

// LinkCounts returns how many idp accounts are linked through each
// upstream, by upstream id (an upstream nobody has used is absent): what
// an admin weighs before deleting or narrowing one.
func (s *Store) LinkCounts(ctx context.Context) (map[string]int64, error) {
	var out []struct {
		UpstreamID string
		N          int64
	}
	err := db.Conn(ctx, s.gdb).Model(&linkRow{}).Select("upstream_id, count(*) AS n").Group("upstream_id").Scan(&out).Error
	m := make(map[string]int64, len(out))
	for _, r := range out {
		m[r.UpstreamID] = r.N
	}
	return m, db.Map(err)
}
