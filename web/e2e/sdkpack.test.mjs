// The SDKs as an app outside this repository gets them (issue 15): `npm
// pack` makes tarballs of @gatehouse/client and @gatehouse/react, the tiny
// Vite + React app of examples/web-app installs them in a directory of its
// own, type-checks against their declarations and builds, and its built page
// signs in against a running Gatehouse from another origin (--cors-origins)
// in Chromium.
//
// It takes one to two minutes (npm install, tsc and vite build on top of
// the browser), so `npm run e2e` runs it only with GATEHOUSE_E2E_SDKPACK=1.
//
// The install needs npm's cache to hold react, react-dom, vite, typescript
// and the React types at the versions of web/package-lock.json (`npm ci` in
// web/ puts them there); it runs with --prefer-offline.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { PASSWORD, cleanupScratch, freePort, launchChromium, registerUser, repoRoot, startGatehouse, uniqueEmail, watch } from './harness.mjs';

const webDir = join(repoRoot, 'web');
const exampleDir = join(repoRoot, 'examples', 'web-app');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const skip = process.env.GATEHOUSE_E2E_SDKPACK === '1' ? false : 'slow: set GATEHOUSE_E2E_SDKPACK=1 to run it';

let work;
let site;
let gh;
let browser;

function run(cmd, args, cwd, env = {}) {
  return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };

/** staticServer serves dir on the given loopback port, as any static host would serve a Vite build. */
function staticServer(dir, port) {
  const srv = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir + sep)) return res.writeHead(404).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'gatehouse-sdkpack-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  gh = await startGatehouse('--cors-origins', origin);
  browser = await launchChromium();
  site = { origin, port };
});

after(async () => {
  await browser?.close();
  site?.srv?.close();
  await gh?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  cleanupScratch();
});

describe('the packed SDKs in an app outside the workspace', { skip }, () => {
  let tarballs;

  it('npm pack makes tarballs with ESM, declarations and an exports map', () => {
    const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', work, '-w', '@gatehouse/client', '-w', '@gatehouse/react'], webDir));
    tarballs = Object.fromEntries(packed.map((p) => [p.name, join(work, p.filename)]));
    assert.deepEqual(Object.keys(tarballs).sort(), ['@gatehouse/client', '@gatehouse/react']);
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      for (const want of ['package.json', 'dist/index.js', 'dist/index.d.ts']) {
        assert.ok(files.includes(want), `${p.name}: ${want} is not in the tarball (${files.join(', ')})`);
      }
      assert.ok(!files.some((f) => f.startsWith('test/')), `${p.name}: tests are in the tarball`);
    }
  });

  it('the example app installs the tarballs, type-checks, builds, and its page logs in', async () => {
    assert.ok(tarballs, 'the tarballs were not made');
    const app = join(work, 'web-app');
    cpSync(exampleDir, app, { recursive: true, filter: (src) => !/node_modules|dist$/.test(src) });
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    for (const [name, file] of Object.entries(tarballs)) pkg.dependencies[name] = `file:${file}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));

    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund'], app);
    // Installed as an app gets them: copies, not links into the workspace.
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', '@gatehouse', 'react', 'package.json'), 'utf8'));
    assert.equal(installed.exports['.'].types, './dist/index.d.ts');
    run(npm, ['run', 'build'], app, { VITE_GATEHOUSE_URL: gh.url });

    site.srv = await staticServer(join(app, 'dist'), site.port);
    const email = uniqueEmail('packed');
    await registerUser(gh.url, email);

    const context = await browser.newContext();
    const w = watch(context);
    const errors = [];
    context.on('requestfailed', (req) => errors.push(`failed: ${req.url()}`));
    context.on('response', (res) => {
      if (res.status() >= 400) errors.push(`${res.status()}: ${res.url()}`);
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(site.origin);
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByText(`Signed in as ${email}`).waitFor();
    const login = w.requests.find((r) => r.path === '/api/auth/login');
    assert.ok(login && login.req.url().startsWith(gh.url), 'the login did not go to Gatehouse');

    // A reload keeps the session: the refresh cookie works from this origin.
    await page.reload();
    await page.getByText(`Signed in as ${email}`).waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    assert.deepEqual(errors, []);
    assert.deepEqual(w.problems, []);
    await context.close();
  });
});
