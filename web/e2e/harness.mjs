// Shared plumbing of the browser tests: the real gatehouse binary on a
// loopback port with a fresh SQLite file, and Debian's Chromium driven by
// playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const outputDir = join(here, 'output');
export const PASSWORD = 'correct horse battery staple';

let binary = null;
const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));

/** gatehouseBinary builds ./cmd/gatehouse once (it embeds web/dist, so build the app first), or uses $GATEHOUSE_BIN. */
export function gatehouseBinary() {
  if (binary) return binary;
  if (process.env.GATEHOUSE_BIN) {
    binary = process.env.GATEHOUSE_BIN;
    return binary;
  }
  if (!existsSync(join(repoRoot, 'web', 'dist', 'index.html'))) {
    throw new Error('web/dist/index.html is missing: run `npm run build` in web/ first');
  }
  binary = join(scratch, 'gatehouse');
  execFileSync('go', ['build', '-o', binary, './cmd/gatehouse'], { cwd: repoRoot, stdio: 'inherit' });
  return binary;
}

/**
 * startGatehouse runs `gatehouse serve` on 127.0.0.1:0 with a new SQLite
 * file and the extra flags, and resolves when /healthz answers. Password
 * hashing is made cheap (test-only flags); everything else is as shipped.
 */
export async function startGatehouse(...args) {
  const dir = mkdtempSync(join(scratch, 'db-'));
  const db = `sqlite:${join(dir, 'gatehouse.db')}`;
  const proc = spawn(
    gatehouseBinary(),
    ['serve', '--addr', '127.0.0.1:0', '--db', db, '--argon2-memory', '64', '--argon2-time', '1', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  proc.stderr.on('data', (d) => {
    logs += d;
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gatehouse did not start within 30s\n${logs}`)), 30_000);
    const lines = createInterface({ input: proc.stdout });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (\S+)/.exec(line);
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line ${JSON.stringify(line)}\n${logs}`));
    });
    exited.then(({ code }) => reject(new Error(`gatehouse exited with ${code}\n${logs}`)));
  });
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not yet
    }
    if (i > 200) throw new Error(`${url}/healthz never answered`);
    await sleep(25);
  }
  return {
    url,
    logs: () => logs,
    /**
     * cli runs a verb of the binary on the server's database, e.g.
     * cli(['user', 'set-role', '--email', e, '--role', 'admin']), with
     * `stdin` as its input; it resolves with the output, and rejects with
     * it when the verb fails.
     */
    cli(verb, stdin = '') {
      return new Promise((resolve, reject) => {
        const p = spawn(gatehouseBinary(), [...verb, '--db', db], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`gatehouse ${verb.join(' ')}: exit ${code}\n${out}`))));
        p.stdin.end(stdin);
      });
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const { code, signal } = await exited;
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0 && signal === null) throw new Error(`gatehouse exited with ${code}\n${logs}`);
    },
  };
}

/** freePort asks the system for a free loopback port, for a server that must know its own address before it starts (--app-url). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * startSMTPTest runs the repository's test SMTP server
 * (internal/smtptest/cmd/smtptest, built once like the gatehouse binary):
 * `smtp` is its SMTP address, for --smtp-url; messages() returns the mails
 * it took ({from, to, subject, text, html}), clear() forgets them.
 */
export async function startSMTPTest() {
  const bin = join(scratch, 'smtptest');
  if (!existsSync(bin)) execFileSync('go', ['build', '-o', bin, './internal/smtptest/cmd/smtptest'], { cwd: repoRoot, stdio: 'inherit' });
  const proc = spawn(bin, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stderr.on('data', (d) => {
    logs += d;
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const addrs = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smtptest did not start within 30s\n${logs}`)), 30_000);
    createInterface({ input: proc.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`smtptest: unexpected first line ${JSON.stringify(line)}\n${logs}`));
      }
    });
    exited.then(({ code }) => reject(new Error(`smtptest exited with ${code}\n${logs}`)));
  });
  return {
    smtp: addrs.smtp,
    http: addrs.http,
    async messages() {
      const r = await fetch(`${addrs.http}/messages`);
      if (!r.ok) throw new Error(`smtptest GET /messages: ${r.status}`);
      return r.json();
    },
    async clear() {
      const r = await fetch(`${addrs.http}/messages`, { method: 'DELETE' });
      if (!r.ok) throw new Error(`smtptest DELETE /messages: ${r.status}`);
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** launchChromium starts Debian's Chromium headless, with no network beyond loopback needed. */
export async function launchChromium() {
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  const args = [
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
  ];
  // Chromium's sandbox needs user namespaces that root in a container
  // rarely has.
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath, headless: true, args });
}

/** watch records what a browser context sends and every CSP violation or page error. */
export function watch(context) {
  const requests = [];
  const problems = [];
  context.on('request', (req) => {
    const u = new URL(req.url());
    requests.push({ method: req.method(), path: u.pathname, auth: req.headers()['authorization'] ?? null, at: Date.now(), req });
  });
  const hook = (page) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
  };
  context.pages().forEach(hook);
  context.on('page', hook);
  return {
    requests,
    problems,
    to: (path, method) => requests.filter((r) => r.path === path && (!method || r.method === method)),
  };
}

export async function screenshot(page, name) {
  mkdirSync(outputDir, { recursive: true });
  await page.screenshot({ path: join(outputDir, `${name}.png`), fullPage: true });
}

/** register creates an account over the API (the UI path has its own test). */
export async function registerUser(base, email, name = 'Test User') {
  const r = await fetch(`${base}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD, name }),
  });
  if (r.status !== 201) throw new Error(`register ${email}: ${r.status} ${await r.text()}`);
}

let seq = 0;
export function uniqueEmail(tag) {
  return `${tag}-${process.pid}-${++seq}-${Date.now().toString(36)}@example.com`;
}

/**
 * chooseStorage picks the demo's token storage on its Settings page (the
 * only place it can be chosen: a link cannot), for the whole browser
 * profile, and waits for the app to reload with it.
 */
export async function chooseStorage(page, base, storage) {
  await page.goto(`${base}/settings`);
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await page.getByRole('radio', { name: new RegExp(`^${storage}\\b`) }).check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText(`Token storage: ${storage}`).waitFor();
}

/** loginThroughUI fills the login form and waits for the dashboard; storage, if given, is chosen on the Settings page first. */
export async function loginThroughUI(page, base, email, storage) {
  if (storage && storage !== 'cookie') await chooseStorage(page, base, storage);
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${base}/dashboard`);
  await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** eventually polls cond until it holds, or fails with what. */
export async function eventually(cond, what, ms = 15_000) {
  const start = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function cleanupScratch() {
  rmSync(scratch, { recursive: true, force: true });
}
