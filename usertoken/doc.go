// Package usertoken signs and verifies user tokens: a shop's statement, signed with a
// secret it shares with fusionrank, that a browser acts for one shopper until a given
// time. A key of scope public is readable by anyone, so a call made with it that names a
// shopper is trusted to be that shopper only with a valid token (see the API's
// documentation).
//
// A token is
//
//	fru1.<secret id>.<expiry>.<user>.<mac>
//
// where <secret id> is the decimal id of the secret that signed it, <expiry> the
// decimal Unix time in seconds after which it is void, <user> the user id in unpadded
// base64url, and <mac> the unpadded base64url HMAC-SHA256, under the secret's 32 bytes,
// of everything before the last dot ("fru1.<secret id>.<expiry>.<user>"). A shop's
// backend in any language can sign one from that description; Go programs use Sign (or
// client.SignUserToken).
//
// A secret is written as frus_<id>_<32 bytes in unpadded base64url>: the form
// `fusionrank keys user-secret` prints and ParseSecret reads.
package usertoken
