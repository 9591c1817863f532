package servertest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildIDP builds the idp binary (./cmd/idp of this module) into dir and
// returns its path, for tests that run idp as a real separate process.
func BuildIDP(t testing.TB, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("go env GOMOD: not inside the idp module")
	}
	bin := filepath.Join(dir, "idp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/idp")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/idp: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr is a loopback address nobody listens on now: a process under
// test needs its address before it starts, since its issuer carries it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// EnvWithoutIDP is this process's environment without its IDP_* settings
// (IDP_TEST_POSTGRES among them), for a child idp that has its own.
func EnvWithoutIDP() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IDP_") {
			env = append(env, kv)
		}
	}
	return env
}
