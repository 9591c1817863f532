// Package audit owns the audit log: sign-ins, consents, revocations,
// logouts, admin actions and key events, each with who, when, what, through
// which interface and from where. The actor travels in the context
// (WithActor), so packages deep in a call chain record events without
// being told who asked. It imports db only.
package audit
