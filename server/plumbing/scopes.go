package plumbing

import (
	"slices"

	"idp/oauth"
	"idp/users"
)

// GrantableScopes is scopes less what user may not be granted: idp:admin
// goes only to admins; for anyone else it is dropped, and the token's
// scope says what was granted (RFC 6749 §3.3). The consent page (what it
// shows and remembers) and the protocol side (what the code carries) both
// ask here, so they cannot disagree.
func GrantableScopes(user *users.User, scopes []string) []string {
	if user.HasRole("admin") {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc == oauth.ScopeAdmin })
}
