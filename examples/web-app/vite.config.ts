import { defineConfig } from 'vite';

// React's JSX through esbuild, the transform Vite already has: the example
// needs no Fast Refresh, so no @vitejs/plugin-react either.
export default defineConfig({
  esbuild: { jsx: 'automatic' },
});
