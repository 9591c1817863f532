package server

import (
	"github.com/labstack/echo/v4"

	"idp/audit"
	"idp/db"
)

// actAs puts who is acting into the request's context, so the audit
// records of everything below (tokens, keys) name them.
func (s *Server) actAs(c echo.Context, name, via string) {
	ctx := audit.WithActor(c.Request().Context(), audit.Actor{Name: name, Via: via, IP: c.RealIP()})
	c.SetRequest(c.Request().WithContext(ctx))
}

// record appends an audit event by the request's actor.
func (s *Server) record(c echo.Context, action, target, detail string) {
	s.deps.Audit.Record(c.Request().Context(), action, target, detail)
}

// recordAs appends an audit event by a named web actor.
func (s *Server) recordAs(c echo.Context, actor, action, target, detail string) {
	s.actAs(c, db.Clip(actor, 254), audit.ViaWeb)
	s.record(c, action, target, detail)
}

// joinLines folds the lines of a joined error with "; ".
func joinLines(s string) string {
	out := []rune{}
	for _, r := range s {
		if r == '\n' {
			out = append(out, ';', ' ')
			continue
		}
		out = append(out, r)
	}
	return string(out)
}
