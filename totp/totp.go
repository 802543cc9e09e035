// Package totp makes and checks time-based one-time passwords (RFC 6238)
// for Gatehouse's second factor, on github.com/pquerna/otp. It implements
// [gatehouse.OTP].
//
// The parameters are the ones every authenticator app understands and
// CONTRACT §8 pins: SHA-1, 6 digits, 30-second steps, 160-bit secrets
// (RFC 4226 §4 asks for at least 128 bits; 160 is its recommendation).
package totp

import (
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

const (
	period     = 30
	secretSize = 20 // bytes: 160 bits
	// drift is how many steps either side of now a code may be from: one,
	// RFC 6238 §5.2's recommended allowance for clocks out of step.
	drift = 1
)

var opts = totp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTP implements gatehouse.OTP. The zero value is ready to use.
type TOTP struct{}

// NewSecret returns a new random base32 secret and its otpauth:// URI.
func (TOTP) NewSecret(issuer, account string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: period, SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("totp: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// Match returns the step, within drift steps of now, whose code is code.
// Every candidate is computed and compared in constant time, so the time
// taken says nothing about which step matched.
func (TOTP) Match(secret, code string, now time.Time) (step int64, ok bool) {
	if len(code) != 6 {
		return 0, false
	}
	current := now.Unix() / period
	for s := current - drift; s <= current+drift; s++ {
		want, err := Code(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// Code returns the code of a secret at a time step (for tests and tools).
func Code(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*period, 0), opts)
}

// Step returns the time step of t.
func Step(t time.Time) int64 { return t.Unix() / period }
