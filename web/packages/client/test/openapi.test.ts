import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build scripts, without types.
import { descriptionPath, generate, generatedPath } from '../../../scripts/openapi.mjs';

// The SDK's wire types are generated from the server's OpenAPI description
// (issue 13): a description changed without `npm run gen:api` fails here.
describe('the generated OpenAPI types', () => {
  it('match httpapi/openapi.json (run npm run gen:api)', async () => {
    expect(existsSync(descriptionPath as string), 'httpapi/openapi.json is missing').toBe(true);
    expect(existsSync(generatedPath as string), 'packages/client/src/generated/openapi.ts is missing: run npm run gen:api').toBe(true);
    const want = (await (generate as () => Promise<string>)()) as string;
    const have = readFileSync(generatedPath as string, 'utf8');
    expect(have === want, 'packages/client/src/generated/openapi.ts is stale: run npm run gen:api').toBe(true);
  });
});
