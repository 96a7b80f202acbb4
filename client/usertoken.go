package client

import (
	"time"

	"github.com/fusionrank/fusionrank/usertoken"
)

// UserTokens signs user tokens for a shop's backend: the token it hands to the page of
// a logged-in shopper, which the widget passes as data-user-token so that a public key
// gets that shopper's personal recommendations and may send their events. The secret is
// the frus_… text `fusionrank keys user-secret` prints; keep it on the server, never in a
// page. Safe for concurrent use.
//
//	tokens, err := client.NewUserTokens(os.Getenv("FUSIONRANK_USER_SECRET"))
//	token := tokens.Sign(shopperID, 24*time.Hour)
type UserTokens struct {
	secret usertoken.Secret
	now    func() time.Time
}

// NewUserTokens reads a secret as `fusionrank keys user-secret` prints it.
func NewUserTokens(secret string) (*UserTokens, error) {
	s, err := usertoken.ParseSecret(secret)
	if err != nil {
		return nil, err
	}
	return &UserTokens{secret: s, now: time.Now}, nil
}

// Sign returns a token for userID, valid for ttl (whole seconds: the expiry is
// rounded down to a second).
func (u *UserTokens) Sign(userID string, ttl time.Duration) string {
	return usertoken.Sign(u.secret, userID, u.now().Add(ttl))
}

// SignUserToken is NewUserTokens(secret) followed by Sign, for a one-off token.
func SignUserToken(secret, userID string, ttl time.Duration) (string, error) {
	u, err := NewUserTokens(secret)
	if err != nil {
		return "", err
	}
	return u.Sign(userID, ttl), nil
}
