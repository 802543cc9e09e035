// Package mailer turns Gatehouse's mails into messages and delivers them:
// templates embedded in the binary (an operator may override any of them
// from a directory), an SMTP sender built on github.com/wneessen/go-mail,
// a sender that only logs (development), and the outbox runner that
// delivers what the store queued, with backoff.
package mailer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse/gatehouse"
)

//go:embed templates/*.tmpl
var embedded embed.FS

// Purposes whose templates a Composer needs.
var purposes = []string{
	gatehouse.PurposeVerifyEmail, gatehouse.PurposeResetPassword,
	gatehouse.PurposeChangeEmail, gatehouse.MailPurposeEmailChanged,
}

// Composer renders mails from templates: for each purpose P,
// P.subject.tmpl and P.txt.tmpl (text/template) and P.html.tmpl
// (html/template, which escapes what it inserts).
type Composer struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

var funcs = map[string]any{"duration": humanDuration}

// NewComposer loads the embedded templates, replaced file by file by
// those in dir when dir is not empty (an operator's own wording or
// branding). A template that does not parse is an error at start-up, not
// at the first mail.
func NewComposer(dir string) (*Composer, error) {
	c := &Composer{
		subject: map[string]*texttemplate.Template{},
		text:    map[string]*texttemplate.Template{},
		html:    map[string]*htmltemplate.Template{},
	}
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		return string(b), err
	}
	for _, p := range purposes {
		subj, err := read(p + ".subject.tmpl")
		if err != nil {
			return nil, err
		}
		if c.subject[p], err = texttemplate.New(p).Funcs(funcs).Parse(strings.TrimSpace(subj)); err != nil {
			return nil, fmt.Errorf("mail template %s.subject.tmpl: %w", p, err)
		}
		txt, err := read(p + ".txt.tmpl")
		if err != nil {
			return nil, err
		}
		if c.text[p], err = texttemplate.New(p).Funcs(funcs).Parse(txt); err != nil {
			return nil, fmt.Errorf("mail template %s.txt.tmpl: %w", p, err)
		}
		html, err := read(p + ".html.tmpl")
		if err != nil {
			return nil, err
		}
		if c.html[p], err = htmltemplate.New(p).Funcs(funcs).Parse(html); err != nil {
			return nil, fmt.Errorf("mail template %s.html.tmpl: %w", p, err)
		}
	}
	return c, nil
}

// Compose renders the mail of purpose to the address to.
func (c *Composer) Compose(purpose, to string, data gatehouse.MailData) (*gatehouse.Mail, error) {
	subjT, ok := c.subject[purpose]
	if !ok {
		return nil, fmt.Errorf("mailer: no templates for %q", purpose)
	}
	var subj, text, html bytes.Buffer
	if err := subjT.Execute(&subj, data); err != nil {
		return nil, err
	}
	if err := c.text[purpose].Execute(&text, data); err != nil {
		return nil, err
	}
	if err := c.html[purpose].Execute(&html, data); err != nil {
		return nil, err
	}
	// One line, whatever the template did: a header cannot hold more.
	subject := strings.Join(strings.Fields(subj.String()), " ")
	return &gatehouse.Mail{
		ID: gatehouse.NewID(), Purpose: purpose, To: to,
		Subject: subject, Text: text.String(), HTML: html.String(),
	}, nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
