package users

import (
	"context"
	"fmt"
	"strings"

	"idp/db"
)

// Search returns up to limit users whose email or name contains q,
// ignoring case, skipping the first offset matches, in the order of List
// (lower(email), then id: the same on SQLite and PostgreSQL, and total, so
// pages neither repeat nor skip a user while nobody is added), and the
// number of matches in all. An empty q matches everyone.
//
// q is matched literally: % and _ (LIKE's wildcards) and the escape
// character itself are escaped. Both sides go through the database's
// lower(): PostgreSQL folds every letter, SQLite only A–Z, so on SQLite a
// non-ASCII letter matches only in the same case.
func (s *Store) Search(ctx context.Context, q string, offset, limit int) ([]User, int64, error) {
	tx := db.Conn(ctx, s.g).Model(&userRow{})
	if q != "" {
		pat := "%" + likeEscaper.Replace(q) + "%"
		tx = tx.Where(`lower(email) LIKE lower(?) ESCAPE '\' OR lower(name) LIKE lower(?) ESCAPE '\'`, pat, pat)
	}
	var total int64
	if err := tx.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("search users: %w", db.Map(err))
	}
	var rows []userRow
	if err := tx.Order("lower(email), id").Offset(max(offset, 0)).Limit(limit).Find(&rows).Error; err != nil {
		return nil, 0, fmt.Errorf("search users: %w", db.Map(err))
	}
	out := make([]User, 0, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, 0, fmt.Errorf("search users: %w", err)
		}
		out = append(out, *u)
	}
	return out, total, nil
}

// likeEscaper escapes LIKE's wildcards and its escape character, so a
// pattern built from a query matches the query's characters only.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
