package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"idp/admin"
)

func runAudit(ctx context.Context, args []string, s stdio) error {
	sub := map[string]func(context.Context, []string, stdio) error{"list": auditList}
	return dispatch(ctx, "audit", "list", sub, args, s)
}

// auditList prints the audit log, newest first.
func auditList(ctx context.Context, args []string, s stdio) error {
	fs := newSettingsFlagSet(s, "audit list", "audit list [--json] [--limit N] [--before RFC3339]", adminSettings()...)
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 100, "how many events to print (at most 1000)")
	beforeS := fs.String("before", "", "only events before this time (RFC 3339), to page back")
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	var before time.Time
	if *beforeS != "" {
		t, err := time.Parse(time.RFC3339Nano, *beforeS)
		if err != nil {
			return fmt.Errorf("--before: %q is not an RFC 3339 time", *beforeS)
		}
		before = t
	}
	if *limit < 1 || *limit > 1000 {
		return fmt.Errorf("--limit must be between 1 and 1000")
	}
	e, err := adminEnv(ctx, fs, s)
	if err != nil {
		return err
	}
	defer e.close()
	events, err := e.Admin.Audit(ctx, before, *limit)
	if err != nil {
		return err
	}
	return printList(s, *asJSON, events, "AT\tACTOR\tVIA\tACTION\tTARGET\tDETAIL", func(r admin.Event) string {
		return strings.Join([]string{r.At.Format(time.RFC3339Nano), r.Actor, r.Via, r.Action, r.Target, r.Detail}, "\t")
	})
}
