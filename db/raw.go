package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Exec runs one statement, written with ? placeholders, on the transaction
// carried by ctx or else on g's pool, and reports the rows it affected.
// It skips GORM's statement building and reflection, for the few writes on
// a hot path (a refresh rotation); errors are translated like GORM's and
// mapped by Map. The statement must not contain a literal '?'.
func Exec(ctx context.Context, g *gorm.DB, query string, args ...any) (int64, error) {
	pool, dialector := conn(ctx, g)
	ctx, span := rawSpan(ctx, dialector, query)
	defer span.End()
	res, err := pool.ExecContext(ctx, rebind(dialector, query), args...)
	if err != nil {
		return 0, translate(dialector, err)
	}
	n, err := res.RowsAffected()
	return n, translate(dialector, err)
}

// QueryRow runs one single-row query like Exec. Pass its Scan error to
// ScanErr: no row becomes ErrNotFound.
func QueryRow(ctx context.Context, g *gorm.DB, query string, args ...any) *sql.Row {
	pool, dialector := conn(ctx, g)
	ctx, span := rawSpan(ctx, dialector, query)
	defer span.End()
	return pool.QueryRowContext(ctx, rebind(dialector, query), args...)
}

// ScanErr maps the error of a QueryRow's Scan: sql.ErrNoRows becomes
// ErrNotFound, the rest goes through Map.
func ScanErr(g *gorm.DB, err error) error {
	if err == sql.ErrNoRows {
		return ErrNotFound
	}
	return translate(g.Dialector, err)
}

// conn is Conn without building a GORM session: the transaction's
// connection, or the pool.
func conn(ctx context.Context, g *gorm.DB) (gorm.ConnPool, gorm.Dialector) {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.Statement.ConnPool, tx.Dialector
	}
	if g.Statement != nil && g.Statement.ConnPool != nil {
		return g.Statement.ConnPool, g.Dialector
	}
	return g.ConnPool, g.Dialector
}

func translate(d gorm.Dialector, err error) error {
	if err == nil {
		return nil
	}
	if t, ok := d.(gorm.ErrorTranslator); ok {
		err = t.Translate(err)
	}
	return Map(err)
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, …
func rebind(d gorm.Dialector, query string) string {
	if d.Name() != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
