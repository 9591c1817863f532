package main

import (
	"sync"
	"time"

	"idp/verifier"
)

// session is one signed-in browser. It lives only in this process's
// memory; the browser holds nothing but its random id.
type session struct {
	id      string    // the cookie value
	csrf    string    // the sign-out form's token
	expires time.Time // absolute end of the app session

	// mu serialises token use: a request that finds the access token
	// expired refreshes while holding it, so concurrent requests of one
	// browser cause one refresh and all see the rotated refresh token.
	mu           sync.Mutex
	dropped      bool // removed from the store; a waiting request must not revive it
	sub          string
	email        string
	name         string
	idToken      string // kept for id_token_hint at sign-out
	accessToken  string
	refreshToken string
}

// user is what a handler learns about the signed-in user: a copy, so it
// can be read without the session's lock.
type user struct {
	Subject       string    `json:"sub"`
	Email         string    `json:"email"`
	Name          string    `json:"name,omitempty"`
	Roles         []string  `json:"roles"`
	Scope         string    `json:"scope"`
	AccessExpires time.Time `json:"access_token_expires_at"`
	csrf          string
}

// userOf copies what handlers need; the caller holds s.mu.
func (s *session) userOf(c *verifier.AccessClaims) *user {
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	return &user{Subject: s.sub, Email: s.email, Name: s.name, Roles: roles, Scope: c.Scope,
		AccessExpires: c.ExpiresAt, csrf: s.csrf}
}

// sessionStore is the in-memory table of sessions.
type sessionStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*session
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, m: map[string]*session{}}
}

// add stores s and forgets sessions past their end, so the table does not
// grow with browsers that never sign out.
func (st *sessionStore) add(s *session) {
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for id, old := range st.m {
		if !now.Before(old.expires) {
			delete(st.m, id)
		}
	}
	st.m[s.id] = s
}

// get returns the live session id, or nil.
func (st *sessionStore) get(id string) *session {
	if id == "" {
		return nil
	}
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[id]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(st.m, id)
		return nil
	}
	return s
}

// remove deletes session id and reports whether it was there.
func (st *sessionStore) remove(id string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.m[id]
	delete(st.m, id)
	return ok
}

// len is the number of stored sessions, for tests.
func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}
