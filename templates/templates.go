package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
)

// embedded holds the default pages and stylesheet compiled into the binary.
//
//go:embed *.html static
var embedded embed.FS

const (
	layoutFile      = "layout.html"
	adminLayoutFile = "admin_layout.html"
	styleFile       = "static/style.css"
)

// requiredPages lists every page the server renders, each with the zero
// value of its data type. Load executes each one with that zero value, so a
// broken operator override fails at startup rather than on a request.
// Admin pages are parsed with admin_layout.html as well as layout.html.
var requiredPages = []struct {
	name  string
	zero  any
	admin bool
}{
	{"login", LoginPage{}, false},
	{"consent", ConsentPage{}, false},
	{"error", ErrorPage{}, false},
	{"signedout", SignedOutPage{}, false},
	{"logout", LogoutPage{}, false},
	{"account", AccountPage{}, false},
	{"mfa", MFAPage{}, false},
	{"recovery", RecoveryCodesPage{}, false},
	{"formpost", FormPostPage{}, false},
	{"reset", ResetPage{}, false},
	{"signup", SignupPage{}, false},
	{"verify", VerifyPage{}, false},
	{"device", DevicePage{}, false},
	{"upstream_link", UpstreamLinkPage{}, false},
	{"admin_keys", AdminKeysPage{}, true},
	{"admin_confirm", AdminConfirmPage{}, true},
	{"admin_users", AdminUsersPage{}, true},
	{"admin_user", AdminUserPage{}, true},
	{"admin_clients", AdminClientsPage{}, true},
	{"admin_client", AdminClientPage{}, true},
	{"admin_resources", AdminResourcesPage{}, true},
	{"admin_resource", AdminResourcePage{}, true},
	{"admin_upstreams", AdminUpstreamsPage{}, true},
	{"admin_upstream", AdminUpstreamPage{}, true},
	{"admin_audit", AdminAuditPage{}, true},
}

// Set is a parsed, checked set of pages. It is safe for concurrent use.
type Set struct {
	pages  map[string]*template.Template
	static fs.FS
}

// Default parses the pages and stylesheet embedded in the binary.
func Default() (*Set, error) {
	return Load(embedded)
}

// Load parses the pages in fsys and checks that the layouts, the
// stylesheet and every required page (login, consent, error, signedout,
// logout, account, formpost and the admin_* pages) exist. The error names
// each missing file. fsys has the same layout as this package's directory:
// layout.html, admin_layout.html, <page>.html and static/style.css.
func Load(fsys fs.FS) (*Set, error) {
	var missing []error
	for _, name := range requiredFiles() {
		if _, err := fs.Stat(fsys, name); err != nil {
			missing = append(missing, fmt.Errorf("templates: required file %s is missing: %w", name, err))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	static, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("templates: static folder: %w", err)
	}
	s := &Set{pages: make(map[string]*template.Template, len(requiredPages)), static: static}
	for _, p := range requiredPages {
		// Each page is parsed with its own copy of the layout, because every
		// page defines the same block names ("title", "main"). Admin pages
		// also get admin_layout.html, which reuses "head", "icon" and
		// "logo" from layout.html.
		files := []string{layoutFile}
		if p.admin {
			files = append(files, adminLayoutFile)
		}
		files = append(files, partials[p.name]...)
		files = append(files, p.name+".html")
		t, err := template.New(p.name+".html").Funcs(funcs).ParseFS(fsys, files...)
		if err != nil {
			return nil, fmt.Errorf("templates: parse %s page: %w", p.name, err)
		}
		if err := t.Execute(io.Discard, p.zero); err != nil {
			return nil, fmt.Errorf("templates: check %s page: %w", p.name, err)
		}
		s.pages[p.name] = t
	}
	return s, nil
}

// partials are the files of blocks that several pages share beyond the
// layouts, by page: the settings of an upstream, on its create and edit
// forms.
var partials = map[string][]string{
	"admin_upstreams": {"admin_upstream_fields.html"},
	"admin_upstream":  {"admin_upstream_fields.html"},
}

// requiredFiles is every file Load insists on, in a stable order.
func requiredFiles() []string {
	files := []string{layoutFile, adminLayoutFile, styleFile, "admin_upstream_fields.html"}
	for _, p := range requiredPages {
		files = append(files, p.name+".html")
	}
	return files
}

// Static returns the static/ folder (style.css), for the server to serve
// at /static/.
func (s *Set) Static() fs.FS {
	return s.static
}

// render executes the named page into a buffer and copies it to w only on
// success, so a failing template never leaves half a page on the wire.
func (s *Set) render(w io.Writer, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("templates: unknown page %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("templates: render %s page: %w", name, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("templates: write %s page: %w", name, err)
	}
	return nil
}
