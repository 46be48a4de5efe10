package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// LoadToken reads a bearer token from a file: its content without
// surrounding white space, not empty.
func LoadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s: empty", path)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s: more than one word", path)
	}
	return tok, nil
}

// LoadUsers reads an htpasswd file of bcrypt hashes ("user:$2y$..." lines,
// as htpasswd -B writes them; empty lines and # comments skipped).
func LoadUsers(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("basic auth file: %w", err)
	}
	defer f.Close()
	users := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("basic auth file %s:%d: want user:bcrypt-hash", path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			// do not quote the line: it may be a plain password
			return nil, fmt.Errorf("basic auth file %s:%d: user %q: not a bcrypt hash (htpasswd -B)", path, n, user)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("basic auth file %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("basic auth file %s: no users", path)
	}
	return users, nil
}

// Bearer reports whether an Authorization header value is "Bearer token",
// comparing in constant time. The scheme is case-insensitive (RFC 9110
// §11.1): "bearer token" is the same credential.
func Bearer(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Guard checks requests against a bearer token, basic-auth users, or both
// (either is enough). The zero Guard lets everyone in.
type Guard struct {
	Token string
	Users map[string][]byte // user → bcrypt hash
	// Realm is named in the WWW-Authenticate challenge.
	Realm string

	mu sync.Mutex
	ok map[[sha256.Size]byte]bool // digests of user:password pairs that verified
}

// Enabled reports whether the guard asks for credentials.
func (g *Guard) Enabled() bool { return g != nil && (g.Token != "" || len(g.Users) > 0) }

// Allow reports whether r carries valid credentials (always, if the guard
// asks for none).
func (g *Guard) Allow(r *http.Request) bool {
	if !g.Enabled() {
		return true
	}
	if Bearer(r.Header.Get("Authorization"), g.Token) {
		return true
	}
	if len(g.Users) > 0 {
		if user, pass, ok := r.BasicAuth(); ok {
			return g.checkUser(user, pass)
		}
	}
	return false
}

// maxVerified bounds the cache of verified credentials.
const maxVerified = 1024

// checkUser verifies a password. bcrypt takes tens of milliseconds by
// design; pairs that verified once are remembered by their SHA-256 so a
// browser's repeated requests do not pay it again (wrong passwords always do).
func (g *Guard) checkUser(user, pass string) bool {
	hash, known := g.Users[user]
	digest := sha256.Sum256([]byte(user + "\x00" + pass))
	g.mu.Lock()
	cached := g.ok[digest]
	g.mu.Unlock()
	if cached && known {
		return true
	}
	if !known {
		// spend the same time as for a known user: no user enumeration
		bcrypt.CompareHashAndPassword(dummyHash, []byte(pass))
		return false
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	g.mu.Lock()
	if g.ok == nil || len(g.ok) >= maxVerified {
		g.ok = map[[sha256.Size]byte]bool{}
	}
	g.ok[digest] = true
	g.mu.Unlock()
	return true
}

// dummyHash is a valid bcrypt hash (cost 10); what it hashes does not
// matter, the comparison only spends the time.
var dummyHash = []byte("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy")

// Handler wraps next: requests without valid credentials get 401 with a
// challenge and are counted by reject (may be nil).
func (g *Guard) Handler(next http.Handler, reject func()) http.Handler {
	if !g.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.Allow(r) {
			if reject != nil {
				reject()
			}
			realm := g.Realm
			if realm == "" {
				realm = "podtrace"
			}
			if g.Token != "" {
				w.Header().Add("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			}
			if len(g.Users) > 0 {
				w.Header().Add("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
			}
			http.Error(w, "missing or invalid credentials", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ErrReadOnly is the answer to a write in read-only mode.
var ErrReadOnly = errors.New("podtrace is read-only")

// ReadOnly wraps next so that only GET, HEAD and OPTIONS pass; anything else
// gets 405 and is counted by reject (may be nil).
func ReadOnly(next http.Handler, reject func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
		default:
			if reject != nil {
				reject()
			}
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, ErrReadOnly.Error(), http.StatusMethodNotAllowed)
		}
	})
}
