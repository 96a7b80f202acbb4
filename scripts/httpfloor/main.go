// Command httpfloor is the least an HTTP server written with net/http does per request:
// it answers GET /healthz with a constant JSON body, nothing else. scripts/http-floor.sh
// loads it with vegeta to measure what one exchange costs on a machine, over HTTP/1.1
// and over HTTP/2 without TLS (h2c), beside fusionrank's own /healthz.
//
//	go run ./scripts/httpfloor 127.0.0.1:18080
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: httpfloor HOST:PORT")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	srv := &http.Server{Addr: os.Args[1], Handler: mux, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	log.Fatal(srv.ListenAndServe())
}
