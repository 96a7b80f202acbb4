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

// EventIDSpace is the namespace in which an event id is idempotent: an id stored in one
// space cannot be claimed, blocked or conflicted with from another.
type EventIDSpace string

// The event id spaces. Keys of scope write and admin (the order system, the shop's
// backend, the operator's imports) share TrustedIDs, so rotating a key or adding a
// second one keeps idempotency; keys of scope public (readable by anyone) and read each
// have a space of their own, so a key anyone may read can never claim an id that a
// trusted writer will send later.
const (
	TrustedIDs EventIDSpace = ""
	ReadIDs    EventIDSpace = "read"
	PublicIDs  EventIDSpace = "public"
)

// EventIDSpace returns the space of the events a key of scope s sends.
func (s Scope) EventIDSpace() EventIDSpace {
	switch {
	case s >= ScopeWrite:
		return TrustedIDs
	case s == ScopeRead:
		return ReadIDs
	}
	return PublicIDs
}
