// RFC 6238 TOTP (over RFC 4226 HOTP) with node:crypto, for the browser
// tests: the test reads the secret from the page and computes the codes an
// authenticator app would show. SHA-1, 6 digits, 30 s steps (CONTRACT §8).
import { createHmac } from 'node:crypto';

const STEP_SECONDS = 30;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** base32Decode reads an RFC 4648 base32 secret (case, spaces and padding ignored). */
export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = ALPHABET.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** hotp is RFC 4226 §5.3: HMAC-SHA-1 of the 8-byte counter, dynamic truncation, 6 digits. */
export function hotp(key, counter) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

/** stepAt is the RFC 6238 time step of a moment (ms since the epoch). */
export function stepAt(ms = Date.now()) {
  return Math.floor(ms / 1000 / STEP_SECONDS);
}

/**
 * authenticator is an app holding secret. next() returns a code the server
 * has not seen yet: the server takes each step's code at most once (and,
 * with ±1 step of drift, nothing at or before the last step used), so it
 * uses the next step's code when the current one is spent, and waits for
 * the clock when even that one is.
 */
export function authenticator(secret) {
  const key = base32Decode(secret);
  let last = -Infinity;
  return {
    code: (step = stepAt()) => hotp(key, step),
    async next() {
      const step = Math.max(stepAt(), last + 1);
      while (step > stepAt() + 1) await new Promise((r) => setTimeout(r, 250));
      last = step;
      return hotp(key, step);
    },
  };
}
