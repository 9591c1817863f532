package protocol

// logoutDiscovery is the discovery metadata of OpenID Connect
// Back-Channel Logout 1.0 §2.1 and Front-Channel Logout 1.0 §3.
type logoutDiscovery struct {
	BackchannelLogoutSupported         bool `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported  bool `json:"backchannel_logout_session_supported"`
	FrontchannelLogoutSupported        bool `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported bool `json:"frontchannel_logout_session_supported"`
}

// logoutSupported: every logout token carries sid, and a front-channel
// URI gets iss and sid when its client asks.
var logoutSupported = logoutDiscovery{true, true, true, true}
