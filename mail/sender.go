package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender delivers one message from a sender address.
type Sender interface {
	Send(ctx context.Context, from Address, m *Message) error
}

// ErrInvalidURL means an --smtp-url is not one this package can send
// through. Its text never repeats the URL's password.
var ErrInvalidURL = errors.New("invalid SMTP URL")

// sendTimeout bounds one SMTP conversation, dial to QUIT.
const sendTimeout = 30 * time.Second

// SMTPOptions adjust an SMTP sender beyond its URL.
type SMTPOptions struct {
	// TLSConfig verifies the server (default: the system roots and the
	// URL's host); tests trust their own certificate with it.
	TLSConfig *tls.Config
}

// NewSender builds the sender an --smtp-url names:
//   - smtp://[user:pass@]host[:port] speaks STARTTLS and refuses a server
//     that does not offer it (port 587 by default);
//   - smtp://host:port?tls=none speaks plain SMTP, for a relay on the
//     same host or network (port 25 by default);
//   - smtps://[user:pass@]host[:port] is implicit TLS (port 465 by
//     default, RFC 8314);
//   - log: writes each message to logger instead, for development.
//
// Credentials, when present, are sent with the best mechanism the server
// offers, and only over TLS: with tls=none they are refused.
func NewSender(raw string, logger *slog.Logger, opts SMTPOptions) (Sender, error) {
	if raw == "log:" {
		if logger == nil {
			logger = slog.Default()
		}
		return &LogSender{Logger: logger}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a URL", ErrInvalidURL, Redact(raw))
	}
	return newSMTP(u, opts)
}

// smtpSender is go-mail's client for one configured server.
type smtpSender struct {
	host string
	opts []gomail.Option
}

// newSMTP reads the scheme, host, port, credentials and tls parameter.
func newSMTP(u *url.URL, o SMTPOptions) (*smtpSender, error) {
	bad := func(why string) error { return fmt.Errorf("%w %s: %s", ErrInvalidURL, Redact(u.String()), why) }
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return nil, bad("unknown parameter " + strconv.Quote(k) + " (only tls=none is known)")
		}
	}
	plain := false
	switch v := q.Get("tls"); {
	case !q.Has("tls"):
	case v == "none":
		plain = true
	default:
		return nil, bad("tls must be none, or absent for STARTTLS")
	}
	if u.Host == "" || u.Hostname() == "" || u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return nil, bad("want smtp://[user:pass@]host[:port] or smtps://…")
	}
	tlsCfg := o.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsCfg = tlsCfg.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = u.Hostname()
	}
	opts := []gomail.Option{gomail.WithTimeout(sendTimeout), gomail.WithTLSConfig(tlsCfg)}
	var port int
	switch u.Scheme {
	case "smtp":
		if plain {
			port = 25
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		} else {
			port = 587
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		}
	case "smtps":
		if plain {
			return nil, bad("tls=none contradicts smtps (implicit TLS); use smtp://")
		}
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, bad("scheme must be smtp, smtps or the word log:")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("port must be 1 to 65535")
		}
		port = n
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		if u.User.Username() == "" {
			return nil, bad("user name is empty")
		}
		if plain {
			return nil, bad("credentials with tls=none would cross the network in the clear; use STARTTLS (drop tls=none) or smtps://")
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &smtpSender{host: u.Hostname(), opts: opts}, nil
}

// Send dials, sends m and quits. go-mail writes every header itself from
// the validated Address values, so no text of the message becomes a
// header line of its own.
func (s *smtpSender) Send(ctx context.Context, from Address, m *Message) error {
	if err := m.check(); err != nil {
		return err
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(from.Name, from.Email); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := msg.AddToFormat(m.To.Name, m.To.Email); err != nil {
		return fmt.Errorf("mail to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	return nil
}

// LogSender writes each message to the log instead of sending it: `idp
// serve --smtp-url log:` for development. It logs the whole text, link
// tokens included, by design; never use it in production.
type LogSender struct{ Logger *slog.Logger }

// Send logs m.
func (l *LogSender) Send(ctx context.Context, from Address, m *Message) error {
	if err := m.check(); err != nil {
		return err
	}
	l.Logger.InfoContext(ctx, "mail (--smtp-url log:, not sent)", "from", from.String(), "to", m.To.String(),
		"subject", m.Subject, "text", m.Text)
	return nil
}

// Redact returns an SMTP URL fit to show: its password replaced by xxxxx (url.URL.Redacted).
// A string that is not a URL is cut at its last '@' so nothing that may be
// a password is shown.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + "***@" + raw[i+1:]
			}
			return "***@" + raw[i+1:]
		}
		return raw
	}
	return u.Redacted()
}
