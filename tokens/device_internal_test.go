package tokens

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"idp/clients"
	"idp/oauth"
)

func TestDeviceUserCodeForm(t *testing.T) {
	t.Parallel()
	for range 200 {
		c := newUserCode()
		if len(c) != userCodeLen || strings.Trim(c, UserCodeAlphabet) != "" {
			t.Fatalf("user code %q is not %d letters of the alphabet", c, userCodeLen)
		}
		f := FormatUserCode(c)
		if len(f) != 9 || f[4] != '-' {
			t.Fatalf("formatted %q, want XXXX-XXXX", f)
		}
		if n, ok := NormalizeUserCode(strings.ToLower(f)); !ok || n != c {
			t.Fatalf("normalise(%q) = %q %v, want %q", strings.ToLower(f), n, ok, c)
		}
	}
	for in, want := range map[string]string{
		"BCDF-GHJK": "BCDFGHJK", "bcdfghjk": "BCDFGHJK", " bcdf ghjk ": "BCDFGHJK", "B-C-D-F-G-H-J-K": "BCDFGHJK",
		"BCDF-GHJA": "", "BCDF-GHJ": "", "BCDF-GHJKL": "", "": "", "BCDF\u00e9GHJ": "", "BCDF_GHJK": "",
	} {
		got, ok := NormalizeUserCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// deviceEnv is a refreshEnv with one device request started.
func startDevice(t *testing.T, e *refreshEnv, scopes ...string) *DeviceAuthorization {
	t.Helper()
	da, err := e.s.StartDevice(context.Background(), e.client.ID, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if da.ExpiresIn != DeviceCodeTTL || da.Interval != DeviceInterval || len(da.DeviceCode) < 40 {
		t.Fatalf("device authorization %+v", da)
	}
	return da
}

func wantOAuth(t *testing.T, step string, err error, code string) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code {
		t.Fatalf("%s: %v, want %s", step, err, code)
	}
}

func (e *refreshEnv) approve(t *testing.T, userCode string, scopes ...string) {
	t.Helper()
	if err := e.s.ApproveDevice(context.Background(), userCode, scopes,
		Authn{UserID: e.user.ID, SessionID: "s1", AuthTime: e.clock.Now(), AMR: []string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
}

func TestDeviceCodesAreStoredHashed(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	da := startDevice(t, e, "openid")
	code, _ := NormalizeUserCode(da.UserCode)
	for _, secret := range []string{da.DeviceCode, code, da.UserCode} {
		if n := e.count(t, "device_codes", "device_hash = ? OR user_code_hash = ?", secret, secret); n != 0 {
			t.Fatalf("a code is stored in the clear")
		}
	}
	if n := e.count(t, "device_codes", "device_hash = ?", oauth.HashSecret(da.DeviceCode)); n != 1 {
		t.Fatalf("device code not found by hash")
	}
}

func TestDevicePollingLifecycle(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	da := startDevice(t, e, "openid", "offline_access")
	poll := func() (*Grant, error) { return e.s.PollDevice(ctx, e.client, da.DeviceCode, Meta{}) }

	_, err := poll()
	wantOAuth(t, "first poll", err, "authorization_pending")
	_, err = poll()
	wantOAuth(t, "poll at once", err, "slow_down")
	if n := e.count(t, "device_codes", "interval_secs = 10"); n != 1 {
		t.Fatal("slow_down did not raise the stored interval to 10 s")
	}
	e.clock.Advance(6 * time.Second) // the old interval, no longer enough
	_, err = poll()
	wantOAuth(t, "poll after 6 s", err, "slow_down")
	e.clock.Advance(15 * time.Second)
	_, err = poll()
	wantOAuth(t, "poll after the raised interval", err, "authorization_pending")

	_, err = e.s.PollDevice(ctx, &clients.Client{ID: "other"}, da.DeviceCode, Meta{})
	wantOAuth(t, "other client", err, "invalid_grant")
	_, err = e.s.PollDevice(ctx, e.client, "nope", Meta{})
	wantOAuth(t, "unknown code", err, "invalid_grant")

	req, err := e.s.PendingDevice(ctx, strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " ")))
	if err != nil || req.ClientID != e.client.ID || len(req.Scopes) != 2 {
		t.Fatalf("pending device: %+v %v", req, err)
	}
	e.approve(t, da.UserCode, "openid", "offline_access")
	if _, err := e.s.PendingDevice(ctx, da.UserCode); !errors.Is(err, ErrUnknownUserCode) {
		t.Fatalf("an approved request is still pending: %v", err)
	}
	if err := e.s.DenyDevice(ctx, da.UserCode); !errors.Is(err, ErrUnknownUserCode) {
		t.Fatalf("an approved request was answered twice: %v", err)
	}
	g, err := poll()
	if err != nil {
		t.Fatal(err)
	}
	if g.UserID != e.user.ID || g.SessionID != "s1" || g.RefreshToken == "" || strings.Join(g.AMR, ",") != "pwd" {
		t.Fatalf("grant %+v", g)
	}
	_, err = poll()
	wantOAuth(t, "replay", err, "invalid_grant")
}

func TestDeviceDeniedAndExpired(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	denied, late := startDevice(t, e, "openid"), startDevice(t, e, "openid")
	if err := e.s.DenyDevice(ctx, denied.UserCode); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.PollDevice(ctx, e.client, denied.DeviceCode, Meta{})
	wantOAuth(t, "denied", err, "access_denied")

	e.clock.Advance(DeviceCodeTTL)
	_, err = e.s.PollDevice(ctx, e.client, late.DeviceCode, Meta{})
	wantOAuth(t, "expired", err, "expired_token")
	if err := e.s.ApproveDevice(ctx, late.UserCode, nil, Authn{UserID: e.user.ID}); !errors.Is(err, ErrUnknownUserCode) {
		t.Fatalf("an expired request was approved: %v", err)
	}

	// The purge keeps expired rows an hour (a late poll still hears
	// expired_token), then deletes them.
	if _, err := e.s.Purge(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "device_codes", ""); n != 2 {
		t.Fatalf("%d device rows after an early purge, want 2", n)
	}
	e.clock.Advance(deviceRetention)
	if _, err := e.s.Purge(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, "device_codes", ""); n != 0 {
		t.Fatalf("%d device rows after the purge, want 0", n)
	}
}

// TestDeviceConcurrentPollsRedeemOnce: 20 polls race after approval;
// exactly one gets the grant, the rest invalid_grant.
func TestDeviceConcurrentPollsRedeemOnce(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	da := startDevice(t, e, "openid", "offline_access")
	e.approve(t, da.UserCode, "openid", "offline_access")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, codes := 0, map[string]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := e.s.PollDevice(ctx, e.client, da.DeviceCode, Meta{})
			mu.Lock()
			defer mu.Unlock()
			var oe *oauth.Error
			switch {
			case err == nil && g != nil:
				wins++
			case errors.As(err, &oe):
				codes[oe.Code]++
			default:
				t.Errorf("poll: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || codes["invalid_grant"] != 19 {
		t.Fatalf("%d wins, refusals %v; want 1 win and 19 invalid_grant", wins, codes)
	}
	if n := e.count(t, "refresh_families", ""); n != 1 {
		t.Fatalf("%d refresh families, want 1", n)
	}
}

// TestDeviceAnsweredOnce: approvals and denials racing on one user code
// (two tabs, two replicas): exactly one answer is recorded.
func TestDeviceAnsweredOnce(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t, Config{})
	ctx := context.Background()
	da := startDevice(t, e, "openid")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				err = e.s.ApproveDevice(ctx, da.UserCode, []string{"openid"}, Authn{UserID: e.user.ID, AuthTime: e.clock.Now()})
			} else {
				err = e.s.DenyDevice(ctx, da.UserCode)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrUnknownUserCode):
				t.Errorf("answer: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d answers recorded, want 1", won)
	}
}
