package adminhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
)

// APIUsers lists one page of users (GET /api/admin/users?q=&offset=&limit=):
// q filters by email or name (a substring, ignoring case); the response
// keeps "users" and adds total, offset, limit and next_offset (absent on
// the last page).
func (h *Handlers) APIUsers(c echo.Context) error {
	offset, err1 := intParam(c, "offset")
	limit, err2 := intParam(c, "limit")
	if err := errors.Join(err1, err2); err != nil {
		return apiError(http.StatusBadRequest, "invalid_request", "offset and limit must be whole numbers")
	}
	p, err := h.admin.SearchUsers(c.Request().Context(), admin.UserQuery{Q: c.QueryParam("q"), Offset: offset, Limit: limit})
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	out := map[string]any{"users": p.Users, "total": p.Total, "offset": p.Offset, "limit": p.Limit}
	if n := p.Next(); n >= 0 {
		out["next_offset"] = n
	}
	return c.JSON(http.StatusOK, out)
}

// intParam reads an optional whole-number query parameter.
func intParam(c echo.Context, name string) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	return strconv.Atoi(v)
}

// APIUserLock says whether a user's account is throttled now.
func (h *Handlers) APIUserLock(c echo.Context) error {
	l, err := h.admin.UserLock(c.Request().Context(), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, l)
}

// APISetPassword replaces a user's password from {"password": "…"}.
func (h *Handlers) APISetPassword(c echo.Context) error {
	var body struct {
		Password string `json:"password"`
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Password == "" {
		return apiError(http.StatusBadRequest, "invalid_request", "the body must be JSON like {\"password\": \"…\"}")
	}
	if err := h.admin.SetUserPassword(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")}, body.Password); err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// APIEndSession ends one of a user's sessions.
func (h *Handlers) APIEndSession(c echo.Context) error {
	err := h.admin.EndSession(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")}, c.Param("sid"))
	if err != nil {
		return apiFail(err, "no such user or live session of theirs", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// APIRevokeGrant revokes one of a user's offline grants.
func (h *Handlers) APIRevokeGrant(c echo.Context) error {
	err := h.admin.RevokeGrant(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")}, c.Param("gid"))
	if err != nil {
		return apiFail(err, "no such user or live grant of theirs", "conflict")
	}
	return c.NoContent(http.StatusNoContent)
}

// APISignOut ends every session and grant of a user ({"sessions": N,
// "grants": M}).
func (h *Handlers) APISignOut(c echo.Context) error {
	ended, err := h.admin.EndAccess(c.Request().Context(), actor(c), admin.UserRef{ID: c.Param("id")})
	if err != nil {
		return apiFail(err, "no such user", "conflict")
	}
	return c.JSON(http.StatusOK, ended)
}

// APIAudit lists audit events, newest first (GET /api/admin/audit), filtered
// by actor, subject (the target), kind (an action prefix) and from/to
// (RFC 3339), paged by the older/newer cursors of the previous answer;
// before (RFC 3339) is the older form of to. With format=jsonl the whole
// filtered log streams as JSON lines instead.
func (h *Handlers) APIAudit(c echo.Context) error {
	q, err := auditQuery(c)
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	switch c.QueryParam("format") {
	case "", "json":
	case "jsonl":
		if err := h.exportAudit(c, q, false); err != nil {
			return apiFail(err, "", "conflict")
		}
		return nil
	default:
		return apiError(http.StatusBadRequest, "invalid_request", "format must be json or jsonl")
	}
	page, err := h.admin.AuditEvents(c.Request().Context(), q)
	if err != nil {
		return apiFail(err, "", "conflict")
	}
	return c.JSON(http.StatusOK, page)
}

// auditQuery reads the audit filters of the page, the export and the API;
// a value it cannot read is *admin.InvalidError. Times are RFC 3339, or a UTC date and time as a datetime-local field
// sends it ("2026-12-03T14:05").
func auditQuery(c echo.Context) (admin.AuditQuery, error) {
	q := admin.AuditQuery{Actor: c.QueryParam("actor"), Subject: c.QueryParam("subject"), Kind: c.QueryParam("kind"),
		Older: c.QueryParam("older"), Newer: c.QueryParam("newer")}
	var errs []error
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}, {"before", nil}} {
		v := c.QueryParam(p.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			errs = append(errs, errors.New(p.name+" must be a time like 2026-12-03T14:05:00Z"))
			continue
		}
		if p.dst == nil { // before: the older name of to
			if q.To.IsZero() || t.Before(q.To) {
				q.To = t
			}
			continue
		}
		*p.dst = t
	}
	limit, err := intParam(c, "limit")
	if err != nil {
		errs = append(errs, errors.New("limit must be a whole number"))
	}
	q.Limit = limit
	if len(errs) > 0 {
		return q, &admin.InvalidError{Reason: errors.Join(errs...).Error()}
	}
	return q, nil
}

// parseTime reads RFC 3339, or a date and time without a zone taken as
// UTC.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

// exportAudit streams the events q selects as JSON lines
// (application/x-ndjson), one event view per line, flushed as it goes. A
// failure before the first line is an ordinary error; after it the
// stream just ends, and the log says why.
func (h *Handlers) exportAudit(c echo.Context, q admin.AuditQuery, download bool) error {
	ctx := c.Request().Context()
	// Check the filter before any byte is written.
	if _, err := h.admin.AuditEvents(ctx, admin.AuditQuery{Actor: q.Actor, Subject: q.Subject, Kind: q.Kind,
		From: q.From, To: q.To, Limit: 1}); err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	res.Header().Set("Cache-Control", "no-store")
	if download {
		res.Header().Set("Content-Disposition", `attachment; filename="idp-audit.jsonl"`)
	}
	res.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(res)
	n := 0
	err := h.admin.ExportAudit(ctx, q, func(e admin.Event) error {
		if err := enc.Encode(e); err != nil {
			return err
		}
		if n++; n%100 == 0 {
			res.Flush()
		}
		return nil
	})
	res.Flush()
	if err != nil {
		h.site.Log.Warn("audit export stopped", "error", err.Error(), "events", n)
	}
	return nil
}
