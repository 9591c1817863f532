package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"idp/db"
	"idp/keys"
	"idp/mail"
)

// setting is one configuration value: a flag, its environment variable and
// its default. Flag beats environment beats default (CONTRACT.md).
type setting struct {
	flag, env, def, usage string
	value                 string // resolved
	source                string // "flag", "env" or "default"
	// boolean makes the flag a switch: --flag alone is --flag=true.
	boolean bool
}

// settings is an ordered set of settings registered on one FlagSet.
type settings struct {
	list []*setting
	raw  map[string]*string
}

// register adds the settings to fs; resolve must be called after fs.Parse.
func register(fs *flag.FlagSet, list ...setting) *settings {
	s := &settings{raw: map[string]*string{}}
	for i := range list {
		st := list[i]
		usage := st.usage + " (env " + st.env
		if st.def != "" {
			usage += ", default " + st.def
		}
		if st.boolean {
			s.raw[st.flag] = boolSwitch(fs, st.flag, usage+")")
		} else {
			s.raw[st.flag] = fs.String(st.flag, "", usage+")")
		}
		s.list = append(s.list, &st)
	}
	return s
}

// resolve applies flag > environment > default.
func (s *settings) resolve(fs *flag.FlagSet, getenv func(string) string) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, st := range s.list {
		switch {
		case set[st.flag]:
			st.value, st.source = *s.raw[st.flag], "flag"
		case getenv(st.env) != "":
			st.value, st.source = getenv(st.env), "env"
		default:
			st.value, st.source = st.def, "default"
		}
	}
}

// get returns a resolved value by flag name.
func (s *settings) get(name string) *setting {
	for _, st := range s.list {
		if st.flag == name {
			return st
		}
	}
	panic("config: unknown setting " + name) // programmer error at init
}

// The settings of CONTRACT.md's table, shared by every command that needs them.
var (
	sDatabase      = setting{flag: "database", env: "IDP_DATABASE", def: "idp.db", usage: "SQLite file path, or a postgres:// URL"}
	sMasterKeyFile = setting{flag: "master-key-file", env: "IDP_MASTER_KEY_FILE", def: "", usage: "32-byte key encrypting private signing keys at rest; default <database>.master.key beside a SQLite file, generated (0600) if missing; required for PostgreSQL"}
	sIssuer        = setting{flag: "issuer", env: "IDP_ISSUER", def: "http://localhost:8080", usage: "issuer URL, the exact iss of every token"}
	sAddr          = setting{flag: "addr", env: "IDP_ADDR", def: ":8080", usage: "listen address"}
	sAccessTTL     = setting{flag: "access-token-ttl", env: "IDP_ACCESS_TOKEN_TTL", def: "10m", usage: "access and ID token lifetime"}
	sRefreshTTL    = setting{flag: "refresh-token-ttl", env: "IDP_REFRESH_TOKEN_TTL", def: "720h", usage: "refresh token absolute lifetime"}
	sRefreshIdle   = setting{flag: "refresh-token-idle-ttl", env: "IDP_REFRESH_TOKEN_IDLE_TTL", def: "336h", usage: "a refresh token unused this long expires (capped by --refresh-token-ttl)"}
	sReuseGrace    = setting{flag: "refresh-reuse-grace", env: "IDP_REFRESH_REUSE_GRACE", def: "10s", usage: "window in which a refresh token retried by the same client gets the same new tokens; 0s is strict"}
	sRotation      = setting{flag: "key-rotation-interval", env: "IDP_KEY_ROTATION_INTERVAL", def: "720h", usage: "how often each algorithm's active signing key is replaced"}
	sJWKSMaxAge    = setting{flag: "jwks-max-age", env: "IDP_JWKS_MAX_AGE", def: "5m", usage: "Cache-Control max-age of the JWKS; a next key is published at least this long before it signs"}
	sThrottleAfter = setting{flag: "signin-throttle-after", env: "IDP_SIGNIN_THROTTLE_AFTER", def: "5", usage: "failed sign-ins per account and address before each further one doubles the wait (an address alone gets 4x)"}
	sLockout       = setting{flag: "signin-lockout", env: "IDP_SIGNIN_LOCKOUT", def: "15m", usage: "longest wait imposed after repeated failed sign-ins"}
	sTokenRate     = setting{flag: "token-rate-limit", env: "IDP_TOKEN_RATE_LIMIT", def: "0", usage: "token endpoint requests per second allowed per client on each replica, bursts of twice that; 0 is off"}
	sOTLP          = setting{flag: "otlp-endpoint", env: "IDP_OTLP_ENDPOINT", def: "", usage: "OpenTelemetry collector base URL for traces over OTLP/HTTP (e.g. http://otel-collector:4318); empty: off, unless the standard OTEL_EXPORTER_OTLP_ENDPOINT is set"}
	sLogFormat     = setting{flag: "log-format", env: "IDP_LOG_FORMAT", def: "text", usage: "log format: text or json"}
)

// The scale-out settings: database pool sizes for serve and the admin
// commands, and the reverse proxies serve believes about client addresses.
var (
	sDBMaxOpen      = setting{flag: "db-max-open-conns", env: "IDP_DB_MAX_OPEN_CONNS", def: "0", usage: "most open database connections per process; 0 takes the built-in default (16 PostgreSQL, 8 SQLite)"}
	sDBMaxIdle      = setting{flag: "db-max-idle-conns", env: "IDP_DB_MAX_IDLE_CONNS", def: "0", usage: "most idle database connections kept open; 0 keeps as many as --db-max-open-conns"}
	sDBStmtTimeout  = setting{flag: "db-statement-timeout", env: "IDP_DB_STATEMENT_TIMEOUT", def: "0s", usage: "PostgreSQL aborts any statement running longer (migrations included); 0s is none; PostgreSQL only"}
	sMFARoles       = setting{flag: "mfa-required-roles", env: "IDP_MFA_REQUIRED_ROLES", def: "", usage: "comma-separated roles whose users must sign in with a second factor (enrolling one first if they have none) and whose password-only sessions open neither /admin nor the admin API; the production guide recommends admin"}
	sTrustedProxies = setting{flag: "trusted-proxies", env: "IDP_TRUSTED_PROXIES", def: "", usage: "comma-separated CIDRs (or IPs) of reverse proxies whose X-Forwarded-For names the client; empty: the client is the TCP peer and X-Forwarded-For is ignored"}
)

// The mail settings (issue #15): without --smtp-url the flows that need
// mail (password reset) are off and no page offers them.
var (
	sSMTPURL       = setting{flag: "smtp-url", env: "IDP_SMTP_URL", def: "", usage: "outbound mail: smtp://user:pass@host:port (STARTTLS required; add ?tls=none for a local relay), smtps://… (implicit TLS), or log: to write each message to the log in development; empty: mail is off"}
	sSignup        = setting{flag: "signup", env: "IDP_SIGNUP", def: "closed", usage: "self sign-up: open (the sign-in page links a registration page; needs --smtp-url), invite-only (accounts come by invitation) or closed"}
	sSignupDomains = setting{flag: "signup-domains", env: "IDP_SIGNUP_DOMAINS", def: "", usage: "with --signup open: comma-separated email domains that may register (e.g. example.com); empty: any"}
	sThemeDir      = setting{flag: "theme-dir", env: "IDP_THEME_DIR", def: "", usage: "folder whose files replace the embedded pages (login.html …), static files (static/style.css, a logo) and mail templates (mail/password_reset.html …) by name; checked at start"}
	sMailFrom      = setting{flag: "mail-from", env: "IDP_MAIL_FROM", def: "", usage: "sender of idp's mail, e.g. 'Example Login <login@example.com>'; required with --smtp-url"}
)

// The registration settings (issue #16): who may use the registration
// endpoint (RFC 7591), and how long an open registration may go unused.
var (
	sRegistration     = setting{flag: "registration", env: "IDP_REGISTRATION", def: "token", usage: "dynamic client registration: token (an initial access token from 'idp clients registration-token create' is required), open (anyone may register a public PKCE client, throttled) or closed (no registration endpoint)"}
	sRegistrationIdle = setting{flag: "registration-idle-ttl", env: "IDP_REGISTRATION_IDLE_TTL", def: "720h", usage: "an open registration that obtains no token for this long is deleted"}
)

// dbSettings are the database pool settings, taken by serve and by every
// admin command.
func dbSettings() []setting { return []setting{sDBMaxOpen, sDBMaxIdle, sDBStmtTimeout} }

// Config is the validated configuration of serve (and the subset the admin
// commands use).
type Config struct {
	// TuneGC lets serve steer GOGC (tuneGC); runServe sets it when the
	// environment leaves GOGC to idp. Not a setting.
	TuneGC bool
	// Now is the clock (default: the system clock in UTC); tests move a
	// server and the admin commands through simulated time with it. Not a
	// setting.
	Now func() time.Time
	// Serving marks the configuration of `idp serve`, whose key manager
	// publishes the JWKS and records its policy; admin commands judge the
	// key schedule from the recorded policies instead. Not a setting.
	Serving           bool
	Issuer            string
	Addr              string
	Database          string
	MasterKeyFile     string
	AccessTokenTTL    time.Duration
	RefreshTokenTTL   time.Duration
	RefreshIdleTTL    time.Duration
	RefreshReuseGrace time.Duration
	RotationInterval  time.Duration
	JWKSMaxAge        time.Duration
	LogFormat         string
	// OTLPEndpoint turns tracing on: a collector URL, or "env" for the
	// standard OTEL_EXPORTER_OTLP_* variables.
	OTLPEndpoint   string
	ThrottleAfter  int
	SigninLockout  time.Duration
	TokenRateLimit float64
	// DB tunes the connection pool (--db-max-open-conns,
	// --db-max-idle-conns, --db-statement-timeout).
	DB db.Options
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	TrustedProxies []*net.IPNet
	// MFARequiredRoles are the roles that must use a second factor.
	MFARequiredRoles []string
	// Registration is who may register clients at the registration
	// endpoint: token, open or closed; RegistrationIdleTTL is how long an
	// open registration may go unused.
	Registration        string
	RegistrationIdleTTL time.Duration
	// SMTPURL is --smtp-url (it may hold a password: show it only through
	// mail.Redact); MailFrom is --mail-from.
	SMTPURL  string
	MailFrom mail.Address
	// ThemeDir is --theme-dir.
	ThemeDir string
	// Signup is --signup (open, invite-only, closed); SignupDomains the
	// domains open sign-up accepts (none: any).
	Signup        string
	SignupDomains []string
	// RequirePAR is --require-par: every authorization request must be
	// pushed first (RFC 9126).
	RequirePAR bool
	// DPoPNonce is --dpop-nonce; DPoPWindow is --dpop-proof-window.
	DPoPNonce  bool
	DPoPWindow time.Duration
	// NoPasswordLogin is --password-login=false: people sign in only
	// through upstream providers (or a passkey).
	NoPasswordLogin bool
	// UpstreamCheckInterval is --upstream-check-interval.
	UpstreamCheckInterval time.Duration
}

// now reads c.Now, or the system clock in UTC.
func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now().UTC()
}

// problems collects every configuration error so they are reported together.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// duration parses one duration setting within [min, max].
func (p *problems) duration(s *setting, min, max time.Duration) time.Duration {
	d, err := time.ParseDuration(s.value)
	switch {
	case err != nil:
		p.add("--%s: %q is not a duration (e.g. 10m, 720h)", s.flag, s.value)
	case d < min:
		p.add("--%s must be at least %s", s.flag, min)
	case max > 0 && d > max:
		p.add("--%s must be at most %s", s.flag, max)
	}
	return d
}

// buildConfig validates the resolved settings of s into a Config. Settings
// that s does not carry keep their zero value.
func buildConfig(s *settings) (Config, error) {
	var c Config
	var p problems
	has := func(name string) bool {
		for _, st := range s.list {
			if st.flag == name {
				return true
			}
		}
		return false
	}
	c.Database = s.get("database").value
	if c.Database == "" {
		p.add("--database must not be empty")
	}
	if has("master-key-file") {
		c.MasterKeyFile = s.get("master-key-file").value
		if c.MasterKeyFile == "" && db.IsPostgres(c.Database) {
			p.add("--master-key-file is required with a PostgreSQL database")
		}
		if c.MasterKeyFile == "" && c.Database != "" && !db.IsPostgres(c.Database) {
			c.MasterKeyFile = defaultMasterKeyFile(c.Database)
		}
	}
	if has("issuer") {
		c.Issuer = s.get("issuer").value
		if err := validateIssuer(c.Issuer); err != nil {
			p.add("%v", err)
		}
	} else {
		// Admin commands have no --issuer setting (idp upstreams uses the
		// flag for the upstream's), yet print idp's own URLs, such as the
		// redirect URI to register at an upstream: IDP_ISSUER says it.
		c.Issuer = cmp.Or(osGetenv(sIssuer.env), sIssuer.def)
		if err := validateIssuer(c.Issuer); err != nil {
			p.add("%s: %v", sIssuer.env, err)
		}
	}
	if has("addr") {
		c.Addr = s.get("addr").value
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			p.add("--addr: %q is not host:port (e.g. :8080)", c.Addr)
		}
	}
	if has("access-token-ttl") {
		c.AccessTokenTTL = p.duration(s.get("access-token-ttl"), time.Second, 24*time.Hour)
	}
	if has("refresh-token-ttl") {
		c.RefreshTokenTTL = p.duration(s.get("refresh-token-ttl"), time.Minute, 0)
	}
	if has("refresh-token-idle-ttl") {
		c.RefreshIdleTTL = p.duration(s.get("refresh-token-idle-ttl"), time.Minute, 0)
	}
	if has("refresh-reuse-grace") {
		c.RefreshReuseGrace = p.duration(s.get("refresh-reuse-grace"), 0, 5*time.Minute)
	}
	if has("jwks-max-age") {
		c.JWKSMaxAge = p.duration(s.get("jwks-max-age"), 0, 24*time.Hour)
	}
	if has("key-rotation-interval") {
		// A next key is published at one rotation and signs at the next: the
		// interval must leave relying services the max-age, plus the time
		// replicas take to load the key, to fetch it.
		c.RotationInterval = p.duration(s.get("key-rotation-interval"), time.Second, 0)
		prop := keys.CacheTTLFor(c.JWKSMaxAge)
		if floor := c.JWKSMaxAge + prop; c.RotationInterval > 0 && c.RotationInterval <= floor {
			p.add("--key-rotation-interval must be longer than --jwks-max-age plus the %s replicas take to load a new key (%s), or a next key could sign before relying services have seen it",
				prop, floor)
		}
	}
	if has("signin-throttle-after") {
		n, err := strconv.Atoi(s.get("signin-throttle-after").value)
		if err != nil || n < 1 || n > 1000 {
			p.add("--signin-throttle-after must be a whole number from 1 to 1000")
		}
		c.ThrottleAfter = n
	}
	if has("signin-lockout") {
		c.SigninLockout = p.duration(s.get("signin-lockout"), time.Second, 24*time.Hour)
	}
	if has("token-rate-limit") {
		f, err := strconv.ParseFloat(s.get("token-rate-limit").value, 64)
		if err != nil || f < 0 || f > 1e6 {
			p.add("--token-rate-limit must be a number of requests per second, 0 for no limit")
		}
		c.TokenRateLimit = f
	}
	if has("log-format") {
		c.LogFormat = s.get("log-format").value
		if c.LogFormat != "text" && c.LogFormat != "json" {
			p.add("--log-format must be text or json, not %q", c.LogFormat)
		}
	}
	if s.has("otlp-endpoint") {
		c.OTLPEndpoint = s.get("otlp-endpoint").value
		if c.OTLPEndpoint != "" {
			if u, err := url.Parse(c.OTLPEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.add("--otlp-endpoint must be an http or https URL, not %q", c.OTLPEndpoint)
			}
		} else if osGetenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || osGetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			c.OTLPEndpoint = "env"
		}
	}
	p.scaleOut(s, &c)
	p.mail(s, &c)
	p.signup(s, &c)
	p.par(s, &c)
	p.dpop(s, &c)
	p.passwordLogin(s, &c)
	p.upstreamCheck(s, &c)
	if s.has("theme-dir") {
		if c.ThemeDir = s.get("theme-dir").value; c.ThemeDir != "" {
			if fi, err := os.Stat(c.ThemeDir); err != nil || !fi.IsDir() {
				p.add("--theme-dir: %q is not a folder", c.ThemeDir)
			}
		}
	}
	return c, p.err()
}

// has reports whether the command registered the setting.
func (s *settings) has(name string) bool {
	for _, st := range s.list {
		if st.flag == name {
			return true
		}
	}
	return false
}

// scaleOut validates the pool and proxy settings into c. It runs after the
// database is known: the statement timeout exists only on PostgreSQL.
func (p *problems) scaleOut(s *settings, c *Config) {
	conns := func(name string) int {
		v := s.get(name).value
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10000 {
			p.add("--%s must be a whole number from 0 to 10000, not %q", name, v)
		}
		return n
	}
	if s.has("db-max-open-conns") {
		c.DB.MaxOpenConns = conns("db-max-open-conns")
	}
	if s.has("db-max-idle-conns") {
		c.DB.MaxIdleConns = conns("db-max-idle-conns")
		if c.DB.MaxOpenConns > 0 && c.DB.MaxIdleConns > c.DB.MaxOpenConns {
			p.add("--db-max-idle-conns (%d) must not exceed --db-max-open-conns (%d)", c.DB.MaxIdleConns, c.DB.MaxOpenConns)
		}
	}
	if s.has("db-statement-timeout") {
		c.DB.StatementTimeout = p.duration(s.get("db-statement-timeout"), 0, 24*time.Hour)
		switch {
		case c.DB.StatementTimeout > 0 && c.DB.StatementTimeout < 100*time.Millisecond:
			p.add("--db-statement-timeout must be 0s or at least 100ms")
		case c.DB.StatementTimeout > 0 && c.Database != "" && !db.IsPostgres(c.Database):
			p.add("--db-statement-timeout applies to PostgreSQL only; leave it 0s with a SQLite database")
		}
	}
	if s.has("trusted-proxies") {
		nets, err := parseCIDRs(s.get("trusted-proxies").value)
		if err != nil {
			p.add("--trusted-proxies: %v", err)
		}
		c.TrustedProxies = nets
	}
	if s.has("registration") {
		switch c.Registration = s.get("registration").value; c.Registration {
		case "token", "open", "closed":
		default:
			p.add("--registration must be token, open or closed, not %q", c.Registration)
		}
	}
	if s.has("registration-idle-ttl") {
		d, err := time.ParseDuration(s.get("registration-idle-ttl").value)
		if err != nil || d < time.Hour {
			p.add("--registration-idle-ttl must be a duration of at least 1h, not %q", s.get("registration-idle-ttl").value)
		}
		c.RegistrationIdleTTL = d
	}
	if s.has("mfa-required-roles") {
		for _, r := range strings.Split(s.get("mfa-required-roles").value, ",") {
			switch r = strings.TrimSpace(r); {
			case r == "":
			case !validRole(r):
				p.add("--mfa-required-roles: %q is not a role name (letters, digits, '.', '_', ':' and '-')", r)
			default:
				c.MFARequiredRoles = append(c.MFARequiredRoles, r)
			}
		}
	}
}

// mail validates --smtp-url and --mail-from into c. A problem names the
// URL only redacted: it may carry the relay's password.
func (p *problems) mail(s *settings, c *Config) {
	if !s.has("smtp-url") {
		return
	}
	c.SMTPURL = strings.TrimSpace(s.get("smtp-url").value)
	from := strings.TrimSpace(s.get("mail-from").value)
	if c.SMTPURL != "" {
		// Building the sender checks scheme, host, port, tls and
		// credentials without connecting; its errors are redacted.
		if _, err := mail.NewSender(c.SMTPURL, nil, mail.SMTPOptions{}); err != nil {
			p.add("--smtp-url: %v", err)
		}
	}
	switch {
	case from == "" && c.SMTPURL != "":
		p.add("--mail-from is required with --smtp-url (e.g. 'Example Login <login@example.com>')")
	case from != "" && c.SMTPURL == "":
		p.add("--mail-from is set but --smtp-url is not: no mail would be sent")
	case from != "":
		a, err := mail.ParseAddress(from)
		if err != nil {
			p.add("--mail-from: %v", err)
		}
		c.MailFrom = a
	}
}

// signup validates --signup and --signup-domains into c.
func (p *problems) signup(s *settings, c *Config) {
	if !s.has("signup") {
		return
	}
	switch c.Signup = strings.TrimSpace(s.get("signup").value); c.Signup {
	case "closed", "invite-only":
	case "open":
		if c.SMTPURL == "" {
			p.add("--signup open needs --smtp-url: sign-up mails a link to confirm the address")
		}
	default:
		p.add("--signup must be open, invite-only or closed, not %q", c.Signup)
	}
	for _, d := range strings.Split(s.get("signup-domains").value, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "":
		case strings.ContainsAny(d, "@ /") || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, "."):
			p.add("--signup-domains: %q is not a domain such as example.com", d)
		default:
			c.SignupDomains = append(c.SignupDomains, d)
		}
	}
	if len(c.SignupDomains) > 0 && c.Signup != "open" {
		p.add("--signup-domains needs --signup open")
	}
}

// validRole accepts the role names people write: no spaces or commas.
func validRole(r string) bool {
	if len(r) > 64 {
		return false
	}
	for _, ch := range r {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.ContainsRune("._:-", ch)
		if !ok {
			return false
		}
	}
	return true
}

// parseCIDRs parses a comma-separated list of CIDRs; a bare IP is a
// single-address network.
func parseCIDRs(list string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if ip := net.ParseIP(f); ip != nil {
			bits := 8 * len(ip.To16())
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			f = fmt.Sprintf("%s/%d", ip, bits)
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an IP address", f)
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// validateIssuer enforces OIDC Discovery §3: an https (or, for development,
// http) URL with no query or fragment; a trailing slash would make the
// discovery URL and iss disagree with what relying services configure.
func validateIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		strings.HasSuffix(issuer, "?") || strings.HasSuffix(issuer, "#") {
		return fmt.Errorf("--issuer must be an absolute URL without query or fragment, not %q", issuer)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("--issuer must use https (or http for local development), not %q", u.Scheme)
	}
	if strings.HasSuffix(u.Path, "/") {
		return fmt.Errorf("--issuer must not end with a slash: %q", issuer)
	}
	return nil
}

// defaultMasterKeyFile puts the master key beside the SQLite file.
func defaultMasterKeyFile(database string) string {
	return filepath.Join(filepath.Dir(database), filepath.Base(database)+".master.key")
}

// osGetenv is swapped in tests.
var osGetenv = os.Getenv
