package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cred is a confidential client's id and secret.
type Cred struct{ ID, Secret string }

// Config is everything one invocation does.
type Config struct {
	Issuer       string
	Scenarios    []string
	Concurrency  int
	Duration     time.Duration
	Warmup       time.Duration
	User         string
	Password     string
	Client       Cred   // the browser-flow client (code, sso, refresh, userinfo, mix)
	RedirectURI  string // registered for Client; never contacted
	CCClients    []Cred // client_credentials clients, one run each; default Client
	CCScope      string
	Mix          map[string]int
	JSON         bool
	VerifySample int
	Reference    bool
	BareURL      string // a bare handler in its own process (`idpbench bare`)
	ReuseGrace   time.Duration
	SetupConc    int
	Timeout      time.Duration

	// Another provider (bench/side-by-side.sh drives node-oidc-provider):
	// RefreshTokenURL, on the issuer's origin, hands out refresh tokens for
	// the refresh scenario's set-up instead of a browser sign-in;
	// AccessAudience is the aud its access tokens carry (default: the
	// client id, as idp issues them); ServerPID lets a server without
	// /metrics be measured by its CPU time in /proc.
	RefreshTokenURL string
	AccessAudience  string
	ServerPID       int

	// Out receives the report.
	Out io.Writer
	// Sleep waits out the refresh reuse grace window; tests swap it for a
	// clock advance.
	Sleep func(time.Duration)
}

// scenarioNames lists the scenarios in the order they run.
var scenarioNames = []string{"jwks", "discovery", "client_credentials", "refresh", "code", "sso", "userinfo", "mix"}

// defaultMix is the issue-7 load: what many relying services do at once.
// "code" here is a code exchange with a live session (authorize + token);
// "login" (a full sign-in with argon2id) may be added with --mix.
var defaultMix = map[string]int{"code": 25, "refresh": 30, "client_credentials": 20, "userinfo": 15, "jwks": 10}

var errHelp = errors.New("help requested")

type credList []Cred

func (c *credList) String() string { return fmt.Sprint(len(*c)) }
func (c *credList) Set(v string) error {
	id, secret, ok := strings.Cut(v, ":")
	if !ok || id == "" || secret == "" {
		return fmt.Errorf("want ID:SECRET, got %q", v)
	}
	*c = append(*c, Cred{id, secret})
	return nil
}

// parseFlags reads the command line into a Config.
func parseFlags(args []string, errOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet("idpbench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg Config
	var scen, mix string
	var cc credList
	fs.StringVar(&cfg.Issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the running idp (only this host is contacted)")
	fs.StringVar(&scen, "scenario", "jwks,discovery,client_credentials,refresh,code,sso,userinfo",
		"comma list of "+strings.Join(scenarioNames, ", "))
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "concurrent workers (virtual clients)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured time before each scenario's measurement")
	fs.StringVar(&cfg.User, "user", "bench@example.com", "email of the user who signs in")
	fs.StringVar(&cfg.Password, "password", "", "that user's password")
	fs.StringVar(&cfg.Client.ID, "client-id", "bench-web", "client of the browser flows (trusted, offline_access; also client_credentials when no --cc-client)")
	fs.StringVar(&cfg.Client.Secret, "client-secret", "", "its secret")
	fs.StringVar(&cfg.RedirectURI, "redirect-uri", "http://127.0.0.1:1/cb", "its registered redirect URI (read from Location, never contacted)")
	fs.Var(&cc, "cc-client", "ID:SECRET of a client_credentials client, repeatable: one client_credentials run each (e.g. an RS256 and an ES256 client)")
	fs.StringVar(&cfg.CCScope, "cc-scope", "", "scope asked for in client_credentials (empty: the client's own non-user scopes)")
	fs.StringVar(&mix, "mix", "", "weights of the mix, e.g. code=25,refresh=30,client_credentials=20,userinfo=15,jwks=10,login=0")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON lines instead of tables")
	fs.IntVar(&cfg.VerifySample, "verify-sample", 100, "verify signature and claims of 1 in N tokens and responses (0: never)")
	fs.BoolVar(&cfg.Reference, "reference", false, "also measure a bare handler, raw signing and raw argon2id, and print ratios")
	fs.StringVar(&cfg.BareURL, "bare-url", "", "with --reference: base URL of `idpbench bare` in its own process, measured and compared too")
	fs.DurationVar(&cfg.ReuseGrace, "refresh-reuse-grace", 10*time.Second, "the server's --refresh-reuse-grace: how long the reuse check waits")
	fs.IntVar(&cfg.SetupConc, "setup-concurrency", 16, "workers signing in at once before a scenario starts")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&cfg.RefreshTokenURL, "refresh-token-url", "",
		"refresh set-up without a sign-in: POST here (on the issuer's origin) with the browser-flow client's Basic credentials for {\"refresh_token\": …} (bench/node-oidc-provider)")
	fs.StringVar(&cfg.AccessAudience, "access-audience", "", "the aud access tokens must carry (empty: the client id, as idp issues them)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "pid of the server on this machine: its CPU time from /proc/PID/stat, for a server without idp's /metrics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.CCClients = cc
	var err error
	if cfg.Scenarios, err = parseScenarios(scen); err != nil {
		return cfg, err
	}
	if cfg.Mix, err = parseMix(mix); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func parseScenarios(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !contains(scenarioNames, name) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", name, strings.Join(scenarioNames, ", "))
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario")
	}
	return out, nil
}

// parseMix reads "name=weight,..."; empty is the default mix.
func parseMix(s string) (map[string]int, error) {
	if s == "" {
		return defaultMix, nil
	}
	m := map[string]int{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("mix entry %q: want name=weight", part)
		}
		if _, known := mixOps[name]; !known {
			return nil, fmt.Errorf("mix entry %q: unknown operation (want %s)", name, strings.Join(mixOpNames(), ", "))
		}
		m[name] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("mix weights add up to zero")
	}
	return m, nil
}

func mixOpNames() []string {
	var names []string
	for n := range mixOps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *Config) validate() error {
	var errs []error
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--issuer %q is not an http(s) URL", c.Issuer))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("--concurrency must be at least 1"))
	}
	if c.Duration <= 0 || c.Warmup < 0 {
		errs = append(errs, errors.New("--duration must be positive and --warmup not negative"))
	}
	if c.SetupConc < 1 {
		c.SetupConc = 1
	}
	// With --refresh-token-url the refresh scenario signs nobody in.
	signIn := []string{"refresh", "code", "sso", "userinfo", "mix"}
	if c.RefreshTokenURL != "" {
		signIn = signIn[1:]
		if !sameOrigin(c.RefreshTokenURL, c.Issuer) {
			errs = append(errs, fmt.Errorf("--refresh-token-url %q is not on the issuer's origin", c.RefreshTokenURL))
		}
	}
	needUser, needClient := false, false
	for _, s := range c.Scenarios {
		needUser = needUser || contains(signIn, s)
		needClient = needClient || contains(signIn, s) || s == "refresh"
	}
	if needUser && c.Password == "" {
		errs = append(errs, errors.New("the browser-flow scenarios need --password"))
	}
	if needClient && c.Client.Secret == "" {
		errs = append(errs, errors.New("the browser-flow and refresh scenarios need --client-secret"))
	}
	if c.ServerPID < 0 {
		errs = append(errs, errors.New("--server-pid must not be negative"))
	}
	if contains(c.Scenarios, "client_credentials") && len(c.CCClients) == 0 && c.Client.Secret == "" {
		errs = append(errs, errors.New("client_credentials needs --cc-client ID:SECRET or --client-secret"))
	}
	return errors.Join(errs...)
}

// ccClients is who client_credentials runs as.
func (c *Config) ccClients() []Cred {
	if len(c.CCClients) > 0 {
		return c.CCClients
	}
	return []Cred{c.Client}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// procs is how many threads the raw reference loops use.
func procs() int { return runtime.GOMAXPROCS(0) }
