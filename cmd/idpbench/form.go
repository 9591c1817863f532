package main

import (
	"bytes"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// htmlForm is one <form> of a page, as a browser would submit it: its
// action and method, the values of its hidden inputs, the names of its
// visible inputs and the name=value pairs of its submit buttons.
type htmlForm struct {
	Action  string
	Method  string
	Hidden  url.Values
	Inputs  []string
	Buttons url.Values
}

// hasInput reports whether the form has an input (of any type) named name.
func (f *htmlForm) hasInput(name string) bool {
	return contains(f.Inputs, name) || f.Hidden.Has(name)
}

// parseForms returns every form of an HTML page, in order. It tokenizes
// rather than matching text, so attribute order, quoting and entity
// escaping (&amp; in a value) do not matter.
func parseForms(page []byte) []htmlForm {
	z := html.NewTokenizer(bytes.NewReader(page))
	var forms []htmlForm
	var cur *htmlForm
	for {
		switch z.Next() {
		case html.ErrorToken:
			if cur != nil {
				forms = append(forms, *cur) // unclosed form at EOF
			}
			return forms
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "form":
				if cur != nil {
					forms = append(forms, *cur)
				}
				cur = &htmlForm{Action: attr(t, "action"), Method: strings.ToUpper(attr(t, "method")),
					Hidden: url.Values{}, Buttons: url.Values{}}
				if cur.Method == "" {
					cur.Method = "GET"
				}
			case "input":
				if cur == nil {
					continue
				}
				name := attr(t, "name")
				if name == "" {
					continue
				}
				switch strings.ToLower(attr(t, "type")) {
				case "hidden":
					cur.Hidden.Add(name, attr(t, "value"))
				case "submit":
					cur.Buttons.Add(name, attr(t, "value"))
				default:
					cur.Inputs = append(cur.Inputs, name)
				}
			case "button":
				if cur != nil && attr(t, "name") != "" {
					cur.Buttons.Add(attr(t, "name"), attr(t, "value"))
				}
			}
		case html.EndTagToken:
			if t := z.Token(); t.Data == "form" && cur != nil {
				forms = append(forms, *cur)
				cur = nil
			}
		}
	}
}

func attr(t html.Token, key string) string {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// formWith returns the first form that has an input named name.
func formWith(forms []htmlForm, name string) *htmlForm {
	for i := range forms {
		if forms[i].hasInput(name) {
			return &forms[i]
		}
	}
	return nil
}
