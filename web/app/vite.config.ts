import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const outDir = fileURLToPath(new URL('../dist', import.meta.url));

// The build goes to web/dist, which the Go server embeds (web/web.go).
// Emptying it removes the committed placeholder, so it is written back.
export default defineConfig({
  build: {
    outDir,
    emptyOutDir: true,
    // The polyfill would be inline-free anyway, but no browser this app
    // targets needs it, and the CSP allows no inline script.
    modulePreload: { polyfill: false },
    sourcemap: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // @gatehouse/react starts with 'use client' for React Server
        // Components hosts; in a client bundle it means nothing.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' && warning.message.includes('use client')) return;
        warn(warning);
      },
    },
  },
  esbuild: { jsx: 'automatic' },
  plugins: [
    {
      name: 'gatehouse-keep-placeholder',
      closeBundle() {
        writeFileSync(`${outDir}/.gitkeep`, '');
      },
    },
  ],
  server: {
    // `npx vite` in web/app proxies the API to a local `make run`.
    proxy: { '/api': 'http://127.0.0.1:8080', '/.well-known': 'http://127.0.0.1:8080' },
  },
});
