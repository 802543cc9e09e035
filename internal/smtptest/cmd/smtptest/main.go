// Command smtptest runs the test SMTP server for the browser tests: it
// prints {"smtp": ADDR, "http": URL} on one line, keeps every mail, and
// serves them as JSON at GET /messages (DELETE /messages forgets them).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/gatehouse/gatehouse/internal/smtptest"
)

func main() {
	smtpAddr := flag.String("smtp", "127.0.0.1:0", "SMTP listen address")
	httpAddr := flag.String("http", "127.0.0.1:0", "HTTP listen address")
	flag.Parse()
	s, err := smtptest.Start(*smtpAddr)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		msgs := s.Messages()
		if msgs == nil {
			msgs = []smtptest.Message{}
		}
		_ = json.NewEncoder(w).Encode(msgs)
	})
	mux.HandleFunc("DELETE /messages", func(w http.ResponseWriter, r *http.Request) {
		s.Clear()
		w.WriteHeader(http.StatusNoContent)
	})
	line, _ := json.Marshal(map[string]string{"smtp": s.Addr, "http": "http://" + ln.Addr().String()})
	fmt.Fprintln(os.Stdout, string(line))
	log.Fatal(http.Serve(ln, mux))
}
