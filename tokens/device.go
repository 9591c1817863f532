package tokens

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"idp/clients"
	"idp/db"
	"idp/oauth"
)

// The Device Authorization Grant (RFC 8628): a device without a browser
// gets a device code to poll with and a short user code; the user types
// the user code on /device, signed in elsewhere, and approves or denies;
// the device's next poll gets the tokens, once.

// DeviceCodeTTL is how long a device authorization request may wait for
// the user (RFC 8628 §3.2 expires_in).
const DeviceCodeTTL = 10 * time.Minute

// DeviceInterval is the least time between two polls of one device code,
// until slow_down raises it (RFC 8628 §3.2 interval).
const DeviceInterval = 5 * time.Second

// ErrUnknownUserCode means no pending, unexpired device request has this
// user code. It counts as a failed guess.
var ErrUnknownUserCode = errors.New("no pending device request has this user code")

// DeviceAuthorization is what a new device request gives the client
// (RFC 8628 §3.2): the codes in the clear, this once.
type DeviceAuthorization struct {
	DeviceCode string
	// UserCode is shown as XXXX-XXXX.
	UserCode  string
	ExpiresIn time.Duration
	Interval  time.Duration
}

// DeviceRequest is a pending device request as the approval page shows it.
type DeviceRequest struct {
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time
}

// StartDevice stores a new device authorization request of client for
// scopes (already checked against the client) and returns its codes.
func (s *Service) StartDevice(ctx context.Context, clientID string, scopes []string) (*DeviceAuthorization, error) {
	now := s.now()
	device := oauth.NewSecret(32) // 256 bits, like a code
	for attempt := 0; ; attempt++ {
		user := newUserCode()
		row := &deviceRow{
			DeviceHash: oauth.HashSecret(device), UserCodeHash: s.hashUserCode(user), ClientID: clientID,
			Scope: oauth.JoinScope(scopes), Status: deviceStatusPending, IntervalSecs: int(DeviceInterval / time.Second),
			CreatedAt: now, ExpiresAt: now.Add(DeviceCodeTTL),
		}
		err := s.store.createDevice(ctx, row)
		if errors.Is(err, db.ErrConflict) && attempt < 3 {
			continue // the user code is taken by another live request: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("start device authorization: %w", err)
		}
		return &DeviceAuthorization{DeviceCode: device, UserCode: FormatUserCode(user),
			ExpiresIn: DeviceCodeTTL, Interval: DeviceInterval}, nil
	}
}

// PendingDevice finds the pending, unexpired device request whose user
// code the user typed (in any case, with or without the dash), or
// ErrUnknownUserCode.
func (s *Service) PendingDevice(ctx context.Context, userCode string) (*DeviceRequest, error) {
	code, ok := NormalizeUserCode(userCode)
	if !ok {
		return nil, ErrUnknownUserCode
	}
	row, err := s.store.deviceBy(ctx, "user_code_hash", s.hashUserCode(code))
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrUnknownUserCode
	}
	if err != nil {
		return nil, fmt.Errorf("load device request: %w", err)
	}
	if row.Status != deviceStatusPending || !s.now().Before(row.ExpiresAt) {
		return nil, ErrUnknownUserCode
	}
	scopes, _ := oauth.ParseScope(row.Scope)
	return &DeviceRequest{ClientID: row.ClientID, Scopes: scopes, ExpiresAt: row.ExpiresAt}, nil
}

// ApproveDevice records that the user approved the device request of
// userCode, for scopes (the request's, narrowed to what the user may be
// granted) and authenticated as a says. ErrUnknownUserCode when it is no
// longer pending: expired, or answered meanwhile.
func (s *Service) ApproveDevice(ctx context.Context, userCode string, scopes []string, a Authn) error {
	authTime := a.AuthTime.UTC()
	return s.decideDevice(ctx, userCode, map[string]any{
		"status": deviceStatusApproved, "user_id": a.UserID, "session_id": a.SessionID, "auth_time": authTime,
		"amr": strings.Join(a.AMR, " "), "acr": a.ACR, "scope": oauth.JoinScope(scopes),
		"upstream_id": a.UpstreamID, "upstream_sub": a.UpstreamSub,
	})
}

// DenyDevice records that the user denied the device request of userCode;
// the device's next poll gets access_denied.
func (s *Service) DenyDevice(ctx context.Context, userCode string) error {
	return s.decideDevice(ctx, userCode, map[string]any{"status": deviceStatusDenied})
}

func (s *Service) decideDevice(ctx context.Context, userCode string, set map[string]any) error {
	code, ok := NormalizeUserCode(userCode)
	if !ok {
		return ErrUnknownUserCode
	}
	won, err := s.store.decideDevice(ctx, s.hashUserCode(code), s.now(), set)
	if err != nil {
		return fmt.Errorf("answer device request: %w", err)
	}
	if !won {
		return ErrUnknownUserCode
	}
	return nil
}

// PollDevice answers a device's poll at the token endpoint (RFC 8628
// §3.4, §3.5): authorization_pending or slow_down while the user has not
// answered, access_denied after a denial, expired_token after the
// lifetime, and once approved the grant — to exactly one poll, however
// many race (one conditional update); the others, and any later replay,
// get invalid_grant. A device code of another client is invalid_grant too.
func (s *Service) PollDevice(ctx context.Context, client *clients.Client, deviceCode string, meta Meta) (*Grant, error) {
	if deviceCode == "" {
		return nil, oauth.InvalidRequest("device_code is missing")
	}
	if len(deviceCode) > 256 {
		return nil, oauth.InvalidGrant("the device code is malformed")
	}
	hash := oauth.HashSecret(deviceCode)
	row, err := s.store.deviceBy(ctx, "device_hash", hash)
	if errors.Is(err, db.ErrNotFound) {
		return nil, oauth.InvalidGrant("the device code is invalid")
	}
	if err != nil {
		return nil, fmt.Errorf("load device code: %w", err)
	}
	if row.ClientID != client.ID {
		return nil, oauth.InvalidGrant("the device code was issued to another client")
	}
	now := s.now()
	switch {
	case row.Status == deviceStatusRedeemed:
		return nil, oauth.InvalidGrant("the device code was already used")
	case !now.Before(row.ExpiresAt):
		return nil, oauth.ExpiredToken("the device code expired; start over")
	case row.Status == deviceStatusDenied:
		return nil, oauth.AccessDenied("the user denied the request")
	case row.Status == deviceStatusPending:
		return nil, s.pacePoll(ctx, row, now)
	}
	return s.redeemDevice(ctx, client, row, now, meta)
}

// pacePoll counts a poll of a pending request: slow_down when it came
// sooner than the interval after the last one (which raises the interval),
// authorization_pending otherwise.
func (s *Service) pacePoll(ctx context.Context, row *deviceRow, now time.Time) error {
	early := row.LastPolledAt != nil && now.Before(row.LastPolledAt.Add(time.Duration(row.IntervalSecs)*time.Second))
	won, err := s.store.pollDevice(ctx, row.DeviceHash, row.Polls, now, early)
	if err != nil {
		return fmt.Errorf("record device poll: %w", err)
	}
	if !won {
		// Another poll of this code landed between our read and our write:
		// two polls at once are too fast by definition — unless it was the
		// user's answer, which the next poll will see.
		if cur, err := s.store.deviceBy(ctx, "device_hash", row.DeviceHash); err == nil && cur.Status != deviceStatusPending {
			return oauth.AuthorizationPending("the user has just answered; poll again")
		}
		if err := s.store.slowDevice(ctx, row.DeviceHash, now); err != nil {
			return fmt.Errorf("record device poll: %w", err)
		}
		early = true
	}
	if early {
		return oauth.SlowDown("polling too fast; add 5 seconds to the interval")
	}
	return oauth.AuthorizationPending("the user has not answered yet")
}

// redeemDevice claims an approved request and builds its grant, with a
// refresh family when the client may refresh and offline_access was
// approved; claim and family are one unit, as for a code.
func (s *Service) redeemDevice(ctx context.Context, client *clients.Client, row *deviceRow, now time.Time, meta Meta) (*Grant, error) {
	scopes, _ := oauth.ParseScope(row.Scope)
	// A device request names no resource (RFC 8628 has none): the client's
	// default resource, when it has one, is the audience.
	audience := client.Audience(nil)
	terms, err := s.accessPolicy(ctx, client.SigningAlg, audience, now)
	if err != nil {
		return nil, err
	}
	g := &Grant{
		ClientID: row.ClientID, UserID: row.UserID, SessionID: row.SessionID, Scopes: scopes, Resources: audience,
		AMR: strings.Fields(row.AMR), ACR: row.ACR, JTI: oauth.NewSecret(16), AccessExpiresAt: terms.exp, AccessAlg: terms.alg,
		UpstreamID: row.UpstreamID, UpstreamSub: row.UpstreamSub,
	}
	if row.AuthTime != nil {
		g.AuthTime = *row.AuthTime
	}
	var family *familyRow
	var first *refreshRow
	if client.AllowsGrant(clients.GrantRefreshToken) && slices.Contains(scopes, oauth.ScopeOfflineAccess) {
		g.RefreshFamily, g.RefreshToken = oauth.NewSecret(16), oauth.NewSecret(32)
		family, first = s.newFamily(g, now, meta)
		family.DPoPJKT = familyKey(ctx, client) // RFC 9449 §5
	}
	var won bool
	err = s.store.tx(ctx, func(ctx context.Context) error {
		var err error
		if won, err = s.store.claimDevice(ctx, row.DeviceHash, now); err != nil || !won {
			return err
		}
		if family != nil {
			return s.store.createFamily(ctx, family, first)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim device code: %w", err)
	}
	if !won {
		return nil, oauth.InvalidGrant("the device code was already used")
	}
	s.audit(ctx, "device.token_issued", row.ClientID, "user="+row.UserID+" scope="+row.Scope)
	g.Scopes = terms.allowed(scopes) // this access token's; the family keeps the grant's
	return g, nil
}
