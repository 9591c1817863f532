package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Overlay is top over base: a file of top replaces the file of the same
// name in base, and top may add files (a logo under static/). It is how
// --theme-dir overrides the embedded pages, stylesheet and mail templates
// by file name.
func Overlay(top, base fs.FS) fs.FS { return overlay{top: top, base: base} }

type overlay struct{ top, base fs.FS }

// Open opens name from top, or from base when top has no such file.
func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.top.Open(name)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return o.base.Open(name)
}

// LoadTheme parses the pages of theme (an operator's folder) over the
// embedded ones and checks them as Load does, and more: a page whose
// embedded version carries the CSRF field must carry it too, or every
// form on it would be refused.
func LoadTheme(theme fs.FS) (*Set, error) {
	set, err := Load(Overlay(theme, embedded))
	if err != nil {
		return nil, err
	}
	for _, p := range requiredPages {
		name := p.name + ".html"
		if _, err := fs.Stat(theme, name); err != nil {
			continue // not overridden
		}
		mine, err := fs.ReadFile(theme, name)
		if err != nil {
			return nil, fmt.Errorf("templates: read %s: %w", name, err)
		}
		orig, _ := fs.ReadFile(embedded, name)
		const csrf = `name="csrf_token"`
		if strings.Contains(string(orig), csrf) && !strings.Contains(string(mine), csrf) {
			return nil, fmt.Errorf("templates: %s lacks the CSRF field its forms need (<input type=\"hidden\" name=\"csrf_token\" value=\"{{.CSRFToken}}\">)", name)
		}
	}
	return set, nil
}
