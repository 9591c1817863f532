package app

import "idp/logout"

// wireLogout builds the back- and front-channel logout service and hooks
// it into the two places it listens to: code redemption (which clients
// are in which session) and every end of a session (queue their logouts
// in the same transaction, then wake the delivery loop).
func (a *App) wireLogout() {
	a.Logout = logout.NewService(logout.NewStore(a.DB.Gorm), a.Clients.Store(), a.Keys, logout.Config{
		Issuer: a.cfg.Server.Issuer, Audit: a.Audit, Now: a.cfg.Now, Logger: a.cfg.Logger,
	})
	a.Sessions.OnEnd(a.Logout.SessionsEnded, a.Logout.Wake)
	a.Tokens.OnSessionGrant(a.Logout.SessionGranted)
}
