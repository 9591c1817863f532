package upstreams

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ClaimMapping says which upstream claims become what in idp.
//
// Sub, Email, EmailVerified and Name name the upstream claim each idp
// field is read from; empty means the kind's default (DefaultClaims).
// A number is read as its decimal string (GitHub's numeric id as sub);
// email_verified must be true (or the string "true") to count.
//
// Roles come from RolesClaim only when it is set:
//
//   - RolesClaim names a claim holding a string or a list of strings
//     (e.g. "groups"); at each sign-in the user's roles become its values.
//   - RolesPrefix, when set, keeps only the values starting with it, with
//     the prefix removed ("idp-admin" becomes "admin" under "idp-").
//   - RequiredGroup, when set, refuses anybody whose RolesClaim does not
//     hold that exact value (before the prefix filter), before any account
//     is made or linked.
type ClaimMapping struct {
	Sub, Email, EmailVerified, Name string

	RolesClaim    string
	RolesPrefix   string
	RequiredGroup string
}

// Roles maps the RolesClaim of claims to idp roles; ok is false when no
// mapping is configured (the user's roles are then left alone).
func (m ClaimMapping) Roles(claims map[string]any) (roles []string, ok bool) {
	if m.RolesClaim == "" {
		return nil, false
	}
	for _, v := range claimStrings(claims[m.RolesClaim]) {
		if r, found := strings.CutPrefix(v, m.RolesPrefix); found && r != "" {
			roles = append(roles, r)
		}
	}
	return roles, true
}

// InGroup reports whether claims satisfy RequiredGroup.
func (m ClaimMapping) InGroup(claims map[string]any) bool {
	return m.RequiredGroup == "" || slices.Contains(claimStrings(claims[m.RolesClaim]), m.RequiredGroup)
}

// claimStrings reads a string or a JSON array of strings; anything else
// is no value.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// The idp fields a claim mapping may fill: --claim-mapping FIELD=CLAIM.
const (
	FieldSub           = "sub"
	FieldEmail         = "email"
	FieldEmailVerified = "email_verified"
	FieldName          = "name"
	FieldRoles         = "roles"
)

// MappingFields lists the fields ParseClaimMapping accepts.
var MappingFields = []string{FieldSub, FieldEmail, FieldEmailVerified, FieldName, FieldRoles}

// ParseClaimMapping reads FIELD=CLAIM entries, each of which may hold
// several separated by commas ("sub=id,email=mail"), into a map by field.
// An empty CLAIM ("name=") stands for the kind's default. An unknown
// field, an entry without "=", a claim with spaces and a field given
// twice are refused: a mapping that silently did something else would
// sign people in as the wrong user.
func ParseClaimMapping(entries ...string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, entry := range entries {
		for _, part := range strings.Split(entry, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			field, claim, ok := strings.Cut(part, "=")
			field, claim = strings.TrimSpace(field), strings.TrimSpace(claim)
			switch _, dup := out[field]; {
			case !ok:
				errs = append(errs, fmt.Errorf("claim mapping %q is not FIELD=CLAIM", part))
			case !slices.Contains(MappingFields, field):
				errs = append(errs, fmt.Errorf("claim mapping field %q is not one of %s", field, strings.Join(MappingFields, ", ")))
			case strings.ContainsAny(claim, " \t=\"'"):
				errs = append(errs, fmt.Errorf("claim mapping %q: %q is not a claim name", part, claim))
			case dup:
				errs = append(errs, fmt.Errorf("claim mapping field %q is given twice", field))
			default:
				out[field] = claim
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return out, nil
}

// Map sets the fields named in fields (as ParseClaimMapping returns
// them); roles sets RolesClaim.
func (m *ClaimMapping) Map(fields map[string]string) {
	for f, claim := range fields {
		switch f {
		case FieldSub:
			m.Sub = claim
		case FieldEmail:
			m.Email = claim
		case FieldEmailVerified:
			m.EmailVerified = claim
		case FieldName:
			m.Name = claim
		case FieldRoles:
			m.RolesClaim = claim
		}
	}
}

// fields are the non-default field mappings, without roles (which has
// its own column and flag): what the store keeps as JSON.
func (m ClaimMapping) fields() map[string]string {
	out := map[string]string{}
	for f, claim := range map[string]string{FieldSub: m.Sub, FieldEmail: m.Email, FieldEmailVerified: m.EmailVerified, FieldName: m.Name} {
		if claim != "" {
			out[f] = claim
		}
	}
	return out
}

// String is the mapping as --claim-mapping takes it, fields sorted, roles
// included: "email=mail,roles=groups,sub=id"; empty when all is default.
func (m ClaimMapping) String() string {
	f := m.fields()
	if m.RolesClaim != "" {
		f[FieldRoles] = m.RolesClaim
	}
	parts := make([]string, 0, len(f))
	for k, v := range f {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// DefaultClaims is the mapping of kind when none is configured: the
// standard claims (OIDC Core §5.1) for oidc and oauth2, GitHub's numeric
// id for github (never the login, which its owner can rename and someone
// else can then take). A plain OAuth 2.0 provider's email is not taken as
// verified unless email_verified is mapped: a provider that does not say
// so is not trusted to have checked it, so it never links by email.
func DefaultClaims(kind string) ClaimMapping {
	switch kind {
	case KindOAuth2:
		return ClaimMapping{Sub: "sub", Email: "email", Name: "name"}
	case KindGitHub:
		return ClaimMapping{Sub: "id", Email: "email", EmailVerified: "email_verified", Name: "name"}
	}
	return ClaimMapping{Sub: "sub", Email: "email", EmailVerified: "email_verified", Name: "name"}
}

// identity reads the upstream identity out of claims by m, falling back
// to kind's defaults field by field. The subject must be there: without
// it there is nothing stable to link, so the sign-in fails as the
// upstream's (or the mapping's) fault.
func (m ClaimMapping) identity(kind string, claims map[string]any) (*Identity, error) {
	def := DefaultClaims(kind)
	pick := func(configured, fallback string) string {
		if configured != "" {
			return configured
		}
		return fallback
	}
	subClaim := pick(m.Sub, def.Sub)
	sub, ok := claimString(claims[subClaim])
	if !ok || sub == "" {
		return nil, fmt.Errorf("%w: the upstream's claims have no usable %q for sub", ErrUnavailable, subClaim)
	}
	ident := &Identity{Subject: sub, Claims: claims}
	if kind == KindOIDC {
		ident.AMR = registeredAMR(claims["amr"])
	}
	ident.Email, _ = claimString(claims[pick(m.Email, def.Email)])
	ident.Name, _ = claimString(claims[pick(m.Name, def.Name)])
	if c := pick(m.EmailVerified, def.EmailVerified); c != "" {
		switch v := claims[c].(type) {
		case bool:
			ident.EmailVerified = v
		case string: // some providers (e.g. Amazon Cognito) send "true"
			ident.EmailVerified = v == "true"
		}
	}
	return ident, nil
}

// amrValues is the RFC 8176 §2 registry of authentication method
// reference values.
var amrValues = []string{"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
	"rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"}

// registeredAMR keeps the registered values of an amr claim, once each, in
// the upstream's order: a value idp's relying parties cannot interpret
// (or a hostile string) is not passed on to them.
func registeredAMR(v any) []string {
	var out []string
	for _, m := range claimStrings(v) {
		if slices.Contains(amrValues, m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// claimString reads a claim as a string: a string as it is, a number as
// its decimal digits (an integral float64, as encoding/json decodes into
// any, or a json.Number). Anything else (objects, lists, booleans, a
// fraction) is no value.
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		if _, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return v.String(), true
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}
