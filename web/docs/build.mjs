// Builds web/dist/docs.html: the API reference at /api/docs, one file with
// Swagger UI and its styles inline, so that the page needs nothing but
// /api/openapi.json (no CDN, works offline) and is served even without the
// demo app. The Go server allows exactly these inline scripts by their
// sha256 (httpapi/openapi.go), so no other script can run on the page.
// Runs after the app's build, which empties web/dist.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const dist = dirname(require.resolve('swagger-ui-dist/package.json'));

// Inside a <script> element, "</script" would end it early; "<\/" is the
// same text to JavaScript (in strings, regular expressions and templates).
const inline = (js) => js.replaceAll('</script', '<\\/script');
const bundle = inline(readFileSync(join(dist, 'swagger-ui-bundle.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/m, ''));
const css = readFileSync(join(dist, 'swagger-ui.css'), 'utf8').replace(/\/\*# sourceMappingURL=.*?\*\//g, '');
const init = inline(readFileSync(join(here, 'init.js'), 'utf8'));

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse API reference</title>
<style>${css}</style>
</head>
<body>
<noscript>This reference needs JavaScript. The description itself is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<div id="docs"></div>
<script>${bundle}</script>
<script>${init}</script>
</body>
</html>
`;
writeFileSync(join(here, '..', 'dist', 'docs.html'), html);
console.log(`docs: wrote dist/docs.html (${Math.round(html.length / 1024)} KiB)`);
