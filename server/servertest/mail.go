package servertest

import (
	"context"
	"testing"

	"idp/app"
	"idp/db/dbtest"
	"idp/mail"
	"idp/mail/mailtest"
)

// NewWithMail starts a provider for t whose outbound mail goes to the
// test SMTP server srv (from idp@example.test). The outbox is drained by
// SendMail, not by a background loop, so a test decides when mail goes.
func NewWithMail(t testing.TB, srv *mailtest.Server, opts ...Option) *Env {
	t.Helper()
	d := dbtest.Open(t)
	clock, mk := newClock(), newMasterKey()
	front := newLateServer(t)
	e, err := build(d, config(front.URL, clock, mk, opts), clock, mk, mailConfig(t, srv))
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	front.set(e.Server)
	e.URL, e.HTTP = front.URL, front.Server
	return e
}

// NewClusterWithMail is NewCluster with every replica mailing to srv.
func NewClusterWithMail(t testing.TB, n int, srv *mailtest.Server, opts ...Option) *Cluster {
	t.Helper()
	return newCluster(t, n, mailConfig(t, srv), opts)
}

// mailConfig sends to srv, trusting its certificate.
func mailConfig(t testing.TB, srv *mailtest.Server) app.MailConfig {
	t.Helper()
	from, err := mail.ParseAddress("idp <idp@example.test>")
	if err != nil {
		t.Fatal(err)
	}
	return app.MailConfig{SMTPURL: srv.URL(), From: from, TLS: srv.ClientTLS()}
}

// SendMail runs one batch of the outbox, as the background loop would,
// and returns how many messages went out.
func (e *Env) SendMail(t testing.TB) int {
	t.Helper()
	n, err := e.App.Mail.SendBatch(context.Background(), 100)
	if err != nil {
		t.Fatalf("servertest: send mail: %v", err)
	}
	return n
}
