package adminhttp

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"idp/admin"
	"idp/clients"
	"idp/templates"
)

func clientURL(id string) string { return "/admin/clients/" + url.PathEscape(id) }

// clientOf finds the client of the path's id among the clients.
func (h *Handlers) clientOf(c echo.Context) (admin.Client, error) {
	list, err := h.admin.Clients(c.Request().Context())
	if err != nil {
		return admin.Client{}, err
	}
	for _, cl := range list {
		if cl.ID == c.Param("id") {
			return cl, nil
		}
	}
	return admin.Client{}, echo.NewHTTPError(http.StatusNotFound)
}

// ClientPage shows one client's registration as a form.
func (h *Handlers) ClientPage(c echo.Context) error {
	cl, err := h.clientOf(c)
	if err != nil {
		return err
	}
	return h.renderClient(c, http.StatusOK, cl, "", "")
}

func (h *Handlers) renderClient(c echo.Context, status int, cl admin.Client, problem, newSecret string) error {
	kind := "confidential"
	if cl.Public {
		kind = "public"
	}
	reg := map[string]string{clients.RegisteredOpen: "registered itself (open)",
		clients.RegisteredWithToken: "registered with a token"}[cl.Registration]
	// The form offers "either secret method", which the view shows as
	// client_secret_basic (RFC 7591's default name for it).
	stored, err := h.site.Clients.Store().ByID(c.Request().Context(), cl.ID)
	if err != nil {
		return err
	}
	cl.TokenEndpointAuthMethod = stored.TokenEndpointAuthMethod
	page := templates.AdminClientPage{AdminBase: h.adminBase(c, "clients", cl.ID), ID: cl.ID, Name: cl.Name, Type: kind,
		Registration: reg, Created: fmtTime(&cl.Created), Alg: cl.SigningAlg, Scopes: strings.Join(cl.Scopes, " "),
		LogoURI: cl.LogoURI, ClientURI: cl.ClientURI, PolicyURI: cl.PolicyURI, TOSURI: cl.TOSURI,
		ApplicationType: cl.ApplicationType, Contacts: strings.Join(cl.Contacts, "\n"),
		RedirectURIs: strings.Join(cl.RedirectURIs, "\n"), PostLogoutRedirectURIs: strings.Join(cl.PostLogoutRedirectURIs, "\n"),
		AuthMethodSetting: cl.TokenEndpointAuthMethod, DefaultMaxAge: cl.DefaultMaxAge, Public: cl.Public,
		Trusted: cl.Trusted, RequireMFA: cl.RequireMFA, RequireAuthTime: cl.RequireAuthTime, RequirePAR: cl.RequirePAR,
		RequireVerifiedEmail: cl.RequireVerifiedEmail,
		GrantCode:            slices.Contains(cl.GrantTypes, clients.GrantAuthorizationCode),
		GrantRefresh:         slices.Contains(cl.GrantTypes, clients.GrantRefreshToken),
		GrantCC:              slices.Contains(cl.GrantTypes, clients.GrantClientCredentials), NewSecret: newSecret,
		BackchannelLogoutURI: cl.BackchannelLogoutURI, BackchannelLogoutSessionRequired: cl.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI: cl.FrontchannelLogoutURI, FrontchannelLogoutSessionRequired: cl.FrontchannelLogoutSessionRequired}
	page.Error = problem
	if newSecret != "" {
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return h.renderAdmin(c, status, func(w io.Writer) error { return h.site.Templates.AdminClient(w, page) })
}

// UpdateClientForm saves the client page's form: every field of the form
// replaces the client's value.
func (h *Handlers) UpdateClientForm(c echo.Context) error {
	cl, err := h.clientOf(c)
	if err != nil {
		return err
	}
	if err := c.Request().ParseForm(); err != nil {
		return h.renderClient(c, http.StatusBadRequest, cl, "The form is malformed.", "")
	}
	f := c.Request().PostForm
	maxAge, err := strconv.Atoi(strings.TrimSpace(f.Get("default_max_age")))
	if err != nil && strings.TrimSpace(f.Get("default_max_age")) != "" {
		return h.renderClient(c, http.StatusBadRequest, cl, "Not saved: the default max age must be a whole number of seconds.", "")
	}
	str := func(k string) *string { v := strings.TrimSpace(f.Get(k)); return &v }
	list := func(v []string) *[]string { return &v }
	flag := func(k string) *bool { v := f.Get(k) == "1"; return &v }
	up := admin.ClientUpdate{Name: str("name"), RedirectURIs: list(lines(f.Get("redirect_uris"))),
		PostLogoutRedirectURIs: list(lines(f.Get("post_logout_redirect_uris"))), GrantTypes: list(f["grant_type"]),
		Scopes: list(strings.Fields(f.Get("scopes"))), SigningAlg: str("signing_alg"), Trusted: flag("trusted"),
		RequireMFA: flag("require_mfa"), RequireVerifiedEmail: flag("require_verified_email"), LogoURI: str("logo_uri"), ClientURI: str("client_uri"), PolicyURI: str("policy_uri"),
		TOSURI: str("tos_uri"), Contacts: list(lines(f.Get("contacts"))), ApplicationType: str("application_type"),
		DefaultMaxAge: &maxAge, RequireAuthTime: flag("require_auth_time"), RequirePAR: flag("require_pushed_authorization_requests"),
		BackchannelLogoutURI: str("backchannel_logout_uri"), BackchannelLogoutSessionRequired: flag("backchannel_logout_session_required"),
		FrontchannelLogoutURI: str("frontchannel_logout_uri"), FrontchannelLogoutSessionRequired: flag("frontchannel_logout_session_required")}
	if !cl.Public {
		up.TokenEndpointAuthMethod = str("token_endpoint_auth_method")
	}
	_, err = h.admin.UpdateClient(c.Request().Context(), actor(c), cl.ID, up)
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return h.renderClient(c, http.StatusBadRequest, cl, "Not saved: "+joinLines(err.Error()), "")
	case errors.Is(err, admin.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound)
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, clientURL(cl.ID)+"?notice=client-updated")
}

// RegenerateClientSecret replaces a confidential client's secret after a
// confirmation, and shows the new one once.
func (h *Handlers) RegenerateClientSecret(c echo.Context) error {
	cl, err := h.clientOf(c)
	if err != nil {
		return err
	}
	if c.FormValue("confirm") != "yes" {
		page := templates.AdminConfirmPage{AdminBase: h.adminBase(c, "clients", "Regenerate secret"),
			Heading: "Regenerate the secret of " + cl.ID + "?",
			Message: "The current secret stops working at once: the application fails to get tokens until it is given the new one.",
			Action:  clientURL(cl.ID) + "/secret", ConfirmLabel: "Regenerate secret", Danger: true, CancelURL: clientURL(cl.ID)}
		return h.renderAdmin(c, http.StatusOK, func(w io.Writer) error { return h.site.Templates.AdminConfirm(w, page) })
	}
	secret, err := h.admin.RegenerateClientSecret(c.Request().Context(), actor(c), cl.ID)
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return h.renderClient(c, http.StatusBadRequest, cl, "Not regenerated: "+joinLines(err.Error())+".", "")
	case err != nil:
		return err
	}
	return h.renderClient(c, http.StatusOK, cl, "", secret)
}

// CreateRegistrationToken makes an initial access token for the
// registration endpoint and shows it once on the clients page.
func (h *Handlers) CreateRegistrationToken(c echo.Context) error {
	hours, err := strconv.Atoi(strings.TrimSpace(c.FormValue("ttl_hours")))
	uses, uerr := strconv.Atoi(strings.TrimSpace(c.FormValue("uses")))
	if err != nil || uerr != nil || hours < 1 || hours > int(clients.MaxRegistrationTokenTTL/time.Hour) {
		return h.renderAdminClients(c, http.StatusBadRequest, "Not created: give the hours (1 to 8784) and the uses as whole numbers.", "", "")
	}
	token, t, err := h.admin.CreateRegistrationToken(c.Request().Context(), actor(c), time.Duration(hours)*time.Hour, uses)
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return h.renderAdminClients(c, http.StatusBadRequest, "Not created: "+joinLines(err.Error()), "", "")
	case err != nil:
		return err
	}
	c.Set(ctxRegistrationToken, templates.AdminRegistrationToken{Token: token, Uses: t.UsesLeft, Expires: fmtTime(&t.Expires)})
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.renderAdminClients(c, http.StatusCreated, "", "", "")
}

const ctxRegistrationToken = "admin_registration_token"
