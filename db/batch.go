package db

import (
	"context"

	"gorm.io/gorm"
)

// DeleteBatch deletes at most limit rows of model's table whose key column
// is selected by where (with args), and reports how many went. Purges run
// in such batches so no write lock is held long enough to delay a request;
// the row limit sits in a subquery because neither SQLite (as built) nor
// PostgreSQL accepts DELETE … LIMIT.
func DeleteBatch(ctx context.Context, g *gorm.DB, model any, key string, limit int, where string, args ...any) (int64, error) {
	sub := Conn(ctx, g).Model(model).Select(key).Where(where, args...).Limit(limit)
	res := Conn(ctx, g).Where(key+" IN (?)", sub).Delete(model)
	return res.RowsAffected, Map(res.Error)
}
