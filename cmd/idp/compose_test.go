package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Docker cannot run in CI, so these tests keep the container files honest
// by reading them: every setting, subcommand, flag, port, secret path and
// service name they mention must exist in the binary and agree with each
// other.

// compose is the part of a Compose file the checks read.
type compose struct {
	Services map[string]*service `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

type service struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Secrets     []string          `yaml:"secrets"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Networks map[string]*struct {
		IPv4Address string `yaml:"ipv4_address"`
	} `yaml:"networks"`
}

// repoFile reads a file at the repository root.
func repoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCompose(t *testing.T, name string) *compose {
	t.Helper()
	var c compose
	dec := yaml.NewDecoder(bytes.NewReader(repoFile(t, name)))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(c.Services) == 0 {
		t.Fatalf("%s: no services", name)
	}
	return &c
}

// knownEnv maps every IDP_* variable of serve and the admin commands to its
// setting.
func knownEnv() map[string]setting {
	m := map[string]setting{}
	for _, s := range append(serveSettings(), adminSettings()...) {
		m[s.env] = s
	}
	return m
}

// interpolate replaces Compose's ${VAR...} with a placeholder value.
var interpolation = regexp.MustCompile(`\$\{[^}]*\}`)

// idpServices are the services running the image built from this
// repository.
func (c *compose) idpServices() map[string]*service {
	out := map[string]*service{}
	for name, s := range c.Services {
		if s.Build != nil {
			out[name] = s
		}
	}
	return out
}

// setting returns the value a service gives an IDP_* setting, or the
// setting's default.
func (s *service) setting(st setting) string {
	if v, ok := s.Environment[st.env]; ok {
		return v
	}
	return st.def
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q is not host:port", addr)
	}
	return p
}

// published splits a Compose "HOST:CONTAINER" port mapping.
func published(t *testing.T, mapping string) (host, container string) {
	t.Helper()
	parts := strings.Split(strings.TrimSuffix(mapping, "/tcp"), ":")
	if len(parts) < 2 {
		t.Fatalf("port mapping %q does not publish a host port", mapping)
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// issuerPort is the port the issuer URL names (80/443 by default).
func issuerPort(t *testing.T, issuer string) string {
	t.Helper()
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// checkInvocation reports the problems of argv, which must run an
// existing idp subcommand with existing flags: argv[0] is the binary,
// argv[1] the subcommand.
func checkInvocation(t *testing.T, where string, argv []string) {
	t.Helper()
	for _, p := range invocationProblems(argv) {
		t.Errorf("%s: %s", where, p)
	}
}

func invocationProblems(argv []string) []string {
	if len(argv) < 2 || path.Base(argv[0]) != "idp" {
		return []string{fmt.Sprintf("%q does not run idp with a subcommand", argv)}
	}
	return commandProblems(argv[1:])
}

// checkCommand reports the problems of args (a subcommand and its flags).
func checkCommand(t *testing.T, where string, args []string) {
	t.Helper()
	for _, p := range commandProblems(args) {
		t.Errorf("%s: %s", where, p)
	}
}

// commandProblems checks that args name an existing subcommand and only
// flags it defines, with values where the flag takes one.
func commandProblems(args []string) []string {
	if len(args) == 0 {
		return []string{"no subcommand"}
	}
	if !slices.ContainsFunc(commands(), func(c command) bool { return c.name == args[0] }) {
		return []string{fmt.Sprintf("idp has no subcommand %q", args[0])}
	}
	flags, err := flagsOf(args[0])
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			problems = append(problems, fmt.Sprintf("stray argument %q", a))
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := flags[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("idp %s has no flag --%s", args[0], name))
			continue
		}
		if takesValue && !hasValue {
			i++ // the value is the next argument
			if i == len(args) {
				problems = append(problems, fmt.Sprintf("--%s lacks its value", name))
			}
		}
	}
	return problems
}

// flagDoc matches a flag in Go's flag.PrintDefaults output: "  -name type"
// for a flag taking a value, "  -name" for a boolean.
var flagDoc = regexp.MustCompile(`(?m)^  -(\S+)( \S+)?$`)

// flagsOf runs `idp SUB --help` and returns its flags (and whether each
// takes a value). --help stops before anything runs.
func flagsOf(sub string) (map[string]bool, error) {
	var out, help bytes.Buffer
	if code := run(context.Background(), []string{sub, "--help"}, stdio{in: strings.NewReader(""), out: &out, err: &help}); code != 0 {
		return nil, fmt.Errorf("idp %s --help: exit %d: %s", sub, code, help.String())
	}
	flags := map[string]bool{"help": false, "h": false}
	for _, m := range flagDoc.FindAllStringSubmatch(help.String(), -1) {
		flags[m[1]] = m[2] != ""
	}
	return flags, nil
}

// checkIDPService checks one service running idp: its environment names
// real settings with valid values, its command and health check run real
// subcommands, and the master-key file is the mounted secret.
func checkIDPService(t *testing.T, c *compose, name string, s *service) {
	t.Helper()
	known := knownEnv()
	for k := range s.Environment {
		if _, ok := known[k]; !ok {
			t.Errorf("%s: %s is not a setting of idp", name, k)
		}
	}
	// The environment must pass serve's own validation.
	env := map[string]string{}
	for k, v := range s.Environment {
		env[k] = interpolation.ReplaceAllString(v, "placeholder")
	}
	old := osGetenv
	osGetenv = func(k string) string { return env[k] }
	_, err := parseServe()
	osGetenv = old
	if err != nil {
		t.Errorf("%s: serve refuses this environment: %v", name, err)
	}

	checkCommand(t, name+" command", s.Command)
	if s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD" {
		t.Errorf("%s: want an exec-form health check (distroless has no shell)", name)
	} else {
		checkInvocation(t, name+" healthcheck", s.Healthcheck.Test[1:])
	}

	if keyFile, ok := s.Environment["IDP_MASTER_KEY_FILE"]; ok {
		secret, found := strings.CutPrefix(keyFile, "/run/secrets/")
		if !found || !slices.Contains(s.Secrets, secret) {
			t.Errorf("%s: IDP_MASTER_KEY_FILE %s is not a secret mounted in this service (%v)", name, keyFile, s.Secrets)
		} else if f := c.Secrets[secret].File; f == "" {
			t.Errorf("%s: secret %s has no file", name, secret)
		}
	}
	for dep, d := range s.DependsOn {
		target, ok := c.Services[dep]
		switch {
		case !ok:
			t.Errorf("%s depends on a missing service %s", name, dep)
		case d.Condition == "service_healthy" && target.Healthcheck == nil:
			t.Errorf("%s waits for %s to be healthy, but it has no health check", name, dep)
		}
	}
}

func TestComposeSQLite(t *testing.T) {
	c := loadCompose(t, "docker-compose.yml")
	idp := c.idpServices()
	if len(idp) != 1 {
		t.Fatalf("docker-compose.yml is the one-container setup; it runs %d idp services", len(idp))
	}
	for name, s := range idp {
		checkIDPService(t, c, name, s)
		if db := s.setting(sDatabase); strings.HasPrefix(db, "postgres") {
			t.Errorf("%s: the single-container setup is SQLite, not %s", name, db)
		}
		addrPort := port(t, s.setting(sAddr))
		if len(s.Ports) != 1 {
			t.Fatalf("%s: want one published port, got %v", name, s.Ports)
		}
		host, container := published(t, s.Ports[0])
		if container != addrPort {
			t.Errorf("%s: publishes container port %s, but idp listens on %s", name, container, addrPort)
		}
		if p := issuerPort(t, s.setting(sIssuer)); p != host {
			t.Errorf("%s: the issuer names port %s, but the host port is %s", name, p, host)
		}
		// The SQLite file must be on the volume, or it dies with the container.
		dir := path.Dir(s.setting(sDatabase))
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+dir) }) {
			t.Errorf("%s: the database directory %s is not a volume (%v)", name, dir, s.Volumes)
		}
	}
}

func TestComposePostgres(t *testing.T) {
	c := loadCompose(t, "docker-compose.postgres.yml")
	idp := c.idpServices()
	if len(idp) < 2 {
		t.Fatalf("the scale-out setup runs %d idp replicas, want at least 2", len(idp))
	}
	var issuer, keyFile string
	for name, s := range idp {
		checkIDPService(t, c, name, s)
		dsn := interpolation.ReplaceAllString(s.setting(sDatabase), "placeholder")
		u, err := url.Parse(dsn)
		if err != nil || u.Scheme != "postgres" {
			t.Fatalf("%s: IDP_DATABASE %q is not a postgres:// URL", name, dsn)
		}
		pg, ok := c.Services[u.Hostname()]
		if !ok {
			t.Fatalf("%s: IDP_DATABASE names host %s, which is no service", name, u.Hostname())
		}
		if pg.Environment["POSTGRES_USER"] != u.User.Username() || pg.Environment["POSTGRES_DB"] != strings.TrimPrefix(u.Path, "/") {
			t.Errorf("%s: IDP_DATABASE user/database %s%s differ from the postgres service's", name, u.User.Username(), u.Path)
		}
		if d := s.DependsOn[u.Hostname()]; d.Condition != "service_healthy" {
			t.Errorf("%s must wait for %s to be healthy", name, u.Hostname())
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes %v: replicas are reached through the proxy only", name, s.Ports)
		}
		// Replicas are interchangeable: same issuer, same master key.
		if issuer != "" && (s.setting(sIssuer) != issuer || s.setting(sMasterKeyFile) != keyFile) {
			t.Errorf("%s: issuer or master key file differs from another replica's", name)
		}
		issuer, keyFile = s.setting(sIssuer), s.setting(sMasterKeyFile)
		if keyFile == "" {
			t.Errorf("%s: PostgreSQL needs IDP_MASTER_KEY_FILE", name)
		}
	}
	for name, sec := range c.Secrets {
		if sec.File != "./secrets/master.key" {
			t.Errorf("secret %s comes from %s, want ./secrets/master.key (git-ignored)", name, sec.File)
		}
	}
	if !bytes.Contains(repoFile(t, ".gitignore"), []byte("/secrets/")) || !bytes.Contains(repoFile(t, ".dockerignore"), []byte("/secrets/")) {
		t.Error("secrets/ must be in .gitignore and .dockerignore")
	}
	checkProxy(t, c, idp, issuer)
}

// checkProxy checks the load balancer: the Caddyfile it mounts balances
// over exactly the idp services on the ports they listen on, health-checks
// /readyz, listens on the published port the issuer names, and its address
// is the one idp trusts for X-Forwarded-For.
func checkProxy(t *testing.T, c *compose, idp map[string]*service, issuer string) {
	t.Helper()
	proxy, ok := c.Services["proxy"]
	if !ok {
		t.Fatal("no proxy service")
	}
	var caddyfile string
	for _, v := range proxy.Volumes {
		if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/etc/caddy/Caddyfile") {
			caddyfile = strings.TrimPrefix(src, "./")
		}
	}
	if caddyfile == "" {
		t.Fatalf("the proxy mounts no Caddyfile: %v", proxy.Volumes)
	}
	site, upstreams, directives := parseCaddyfile(t, string(repoFile(t, caddyfile)))
	want := map[string]string{}
	for name, s := range idp {
		want[name] = port(t, s.setting(sAddr))
	}
	got := map[string]string{}
	for _, u := range upstreams {
		host, p := u, "80"
		if h, pp, err := net.SplitHostPort(u); err == nil {
			host, p = h, pp
		}
		got[host] = p
	}
	if len(got) != len(want) {
		t.Errorf("Caddyfile upstreams %v, want every idp service %v", upstreams, want)
	}
	for host, p := range got {
		if w, ok := want[host]; !ok {
			t.Errorf("Caddyfile upstream %s is no idp service", host)
		} else if w != p {
			t.Errorf("Caddyfile sends to %s:%s, but it listens on %s", host, p, w)
		}
	}
	if directives["lb_policy"] != "round_robin" || directives["health_uri"] != "/readyz" {
		t.Errorf("Caddyfile: want lb_policy round_robin and health_uri /readyz, got %v", directives)
	}
	if len(proxy.Ports) != 1 {
		t.Fatalf("proxy: want one published port, got %v", proxy.Ports)
	}
	host, container := published(t, proxy.Ports[0])
	if sitePort := port(t, site); sitePort != container {
		t.Errorf("Caddy listens on %s, the proxy publishes container port %s", sitePort, container)
	}
	if p := issuerPort(t, issuer); p != host {
		t.Errorf("the issuer names port %s, the proxy is published on %s", p, host)
	}
	// IDP_TRUSTED_PROXIES must name the proxy's fixed address.
	var proxyIP net.IP
	for _, n := range proxy.Networks {
		if n != nil && n.IPv4Address != "" {
			proxyIP = net.ParseIP(n.IPv4Address)
		}
	}
	for name, s := range idp {
		nets, err := parseCIDRs(s.setting(sTrustedProxies))
		if err != nil || len(nets) == 0 {
			t.Errorf("%s: IDP_TRUSTED_PROXIES should name the proxy (%v)", name, err)
			continue
		}
		if proxyIP == nil || !slices.ContainsFunc(nets, func(n *net.IPNet) bool { return n.Contains(proxyIP) }) {
			t.Errorf("%s: IDP_TRUSTED_PROXIES %v does not contain the proxy's address %v", name, nets, proxyIP)
		}
	}
}

// parseCaddyfile reads the one site of a small Caddyfile: its address, the
// reverse_proxy upstreams and the directives inside the reverse_proxy
// block (first argument only).
func parseCaddyfile(t *testing.T, text string) (site string, upstreams []string, directives map[string]string) {
	t.Helper()
	directives = map[string]string{}
	inProxy := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case site == "" && f[len(f)-1] == "{":
			site = f[0]
		case f[0] == "reverse_proxy":
			inProxy = f[len(f)-1] == "{"
			upstreams = slices.DeleteFunc(slices.Clone(f[1:]), func(s string) bool { return s == "{" })
		case inProxy && f[0] == "}":
			inProxy = false
		case inProxy && len(f) > 1:
			directives[f[0]] = f[1]
		}
	}
	if site == "" || len(upstreams) == 0 {
		t.Fatalf("Caddyfile: no site or no reverse_proxy upstreams:\n%s", text)
	}
	return site, upstreams, directives
}

// dockerfile holds the instructions of a Dockerfile, continuation lines
// joined, from the last stage.
type dockerfile struct {
	env         map[string]string
	entrypoint  []string
	cmd         []string
	healthcheck []string
	expose      []string
	copied      []string // destinations of COPY --from=build
}

func parseDockerfile(t *testing.T, text string) dockerfile {
	t.Helper()
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		if cur.Len() > 0 {
			lines = append(lines, cur.String())
		}
		cur.Reset()
	}
	d := dockerfile{env: map[string]string{}}
	execForm := func(s string) []string {
		var argv []string
		if err := json.Unmarshal([]byte(s), &argv); err != nil {
			t.Fatalf("Dockerfile: %q is not exec form: %v", s, err)
		}
		return argv
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			d = dockerfile{env: map[string]string{}} // the last stage counts
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				d.env[k] = v
			}
		case "ENTRYPOINT":
			d.entrypoint = execForm(rest)
		case "CMD":
			d.cmd = execForm(rest)
		case "EXPOSE":
			d.expose = strings.Fields(rest)
		case "HEALTHCHECK":
			_, argv, ok := strings.Cut(rest, "CMD ")
			if !ok {
				t.Fatalf("Dockerfile: HEALTHCHECK without CMD: %s", rest)
			}
			d.healthcheck = execForm(argv)
		case "COPY":
			if f := strings.Fields(rest); strings.HasPrefix(f[0], "--from=") {
				d.copied = append(d.copied, f[len(f)-1])
			}
		}
	}
	return d
}

func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t, string(repoFile(t, "Dockerfile")))
	known := knownEnv()
	for k := range d.env {
		if _, ok := known[k]; !ok {
			t.Errorf("Dockerfile: ENV %s is not a setting of idp", k)
		}
	}
	if len(d.entrypoint) != 1 || !slices.Contains(d.copied, d.entrypoint[0]) || path.Base(d.entrypoint[0]) != "idp" {
		t.Errorf("Dockerfile: ENTRYPOINT %q is not the idp binary copied from the build stage (%v)", d.entrypoint, d.copied)
	}
	checkInvocation(t, "Dockerfile ENTRYPOINT+CMD", append(slices.Clone(d.entrypoint), d.cmd...))
	checkInvocation(t, "Dockerfile HEALTHCHECK", d.healthcheck)
	addr := d.env["IDP_ADDR"]
	if addr == "" {
		addr = sAddr.def
	}
	if p := port(t, addr); !slices.Contains(d.expose, p) {
		t.Errorf("Dockerfile: EXPOSE %v, but idp listens on %s", d.expose, p)
	}
	// Compose files run this image's subcommands; their commands are
	// checked against the same binary in the tests above.
}

// The checker must catch what it is there to catch.
func TestComposeCheckerCatchesMistakes(t *testing.T) {
	for _, bad := range [][]string{
		{"serv"},
		{"serve", "--no-such-flag"},
		{"healthcheck", "--url"},
		{"serve", "extra"},
	} {
		if len(commandProblems(bad)) == 0 {
			t.Errorf("commandProblems accepted %q", bad)
		}
	}
	for _, good := range [][]string{{"serve"}, {"healthcheck", "--url", "http://127.0.0.1:8080/readyz"}, {"serve", "--addr=:9090"}} {
		if p := commandProblems(good); len(p) != 0 {
			t.Errorf("commandProblems refused %q: %v", good, p)
		}
	}
	if p := invocationProblems([]string{"/bin/sh", "-c", "curl localhost"}); len(p) == 0 {
		t.Error("invocationProblems accepted a shell")
	}
	if _, ok := knownEnv()["IDP_NO_SUCH_SETTING"]; ok {
		t.Error("knownEnv accepts anything")
	}
}

// TestShippedBuildsUseLibcrypto: the container image and release
// binaries sign RS256 on the system libcrypto with the approved toolchain.
func TestShippedBuildsUseLibcrypto(t *testing.T) {
	docker := string(repoFile(t, "Dockerfile"))
	for _, want := range []string{"ENV GOTOOLCHAIN=go1.27.3", "libssl-dev", "go build -tags libcrypto"} {
		if !strings.Contains(docker, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	mk := string(repoFile(t, "Makefile"))
	for _, want := range []string{"RELEASE_TOOLCHAIN ?= go1.27.3", "-tags libcrypto"} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
}
