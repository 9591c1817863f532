// Package selfservice owns the flows by which people look after their own
// accounts through mailed links, and the links themselves: a 256-bit
// token, stored only as its SHA-256, bound to one user and one purpose,
// short-lived, dead once used, replaced by a newer link and killed by any
// change of the user's password.
//
// Password reset: RequestReset queues a message whatever the address
// (the same single insert for a known or an unknown one, so neither the
// answer nor its timing tells them apart); the composer, run by the mail
// outbox when it sends, looks the address up and mints the link then, or
// drops the message. CompleteReset sets the new password through the
// users service (its policy), ends every session and refresh family of
// the user, and signs nobody in.
//
// Address verification and invitations work the same way: the account
// change (a new user, an invited user without a password) and its queued
// mail commit together, and the link is minted when the mail goes.
//
// It imports db and the domain packages it drives (users, sessions,
// tokens, mail); the server's pages are its adapters.
package selfservice
