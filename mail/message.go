package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
)

// Message is one mail ready to send: the recipient, a subject and the
// same content as plain text and as HTML (multipart/alternative).
type Message struct {
	To      Address
	Subject string
	Text    string
	HTML    string
}

// check refuses a message whose subject could break out of its header.
func (m *Message) check() error {
	if m.To.Email == "" {
		return fmt.Errorf("%w: no recipient", ErrInvalidAddress)
	}
	if err := headerSafe(m.Subject); err != nil {
		return fmt.Errorf("mail subject: %w", err)
	}
	return nil
}

// embedded holds the mail templates: for each kind, <kind>.txt defines
// "subject" and "text" (text/template) and <kind>.html defines "html"
// (html/template, so every value is escaped for HTML).
//
//go:embed templates/*.txt templates/*.html
var embedded embed.FS

// Templates renders the messages of each kind. It is safe for concurrent
// use.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// Kinds are the messages idp sends, each with a template pair, and the
// zero data each is checked with at load.
var Kinds = map[string]any{
	KindPasswordReset: ResetData{Link: checkLink},
	KindEmailVerify:   VerifyData{Link: checkLink},
	KindInvite:        InviteData{Link: checkLink},
	KindEmailChange:   EmailChangeData{Link: checkLink},
	KindEmailChanged:  EmailChangedData{Link: checkLink},
	KindSignupExists:  SignupExistsData{Link: checkLink},
}

// checkLink is the link LoadTemplates renders each kind with: both parts
// must show it, or the mail would be useless.
const checkLink = "https://idp.invalid/check?token=template-check"

// The kinds of message.
const (
	// KindPasswordReset carries a password reset link; data ResetData.
	KindPasswordReset = "password_reset"
	// KindEmailVerify carries an address verification link; data
	// VerifyData.
	KindEmailVerify = "email_verify"
	// KindInvite carries an invitation to set a password; data
	// InviteData.
	KindInvite = "invite"
	// KindEmailChange asks the new address of an account to confirm the
	// change; data EmailChangeData.
	KindEmailChange = "email_change"
	// KindEmailChanged tells the old address that the change happened,
	// with the reset link to use if it was not the owner; data
	// EmailChangedData.
	KindEmailChanged = "email_changed"
	// KindSignupExists tells the owner of an address that someone tried to
	// sign up with it; data SignupExistsData.
	KindSignupExists = "signup_exists"
)

// SignupExistsData fills the notice to an address that already has an
// account.
type SignupExistsData struct {
	Name   string
	Email  string
	Link   string // where to choose a new password
	Issuer string
}

// EmailChangeData fills the mail to the new address of an account.
type EmailChangeData struct {
	Name   string // the user's display name, or empty
	Email  string // the new address
	Link   string // the single-use link
	Hours  int    // how long it works
	Issuer string
}

// EmailChangedData fills the notice to the old address.
type EmailChangedData struct {
	Name   string
	Old    string // the address the notice goes to
	Email  string // the new address
	Link   string // where to reset the password
	Issuer string
}

// InviteData fills the invitation mail.
type InviteData struct {
	Name   string // the invitee's display name, or empty
	Email  string
	Link   string // the single-use link
	Days   int    // how long it works
	Issuer string
}

// VerifyData fills the address verification mail.
type VerifyData struct {
	Name   string // the user's display name, or empty
	Email  string
	Link   string // the single-use link
	Hours  int    // how long it works
	Issuer string
}

// ResetData fills the password reset mail.
type ResetData struct {
	Name    string // the user's display name, or empty
	Email   string
	Link    string // the single-use link
	Minutes int    // how long it works
	Issuer  string
}

// DefaultTemplates parses the embedded templates.
func DefaultTemplates() (*Templates, error) { return LoadTemplates(Embedded()) }

// Embedded is the folder of embedded mail templates (<kind>.txt and
// <kind>.html), for an operator's overlay.
func Embedded() fs.FS {
	sub, _ := fs.Sub(embedded, "templates") // a fixed, valid path
	return sub
}

// LoadTemplates parses <kind>.txt and <kind>.html of every kind in Kinds
// from fsys and checks that each defines a subject, a text and an html
// part that render, and that both parts show the link.
func LoadTemplates(fsys fs.FS) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for k, zero := range Kinds {
		tt, err := texttemplate.ParseFS(fsys, k+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail template %s.txt: %w", k, err)
		}
		ht, err := htmltemplate.ParseFS(fsys, k+".html")
		if err != nil {
			return nil, fmt.Errorf("mail template %s.html: %w", k, err)
		}
		t.text[k], t.html[k] = tt, ht
		m, err := t.Render(k, Address{Email: "check@example.com"}, zero)
		if err != nil {
			return nil, err
		}
		if m.Subject == "" || !strings.Contains(m.Text, checkLink) || !strings.Contains(m.HTML, checkLink) {
			return nil, fmt.Errorf("mail template %s: needs a subject, and {{.Link}} in both %s.txt and %s.html", k, k, k)
		}
	}
	return t, nil
}

// Render fills the templates of kind with data for the recipient to.
func (t *Templates) Render(kind string, to Address, data any) (*Message, error) {
	tt, ht := t.text[kind], t.html[kind]
	if tt == nil || ht == nil {
		return nil, fmt.Errorf("mail: no templates for kind %q", kind)
	}
	var subj, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return nil, fmt.Errorf("mail template %s subject: %w", kind, err)
	}
	if err := tt.ExecuteTemplate(&text, "text", data); err != nil {
		return nil, fmt.Errorf("mail template %s text: %w", kind, err)
	}
	if err := ht.ExecuteTemplate(&html, "html", data); err != nil {
		return nil, fmt.Errorf("mail template %s html: %w", kind, err)
	}
	m := &Message{To: to, Subject: strings.TrimSpace(subj.String()), Text: text.String(), HTML: html.String()}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("mail template %s: %w", kind, err)
	}
	return m, nil
}
