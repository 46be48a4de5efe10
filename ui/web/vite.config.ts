import { defineConfig } from 'vite';

// The build goes to ../dist, which the Go package ui embeds (go:embed):
// the Go build never runs node. `make ui` rebuilds it.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a running `podtrace serve`
    proxy: { '/api': 'http://127.0.0.1:8080', '/openapi.json': 'http://127.0.0.1:8080' },
  },
});
