/** The fetch this package uses: the global one, or the caller's. */
export type Fetch = typeof globalThis.fetch;

/** fetchTimeout bounds one metadata, JWKS or client-token request (ms). */
export const fetchTimeout = 10_000;

/**
 * readJSON reads a JSON (or +json) body of at most limit bytes and parses
 * it. A bound keeps a misbehaving server from filling memory; the content
 * type check refuses an HTML error page posing as an answer.
 */
export async function readJSON(res: Response, limit: number): Promise<unknown> {
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(type === 'application/json' || type.endsWith('+json'))) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`content type "${type}" is not JSON`);
  }
  const text = await readText(res, limit);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error('answer is not valid JSON');
  }
}

/** readText reads a body of at most limit bytes as UTF-8. */
export async function readText(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new Error(`answer larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** isObject narrows parsed JSON to a plain object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** message returns an error's message, for status().lastError. */
export function message(err: unknown): string {
  if (err instanceof Error) {
    // undici's "fetch failed" hides the reason in cause.
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return err.message + cause;
  }
  return String(err);
}
