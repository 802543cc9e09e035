// Package password hashes, verifies and vets Gatehouse's passwords. Its
// [Hasher] implements [gatehouse.Passwords].
//
// Hashing. Passwords are hashed with argon2id (RFC 9106), the first choice
// of the OWASP Password Storage Cheat Sheet, at its minimum parameters by
// default ([OWASP]: m = 19 MiB, t = 2, p = 1), with a 16-byte salt from
// crypto/rand (RFC 9106 §3.1 recommends 128 bits) and a 32-byte key,
// compared in constant time. Hashes are stored in the PHC string format of
// the reference implementation, "$argon2id$v=19$m=19456,t=2,p=1$salt$key",
// so that the parameters travel with each hash: [Hasher.Compare] says when
// they differ from the ones in force, and the caller rehashes at the next
// login (OWASP Password Storage CS, "upgrading the work factor"). The
// parser is strict and bounds the parameters it reads, so that a tampered
// database row is an error, not a crash or a 4-GiB allocation.
//
// Unicode. Every password is NFKC-normalised before it is hashed or
// checked (NIST SP 800-63B: apply NFKC or NFKD to Unicode passwords), so
// that a composed and a decomposed "é", or the ligature "ﬁ" and "fi",
// are one password. Nothing is ever truncated (NIST SP 800-63B: verify the
// entire password) and any Unicode, NUL bytes included, is accepted;
// argon2 reads the whole input once, so long passwords cost no more time.
// bcrypt was ruled out for this reason: it reads 72 bytes at most
// (SECURITY.md §7).
//
// Choosing passwords. [Hasher.Check] follows NIST SP 800-63B: a minimum
// length (8 code points by default, the project's choice while Gatehouse
// has no second factor; rev. 4 asks 15 of a single factor), a maximum of
// at least 64 (1024 by default), no composition rules (SHALL NOT), and a
// blocklist (SHALL): the common passwords of blocklist.txt.gz (see
// BLOCKLIST.md), repetitive and sequential strings, keyboard walks and the
// service's name, each refusal with its reason (SHALL say why).
//
// Denial of service. Argon2id is memory-hard by design, so its memory is
// what a flood of logins exhausts: 19 MiB for each hash in progress. A
// bounded pool runs at most Config.Workers hashes at once, and no more
// than fit in Config.MaxMemory (64 MiB by default), collects each large
// hash's memory before the next hash starts, returns it to the OS once the
// pool has been idle for a second, lets at most
// Config.MaxQueue callers wait for one, each at most Config.MaxWait and
// never past its context's deadline, and answers everyone else at once with
// an error wrapping [gatehouse.ErrServerBusy] (OWASP ASVS 5.0 15.2.2;
// SECURITY.md §7). [Hasher.CompareDummy], for logins of unknown emails,
// goes through the same pool and does the same work as a failed
// [Hasher.Compare], so that the answer and its timing do not tell whether
// an account exists (OWASP ASVS 5.0 6.3.8; CONTRACT §4).
package password
