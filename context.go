package fusionrank

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the API request it serves; ranking
// answers echo it and attribution links later events to it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
