package db

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// ErrNotFound is returned by stores when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by stores when a unique constraint refused a write
// or a conditional update matched no row (someone else got there first).
var ErrConflict = errors.New("conflict")

type txKey struct{}

// Tx runs fn inside one transaction carried in the context it is given, so
// stores of different packages join the same atomic unit through Conn
// without passing *gorm.DB around. A Tx inside a Tx joins the outer one.
// fn's error rolls everything back.
func Tx(ctx context.Context, g *gorm.DB, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}

// Conn returns the transaction carried by ctx, or g bound to ctx.
func Conn(ctx context.Context, g *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return g.WithContext(ctx)
}

// Map translates GORM and driver errors into ErrNotFound and ErrConflict.
// Other errors pass through unchanged.
func Map(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	}
	return err
}
