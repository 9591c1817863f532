package mail_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idp/db/dbtest"
	"idp/mail"
	"idp/mail/mailtest"
)

func TestAddressRefusesHeaderInjection(t *testing.T) {
	bad := []struct{ name, email string }{
		{"Eve\r\nBcc: victim@example.com", "eve@example.com"},
		{"Eve\nBcc: x@example.com", "eve@example.com"},
		{"Eve", "eve@example.com\r\nBcc: victim@example.com"},
		{"Eve", "eve@example.com\nX: y"},
		{"Eve\x00", "eve@example.com"},
		{"Eve", "Eve <eve@example.com>"},
		{"Eve", "a@example.com, b@example.com"},
		{"Eve", ""},
		{"Eve", "not an address"},
		{"Eve", strings.Repeat("a", 250) + "@example.com"},
		{strings.Repeat("n", 201), "eve@example.com"},
		{"bad \xff utf8", "eve@example.com"},
	}
	for _, b := range bad {
		if _, err := mail.NewAddress(b.name, b.email); !errors.Is(err, mail.ErrInvalidAddress) {
			t.Errorf("NewAddress(%q, %q) = %v, want ErrInvalidAddress", b.name, b.email, err)
		}
	}
	for _, s := range []string{"idp <idp@example.com>\r\nBcc: x@example.com", "a@example.com, b@example.com", "", "idp"} {
		if _, err := mail.ParseAddress(s); !errors.Is(err, mail.ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q) = %v, want ErrInvalidAddress", s, err)
		}
	}
	a, err := mail.ParseAddress(`"Example IdP" <idp@example.com>`)
	if err != nil || a.Name != "Example IdP" || a.Email != "idp@example.com" {
		t.Fatalf("ParseAddress = %+v, %v", a, err)
	}
	if a, err := mail.NewAddress("  Zoë Ünïcode ", "zoe@example.com"); err != nil || a.Name != "Zoë Ünïcode" {
		t.Fatalf("NewAddress with a unicode name = %+v, %v", a, err)
	}
}

func TestTemplatesEscapeHTML(t *testing.T) {
	tpl, err := mail.DefaultTemplates()
	if err != nil {
		t.Fatal(err)
	}
	to, _ := mail.NewAddress("", "a@example.com")
	m, err := tpl.Render(mail.KindPasswordReset, to, mail.ResetData{
		Name: `<script>alert(1)</script>`, Email: "a@example.com", Link: `https://idp.example/reset?token=x"><b>`, Minutes: 30,
		Issuer: "https://idp.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("HTML part does not escape the name:\n%s", m.HTML)
	}
	if strings.Contains(m.HTML, `x"><b>`) {
		t.Errorf("HTML part does not escape the link:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "<script>alert(1)</script>") || !strings.Contains(m.Text, "30 minutes") {
		t.Errorf("text part should carry the name verbatim and the lifetime:\n%s", m.Text)
	}
	if m.Subject != "Reset your password" {
		t.Errorf("subject %q", m.Subject)
	}
	if _, err := tpl.Render("nope", to, nil); err == nil {
		t.Error("an unknown kind rendered")
	}
}

func TestSenderURLs(t *testing.T) {
	good := []string{"log:", "smtp://relay.example", "smtp://u:p@relay.example:2525", "smtp://localhost:25?tls=none",
		"smtps://u:p%40ss@mail.example", "smtps://mail.example:465"}
	for _, u := range good {
		if _, err := mail.NewSender(u, nil, mail.SMTPOptions{}); err != nil {
			t.Errorf("NewSender(%q): %v", u, err)
		}
	}
	bad := []string{"http://x", "smtp://", "smtp://u:hunter2@h:99999", "smtp://u:hunter2@h?tls=maybe", "smtps://u:hunter2@h?tls=none",
		"smtp://u:hunter2@h/path", "smtp://u:hunter2@h?x=1", "smtp://:hunter2@h", "log:x", "smtp://u:hunter2@h:port", "::hunter2@", "smtp://u:hunter2@127.0.0.1:25?tls=none"}
	for _, u := range bad {
		_, err := mail.NewSender(u, nil, mail.SMTPOptions{})
		if !errors.Is(err, mail.ErrInvalidURL) {
			t.Errorf("NewSender(%q) = %v, want ErrInvalidURL", u, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewSender(%q) error shows the password: %v", u, err)
		}
	}
	for in, want := range map[string]string{
		"smtp://u:hunter2@h:587":      "smtp://u:xxxxx@h:587",
		"smtps://h":                   "smtps://h",
		"log:":                        "log:",
		"smtp://u:hunt%zz@h":          "smtp://***@h",
		"smtp://u:hunter2@h?tls=none": "smtp://u:xxxxx@h?tls=none",
	} {
		if got := mail.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// quiet is a logger that writes nowhere.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newService is a Service over a fresh database sending to srv, with a
// composer that mails "hello <to>".
func newService(t *testing.T, srv *mailtest.Server, c *clock) *mail.Service {
	t.Helper()
	sender, err := mail.NewSender(srv.URL(), nil, mail.SMTPOptions{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.Open(t)
	return service(t, mail.NewStore(d.Gorm), sender, c)
}

func service(t *testing.T, st *mail.Store, sender mail.Sender, c *clock) *mail.Service {
	t.Helper()
	from, _ := mail.ParseAddress("idp <idp@example.com>")
	s := mail.NewService(st, mail.Config{Sender: sender, From: from, Now: c.now, Logger: quiet, MaxAttempts: 3})
	s.Handle("hello", func(_ context.Context, j mail.Job) (*mail.Message, error) {
		if j.To == "nobody@example.com" {
			return nil, nil
		}
		to, err := mail.NewAddress(j.Data["name"], j.To)
		if err != nil {
			return nil, err
		}
		return &mail.Message{To: to, Subject: "hello", Text: "hello " + j.To, HTML: "<p>hello</p>"}, nil
	})
	return s
}

func TestQueueDeliversOverSTARTTLSWithAuth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{TLS: true, User: "idp", Password: "s3cret"})
	c := &clock{t: time.Now().UTC()}
	s := newService(t, srv, c)
	ctx := context.Background()
	if err := s.Enqueue(ctx, "hello", "ann@example.com", map[string]string{"name": "Ann"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "hello", "nobody@example.com", nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.SendBatch(ctx, 10)
	if err != nil || n != 1 {
		t.Fatalf("SendBatch = %d, %v; want 1 sent", n, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Subject != "hello" || !strings.Contains(msgs[0].Text, "hello ann@example.com") ||
		!strings.Contains(msgs[0].HTML, "<p>hello</p>") || msgs[0].Header.Get("From") != `"idp" <idp@example.com>` ||
		msgs[0].Header.Get("To") != `"Ann" <ann@example.com>` {
		t.Fatalf("messages = %+v", msgs)
	}
	q, sent, failed, err := s.Counts(ctx)
	if err != nil || q != 0 || sent != 1 || failed != 0 {
		t.Fatalf("Counts = %d queued, %d sent, %d failed, %v", q, sent, failed, err)
	}
	// Nothing is due any more: a second batch sends nothing again.
	if n, err := s.SendBatch(ctx, 10); err != nil || n != 0 {
		t.Fatalf("second SendBatch = %d, %v", n, err)
	}
}

func TestSTARTTLSIsRequiredUnlessTLSNone(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{}) // offers no STARTTLS
	c := &clock{t: time.Now().UTC()}
	strict, err := mail.NewSender("smtp://"+srv.Addr(), nil, mail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := service(t, mail.NewStore(dbtest.Open(t).Gorm), strict, c)
	ctx := context.Background()
	if err := s.Enqueue(ctx, "hello", "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.SendBatch(ctx, 10); n != 0 || len(srv.Messages()) != 0 {
		t.Fatalf("smtp:// without tls=none sent %d in the clear", n)
	}
	if q, _, _, _ := s.Counts(ctx); q != 1 {
		t.Fatalf("the refused message is not queued for retry: %d queued", q)
	}
}

func TestOutageRetriesWithBackoffThenFails(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c := &clock{t: time.Now().UTC()}
	s := newService(t, srv, c)
	ctx := context.Background()
	srv.Stop()
	if err := s.Enqueue(ctx, "hello", "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "hello", "bob@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SendBatch(ctx, 10); err != nil || n != 0 {
		t.Fatalf("SendBatch while down = %d, %v", n, err)
	}
	// Not due again before the 30 s backoff, even with the server back.
	srv.Restart()
	c.advance(29 * time.Second)
	if n, _ := s.SendBatch(ctx, 10); n != 0 {
		t.Fatalf("retried %d before the backoff", n)
	}
	c.advance(2 * time.Second)
	if n, err := s.SendBatch(ctx, 10); err != nil || n != 2 {
		t.Fatalf("SendBatch after the outage = %d, %v", n, err)
	}
	if got := len(srv.Messages()); got != 2 {
		t.Fatalf("%d messages delivered, want 2 (each once)", got)
	}
	// A server down for good: attempts 1, 2 (after 30 s), 3 (after 60 s,
	// the last of MaxAttempts 3), then failed.
	srv.Stop()
	if err := s.Enqueue(ctx, "hello", "cy@example.com", nil); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, 30 * time.Second, 60 * time.Second} {
		c.advance(wait)
		_, _ = s.SendBatch(ctx, 10)
	}
	q, sent, failed, _ := s.Counts(ctx)
	if q != 0 || sent != 2 || failed != 1 {
		t.Fatalf("after giving up: %d queued, %d sent, %d failed", q, sent, failed)
	}
	// Finished rows go once they are older than a week.
	c.advance(8 * 24 * time.Hour)
	if n, err := s.Purge(ctx, 100); err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
}

// countingSender counts deliveries and is slow enough for racers to meet.
type countingSender struct{ n atomic.Int64 }

func (c *countingSender) Send(context.Context, mail.Address, *mail.Message) error {
	c.n.Add(1)
	time.Sleep(5 * time.Millisecond)
	return nil
}

func TestConcurrentSendersDeliverEachMessageOnce(t *testing.T) {
	c := &clock{t: time.Now().UTC()}
	st := mail.NewStore(dbtest.Open(t).Gorm)
	var sender countingSender
	const replicas, msgs = 4, 12
	svcs := make([]*mail.Service, replicas)
	for i := range svcs {
		svcs[i] = service(t, st, &sender, c)
	}
	ctx := context.Background()
	for i := range msgs {
		if err := svcs[i%replicas].Enqueue(ctx, "hello", "r"+string(rune('a'+i))+"@example.com", nil); err != nil {
			t.Fatal(err)
		}
	}
	var total atomic.Int64
	for _, err := range dbtest.Race(replicas, func(i int) error {
		n, err := svcs[i].SendBatch(ctx, msgs)
		total.Add(int64(n))
		return err
	}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if sender.n.Load() != msgs || total.Load() != msgs {
		t.Fatalf("%d deliveries, %d reported sent; want %d each", sender.n.Load(), total.Load(), msgs)
	}
}

func TestQueuedWithoutSenderWaitsForOneThatHas(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c := &clock{t: time.Now().UTC()}
	st := mail.NewStore(dbtest.Open(t).Gorm)
	cli := mail.NewService(st, mail.Config{Now: c.now, Logger: quiet}) // an admin command: no --smtp-url
	if cli.Enabled() {
		t.Fatal("a service without a sender is enabled")
	}
	ctx := context.Background()
	if err := cli.Enqueue(ctx, "hello", "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if n, err := cli.SendBatch(ctx, 10); n != 0 || err != nil {
		t.Fatalf("a service without a sender sent %d, %v", n, err)
	}
	sender, _ := mail.NewSender(srv.URL(), nil, mail.SMTPOptions{})
	if n, err := service(t, st, sender, c).SendBatch(ctx, 10); n != 1 || err != nil || len(srv.Messages()) != 1 {
		t.Fatalf("the serving process sent %d, %v", n, err)
	}
}

func TestLogSenderWritesTheMessage(t *testing.T) {
	var buf strings.Builder
	s, err := mail.NewSender("log:", slog.New(slog.NewTextHandler(&buf, nil)), mail.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from, _ := mail.ParseAddress("idp@example.com")
	to, _ := mail.NewAddress("Ann", "ann@example.com")
	if err := s.Send(context.Background(), from, &mail.Message{To: to, Subject: "hi", Text: "link https://x/y"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"subject=hi", "ann@example.com", "https://x/y"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q: %s", want, buf.String())
		}
	}
	if err := s.Send(context.Background(), from, &mail.Message{To: to, Subject: "a\r\nBcc: x@example.com"}); err == nil {
		t.Error("a subject with CR LF was sent")
	}
}

// TestDrainGoesPastDroppedMail: a run of messages the composer drops (a
// reset for an unknown address, which anyone can ask for) ahead of a real
// one does not hold it back: one Drain sends it.
func TestDrainGoesPastDroppedMail(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	c := &clock{t: time.Now().UTC()}
	s := newService(t, srv, c)
	ctx := context.Background()
	for range 45 {
		if err := s.Enqueue(ctx, "hello", "nobody@example.com", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Enqueue(ctx, "hello", "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.To("ann@example.com"); len(got) != 1 {
		t.Fatalf("after one Drain behind 45 dropped messages: %d delivered to ann", len(got))
	}
}
