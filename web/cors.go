package web

import "net/http"

// widgetPaths are the calls a browser widget on another site makes.
var widgetPaths = map[string]bool{
	"/v1/recommendations": true,
	"/v1/events":          true,
	"/widget/items":       true,
}

// CORS wraps next so that the widget's calls work from any origin: it answers their
// preflight requests (OPTIONS with Access-Control-Request-Method) with 204, and adds
// Access-Control-Allow-Origin: * to their answers. Other paths pass through untouched.
// Keys are bearer tokens, never cookies, so allowing every origin grants no one a right
// they do not already hold.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !widgetPaths[r.URL.Path] || r.Header.Get("Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
