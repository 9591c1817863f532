// Package mail owns outbound mail: addresses and messages that cannot
// carry a header injection, the embedded plain-text and HTML templates,
// the senders (SMTP through go-mail, or the log for development) and the
// outbox, a queue in the database that any replica drains with retries
// and backoff, one sender per message.
//
// A queued row names a kind and a recipient, never a rendered body: the
// kind's Composer renders the message when it is sent, so secrets that go
// into a message (a link token) are never stored by this package.
//
// It imports only db among the project's packages; the flows that send
// mail (selfservice) register their composers.
package mail
