package users

import (
	"context"
	"fmt"
	"testing"
)

// TestStoreSearch: substring of email or name, case-insensitive, LIKE
// wildcards literal, paged in a stable order with an exact total, on
// SQLite and PostgreSQL.
func TestStoreSearch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	add := func(email, name string) {
		t.Helper()
		u := testUser(t, email)
		u.Name = name
		if err := s.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	add("Ada@Example.com", "Ada Lovelace")
	add("grace@example.com", "Grace HOPPER")
	add("100%@example.com", "Percent")
	add("a_b@example.com", "Under Score")
	add("axb@example.com", "No Underscore")
	add(`back\slash@example.com`, "Back")
	add("zoe@example.org", "Zoë Ünal")

	emails := func(q string, offset, limit int) (string, int64) {
		t.Helper()
		list, total, err := s.Search(ctx, q, offset, limit)
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		out := ""
		for _, u := range list {
			out += u.Email + " "
		}
		return out, total
	}
	for _, tc := range []struct {
		q, want string
		total   int64
	}{
		{"", "100%@example.com a_b@example.com Ada@Example.com axb@example.com back\\slash@example.com grace@example.com zoe@example.org ", 7},
		{"ADA", "Ada@Example.com ", 1},
		{"hopper", "grace@example.com ", 1},
		{"lOvElAcE", "Ada@Example.com ", 1},
		{"%", "100%@example.com ", 1},
		{"_", "a_b@example.com ", 1},
		{"a_b", "a_b@example.com ", 1},
		{`\`, `back\slash@example.com `, 1},
		{`\%`, "", 0},
		{"example.org", "zoe@example.org ", 1},
		{"Zoë", "zoe@example.org ", 1},
		{"nobody", "", 0},
	} {
		got, total := emails(tc.q, 0, 50)
		if got != tc.want || total != tc.total {
			t.Errorf("Search(%q) = %q (%d), want %q (%d)", tc.q, got, total, tc.want, tc.total)
		}
	}

	// Paging: 23 more users; pages of 10 cover the 30 exactly once, in order.
	for i := range 23 {
		add(fmt.Sprintf("page%02d@example.net", i), "")
	}
	all, total := emails("", 0, 100)
	if total != 30 {
		t.Fatalf("total %d, want 30", total)
	}
	paged := ""
	for off := 0; off < 40; off += 10 {
		p, n := emails("", off, 10)
		if n != 30 {
			t.Fatalf("total at offset %d: %d", off, n)
		}
		paged += p
	}
	if paged != all {
		t.Errorf("pages of 10:\n%s\nwant\n%s", paged, all)
	}
	if p, _ := emails("", 30, 10); p != "" {
		t.Errorf("past the end: %q", p)
	}
	if p, n := emails("page", 20, 10); p != "page20@example.net page21@example.net page22@example.net " || n != 23 {
		t.Errorf("last page of a search: %q (%d)", p, n)
	}
}
