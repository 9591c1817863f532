package mfa

import (
	"slices"
	"strings"
)

// Authentication method references (RFC 8176 §2) that idp records.
const (
	// AMRPassword: the user's password.
	AMRPassword = "pwd"
	// AMROTP: a one-time password, from an authenticator app or a recovery
	// code.
	AMROTP = "otp"
	// AMRHardwareKey: proof of possession of a device-bound key (a passkey
	// that cannot leave its authenticator).
	AMRHardwareKey = "hwk"
	// AMRSoftwareKey: proof of possession of a key that can be backed up or
	// synced (a synced passkey).
	AMRSoftwareKey = "swk"
	// AMRUser: the authenticator verified the user (PIN or biometric).
	AMRUser = "user"
	// AMRMFA: two or more distinct factors.
	AMRMFA = "mfa"
)

// ACR values idp issues and honours in acr_values, weakest first.
const (
	// ACRPassword: one factor (a password).
	ACRPassword = "urn:idp:acr:pwd"
	// ACRMFA: two factors, or a passkey with user verification.
	ACRMFA = "urn:idp:acr:mfa"
	// ACRPhishingResistant: a passkey was part of the sign-in (the value of
	// OpenID's EAP ACR Values 1.0).
	ACRPhishingResistant = "phr"
)

// ACRValuesSupported is the discovery list, weakest first.
var ACRValuesSupported = []string{ACRPassword, ACRMFA, ACRPhishingResistant}

// Level orders the ACR values: a session of a level satisfies every
// value of that level or below.
type Level int

// The levels of the ACR values.
const (
	LevelNone Level = iota
	LevelPassword
	LevelMFA
	LevelPhishingResistant
)

// LevelOf returns the level of an ACR value; unknown values are
// LevelNone (acr_values is a voluntary claim: values idp does not issue
// are ignored, OIDC Core §5.5.1.1).
func LevelOf(acr string) Level {
	switch acr {
	case ACRPassword:
		return LevelPassword
	case ACRMFA:
		return LevelMFA
	case ACRPhishingResistant:
		return LevelPhishingResistant
	}
	return LevelNone
}

// ACR returns the value of a level.
func (l Level) ACR() string {
	switch l {
	case LevelPhishingResistant:
		return ACRPhishingResistant
	case LevelMFA:
		return ACRMFA
	case LevelPassword:
		return ACRPassword
	}
	return ""
}

// Assurance returns the level that a sign-in by the methods amr reached.
func Assurance(amr []string) Level {
	switch {
	case len(amr) == 0:
		return LevelNone
	case (slices.Contains(amr, AMRHardwareKey) || slices.Contains(amr, AMRSoftwareKey)) && slices.Contains(amr, AMRMFA):
		return LevelPhishingResistant
	case slices.Contains(amr, AMRMFA):
		return LevelMFA
	}
	return LevelPassword
}

// factor names the kind of factor an amr value proves: something the user
// knows, has, or is (the authenticator's user verification stands for
// the last two of a passkey's PIN or biometric).
func factor(m string) string {
	switch m {
	case AMRPassword:
		return "know"
	case AMROTP, AMRHardwareKey, AMRSoftwareKey:
		return "have"
	case AMRUser:
		return "verified"
	}
	return ""
}

// Combine returns amr with the methods more added, in a stable order, and
// mfa exactly when two distinct kinds of factor are among them.
func Combine(amr []string, more ...string) []string {
	var out []string
	kinds := map[string]bool{}
	for _, m := range append(slices.Clone(amr), more...) {
		if m == AMRMFA || m == "" || slices.Contains(out, m) {
			continue
		}
		out = append(out, m)
		if k := factor(m); k != "" {
			kinds[k] = true
		}
	}
	order := []string{AMRPassword, AMROTP, AMRHardwareKey, AMRSoftwareKey, AMRUser}
	slices.SortStableFunc(out, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	if len(kinds) >= 2 {
		out = append(out, AMRMFA)
	}
	return out
}

// Required is the level an authorization needs: the weakest of the
// requested acr_values idp knows (any of them satisfies the request), at
// least mfa when the client or the user's role demands a second factor.
func Required(acrValues []string, demandMFA bool) Level {
	need := LevelNone
	for _, v := range acrValues {
		if l := LevelOf(v); l != LevelNone && (need == LevelNone || l < need) {
			need = l
		}
	}
	if demandMFA && need < LevelMFA {
		need = LevelMFA
	}
	return need
}

// IssuedACR is the acr claim of a sign-in at level have: the first of the
// requested acr_values (in the client's order of preference) that it
// satisfies, else the level's own value.
func IssuedACR(acrValues []string, have Level) string {
	for _, v := range acrValues {
		if l := LevelOf(v); l != LevelNone && l <= have {
			return v
		}
	}
	return have.ACR()
}

// ParseACRValues splits acr_values (space-separated, OIDC Core §3.1.2.1).
func ParseACRValues(raw string) []string { return strings.Fields(raw) }

// RoleDemands reports whether any of roles is one of the roles that must
// use a second factor.
func RoleDemands(required, roles []string) bool {
	for _, r := range roles {
		if slices.Contains(required, r) {
			return true
		}
	}
	return false
}
