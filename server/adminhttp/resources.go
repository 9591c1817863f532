package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/resources"
	"idp/templates"
)

// resourceURL is the page of a resource. A resource URI holds "/", ":"
// and maybe "?" or "%", so it travels as one path-escaped segment
// (resourceParam reads it back).
func resourceURL(uri string) string { return "/admin/resources/" + url.PathEscape(uri) }

// resourceParam is the resource URI of the path's :id. Echo routes on
// URL.RawPath when the request has one (the URI carried an escaped "/"
// or "?") and then hands the segment back escaped; otherwise it routes on
// the decoded URL.Path and hands it back decoded. Unescaping only in the
// first case decodes the segment exactly once, so a URI holding "%"
// round-trips too.
func resourceParam(c echo.Context) (string, error) {
	id := c.Param("id")
	if c.Request().URL.RawPath == "" {
		return id, nil
	}
	uri, err := url.PathUnescape(id)
	if err != nil {
		return "", echo.NewHTTPError(http.StatusNotFound)
	}
	return uri, nil
}

// ResourcesPage lists the resources, with the form that registers one.
func (h *Handlers) ResourcesPage(c echo.Context) error {
	return h.renderResources(c, http.StatusOK, templates.AdminResourcesPage{})
}

func (h *Handlers) renderResources(c echo.Context, status int, page templates.AdminResourcesPage) error {
	list, err := h.admin.Resources(c.Request().Context())
	if err != nil {
		return err
	}
	problem := page.Error
	page.AdminBase = h.adminBase(c, "resources", "Resources")
	page.Error = problem
	for _, r := range list {
		row := templates.AdminResource{URI: r.URI, Name: r.Name, URL: resourceURL(r.URI), Alg: r.SigningAlg,
			Scopes: strings.Join(r.Scopes, " "), Created: fmtTime(&r.Created), Introspects: r.Introspects}
		if r.AccessTokenTTL > 0 {
			row.Lifetime = templates.Duration(time.Duration(r.AccessTokenTTL) * time.Second)
		}
		page.Resources = append(page.Resources, row)
	}
	if page.NewSecret != "" {
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminResources(w, page) })
}

// maxTTLSeconds bounds a lifetime before it becomes a Duration, so the
// conversion cannot overflow; the resources package checks the real limits.
const maxTTLSeconds = 1 << 33

// ttlField reads a lifetime in whole seconds; empty is 0, the provider's.
func ttlField(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0 && n <= maxTTLSeconds
}

// CreateResource registers a resource and shows its generated
// introspection secret once, on the response page itself.
func (h *Handlers) CreateResource(c echo.Context) error {
	if err := c.Request().ParseForm(); err != nil {
		return h.renderResources(c, http.StatusBadRequest, templates.AdminResourcesPage{AdminBase: templates.AdminBase{Error: "The form is malformed."}})
	}
	f := c.Request().PostForm
	form := templates.AdminResourceForm{URI: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")),
		Scopes: strings.TrimSpace(f.Get("scopes")), Alg: f.Get("signing_alg"), Lifetime: strings.TrimSpace(f.Get("access_token_ttl")),
		NoSecret: f.Get("no_secret") == "1"}
	refused := func(status int, problem string) error {
		return h.renderResources(c, status, templates.AdminResourcesPage{AdminBase: templates.AdminBase{Error: problem}, Form: form})
	}
	ttl, ok := ttlField(form.Lifetime)
	if !ok {
		return refused(http.StatusBadRequest, "Not created: the access token lifetime must be a whole number of seconds.")
	}
	spec := resources.Spec{URI: form.URI, Name: form.Name, Scopes: strings.Fields(form.Scopes), SigningAlg: form.Alg,
		AccessTokenTTL: time.Duration(ttl) * time.Second, NoSecret: form.NoSecret}
	r, secret, err := h.admin.CreateResource(c.Request().Context(), actor(c), spec)
	var invalid *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return refused(http.StatusConflict, "Not created: a resource with that URI already exists.")
	case errors.As(err, &invalid):
		return refused(http.StatusBadRequest, "Not created: "+joinLines(err.Error()))
	case err != nil:
		return err
	}
	if secret == "" {
		return c.Redirect(http.StatusSeeOther, resourceURL(r.URI)+"?notice=resource-created")
	}
	return h.renderResources(c, http.StatusCreated, templates.AdminResourcesPage{NewURI: r.URI, NewSecret: secret})
}
