package clients

import "testing"

// TestPARRequirementRoundTrip: require_pushed_authorization_requests
// (RFC 9126 §6) is stored, read back by ByID and List, and kept by an
// update that starts from SpecOf.
func TestPARRequirementRoundTrip(t *testing.T) {
	svc, _ := newService(t)
	ctx := t.Context()
	c, _, err := svc.Create(ctx, Spec{ID: "par-app", RedirectURIs: []string{goodRedirect}, Metadata: Metadata{RequirePAR: true}})
	if err != nil || !c.RequirePAR {
		t.Fatalf("create: %+v, %v", c, err)
	}
	got, err := svc.Store().ByID(ctx, "par-app")
	if err != nil || !got.RequirePAR {
		t.Fatalf("ByID: %+v, %v", got, err)
	}
	list, err := svc.Store().List(ctx)
	if err != nil || len(list) != 1 || !list[0].RequirePAR {
		t.Fatalf("List: %+v, %v", list, err)
	}
	spec := SpecOf(got)
	spec.Name = "Renamed"
	if up, err := svc.Update(ctx, spec); err != nil || !up.RequirePAR {
		t.Fatalf("update kept: %+v, %v", up, err)
	}
	spec.RequirePAR = false
	if _, err := svc.Update(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Store().ByID(ctx, "par-app"); err != nil || got.RequirePAR {
		t.Fatalf("after clearing: %+v, %v", got, err)
	}
}
