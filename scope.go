package fusionrank

// Scope is what an API key may do. Each scope includes the ones before it.
type Scope int

// The scopes, from least to most powerful.
const (
	ScopeNone   Scope = iota // ops endpoints: no key needed
	ScopePublic              // what a browser widget may do: recommendations, view and click events
	ScopeRead                // rank, recommend, search, similar, user features
	ScopeWrite               // items and all events
	ScopeAdmin               // models and keys
)

var scopeNames = []string{"", "public", "read", "write", "admin"}

// String returns the scope's name.
func (s Scope) String() string {
	if s >= 0 && int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return "unknown"
}

// ParseScope returns the scope named s.
func ParseScope(s string) (Scope, error) {
	for i, n := range scopeNames {
		if i > 0 && n == s {
			return Scope(i), nil
		}
	}
	return ScopeNone, Errorf(Invalid, "scope: %q is not one of public, read, write, admin", s)
}
