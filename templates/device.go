package templates

import "io"

// The steps of the device page (RFC 8628 §3.3).
const (
	// DeviceEnter: a form posting csrf_token and user_code to /device.
	DeviceEnter = "enter"
	// DeviceConfirm: the client, its scopes and a form posting csrf_token,
	// user_code and decision=approve|deny to /device/decide.
	DeviceConfirm = "confirm"
	// DeviceApproved and DeviceDenied: the outcome; the user may close
	// the window.
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DevicePage is where a user signed in on this browser lets a device (a
// TV, a command-line tool) act for them, by the code the device shows.
type DevicePage struct {
	Base
	Step string
	// UserCode is the code being entered (prefilled from
	// verification_uri_complete) or confirmed, as XXXX-XXXX.
	UserCode string
	// Error says in plain words why the last code was refused.
	Error string
	// The device's client and what it asks for, on DeviceConfirm and the
	// outcome steps.
	ClientName string
	ClientID   string
	Client     ClientBrand
	UserEmail  string
	Scopes     []ScopeLine
}

// Device renders the device page.
func (s *Set) Device(w io.Writer, p DevicePage) error { return s.render(w, "device", p) }
