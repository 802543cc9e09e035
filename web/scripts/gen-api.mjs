// npm run gen:api: writes packages/client/src/generated/openapi.ts from httpapi/openapi.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { generate, generatedPath } from './openapi.mjs';

mkdirSync(dirname(generatedPath), { recursive: true });
writeFileSync(generatedPath, await generate());
console.log(`wrote ${relative(process.cwd(), generatedPath)}`);
