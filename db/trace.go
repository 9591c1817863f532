package db

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// A span per statement, child of the request's: the operation and the
// table, never the SQL's arguments (they hold hashes, emails, sealed
// keys). A no-op unless tracing is configured.

var tracer = otel.Tracer("idp/db")

const spanKey = "idp:span"

// traceCallbacks registers the spans around every kind of GORM statement.
func traceCallbacks(g *gorm.DB, system string) error {
	cb := g.Callback()
	for _, op := range []struct {
		name     string
		before   func(string, func(*gorm.DB)) error
		after    func(string, func(*gorm.DB)) error
		callback string
	}{
		{"insert", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register, "create"},
		{"select", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register, "query"},
		{"update", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register, "update"},
		{"delete", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register, "delete"},
		{"row", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register, "row"},
		{"raw", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register, "raw"},
	} {
		opName := op.name
		if err := op.before("idp:trace_before_"+op.callback, func(tx *gorm.DB) {
			ctx := tx.Statement.Context
			if ctx == nil || !trace.SpanFromContext(ctx).SpanContext().IsValid() {
				return // only statements inside a traced request
			}
			ctx, span := tracer.Start(ctx, "db "+opName, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.operation.name", opName)))
			tx.Statement.Context = ctx
			tx.InstanceSet(spanKey, span)
		}); err != nil {
			return err
		}
		if err := op.after("idp:trace_after_"+op.callback, func(tx *gorm.DB) {
			v, ok := tx.InstanceGet(spanKey)
			if !ok {
				return
			}
			span := v.(trace.Span)
			if t := tx.Statement.Table; t != "" {
				span.SetName("db " + opName + " " + t)
				span.SetAttributes(attribute.String("db.collection.name", t))
			}
			if tx.Error != nil && !errors.Is(tx.Error, gorm.ErrRecordNotFound) {
				span.SetStatus(codes.Error, "statement failed")
			}
			span.End()
		}); err != nil {
			return err
		}
	}
	return nil
}

// rawSpan opens the span of a statement run by Exec or QueryRow, named
// after its verb.
func rawSpan(ctx context.Context, d gorm.Dialector, query string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).SpanContext().IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	verb := query
	for i, r := range query {
		if r == ' ' || r == '\n' || r == '\t' {
			verb = query[:i]
			break
		}
	}
	system := "sqlite"
	if d.Name() == "postgres" {
		system = "postgresql"
	}
	return tracer.Start(ctx, "db "+verb, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.operation.name", verb)))
}
