package plumbing

import (
	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/db"
)

// ActAs puts who is acting into the request's context, so the audit
// records of everything below (tokens, keys) name them.
func (s *Site) ActAs(c echo.Context, name, via string) {
	ctx := audit.WithActor(c.Request().Context(), audit.Actor{Name: name, Via: via, IP: c.RealIP()})
	c.SetRequest(c.Request().WithContext(ctx))
}

// Record appends an audit event by the request's actor.
func (s *Site) Record(c echo.Context, action, target, detail string) {
	s.Audit.Record(c.Request().Context(), action, target, detail)
}

// RecordAs appends an audit event by a named web actor.
func (s *Site) RecordAs(c echo.Context, actor, action, target, detail string) {
	s.ActAs(c, db.Clip(actor, 254), audit.ViaWeb)
	s.Record(c, action, target, detail)
}
