// Package smtptest is a real SMTP server on loopback for Gatehouse's
// tests, built on github.com/emersion/go-smtp: it keeps every message it
// accepts, parsed into its parts, and can be told to refuse mail (4xx for
// a while, 5xx for good) or to stop listening, for the fault tests.
package smtptest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted mail.
type Message struct {
	From    string            `json:"from"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	Header  map[string]string `json:"header"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	Raw     string            `json:"raw"`
}

// Server is a running SMTP server.
type Server struct {
	Addr string // host:port of the SMTP listener

	srv *smtp.Server
	ln  net.Listener

	mu        sync.Mutex
	messages  []Message
	arrived   chan struct{} // closed and replaced on every message
	refuse    []int         // SMTP codes to answer the next DATA with, in order
	refuseAll int           // when non-zero, every DATA gets it
	attempts  int           // DATA commands, refused ones included
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "smtptest.localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server and frees its port at once (the listener too:
// Serve may not have taken it over yet).
func (s *Server) Close() error {
	s.ln.Close()
	return s.srv.Close()
}

// URL is the server's --smtp-url.
func (s *Server) URL() string { return "smtp://" + s.Addr }

// Messages returns the mails accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Clear forgets the mails accepted so far.
func (s *Server) Clear() {
	s.mu.Lock()
	s.messages = nil
	s.mu.Unlock()
}

// RefuseNext makes the next len(codes) deliveries fail with these SMTP
// codes (4xx: try again later; 5xx: refused for good).
func (s *Server) RefuseNext(codes ...int) {
	s.mu.Lock()
	s.refuse = append(s.refuse, codes...)
	s.mu.Unlock()
}

// RefuseAll makes every delivery fail with code until it is called with 0.
func (s *Server) RefuseAll(code int) {
	s.mu.Lock()
	s.refuseAll = code
	s.mu.Unlock()
}

// WaitFor waits until a mail to "to" whose subject contains subject has
// arrived, and returns it.
func (s *Server) WaitFor(to, subject string, timeout time.Duration) (Message, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		arrived := s.arrived
		for _, m := range s.messages {
			for _, rcpt := range m.To {
				if strings.EqualFold(rcpt, to) && strings.Contains(m.Subject, subject) {
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-deadline:
			return Message{}, fmt.Errorf("smtptest: no mail to %s about %q within %s", to, subject, timeout)
		}
	}
}

// Attempts returns how many deliveries were tried, refused ones included.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Count returns how many accepted mails went to "to".
func (s *Server) Count(to string) int {
	n := 0
	for _, m := range s.Messages() {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, to) {
				n++
			}
		}
	}
	return n
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return nil }
func (ss *session) Reset()                   { ss.from, ss.to = "", nil }
func (ss *session) Logout() error            { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	code := s.refuseAll
	if code == 0 && len(s.refuse) > 0 {
		code, s.refuse = s.refuse[0], s.refuse[1:]
	}
	if code != 0 {
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "smtptest: refused on purpose"}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "smtptest: " + err.Error()}
	}
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return nil
}

// parse reads the headers and the text and HTML parts of a message.
func parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: string(raw), Header: map[string]string{}}
	for k := range msg.Header {
		m.Header[k] = msg.Header.Get(k)
	}
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	if err := m.readPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) readPart(contentType, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.readPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	text, err := decode(encoding, body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/html":
		m.HTML = text
	case "text/plain":
		m.Text = text
	}
	return nil
}
