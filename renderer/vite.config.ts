import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Every page under renderer/ is an entry. Relative asset URLs let the console serve the
// dashboard under /dashboard/ and Electron load the same files from its own protocol.
const root = resolve(import.meta.dirname);

export default defineConfig({
  root,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: resolve(root, '../dist/renderer'),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    rollupOptions: {
      input: {
        dashboard: resolve(root, 'dashboard/index.html'),
        aup: resolve(root, 'aup/index.html'),
        status: resolve(root, 'status/index.html'),
        concern: resolve(root, 'concern/index.html'),
        'request-app': resolve(root, 'request-app/index.html'),
        blocked: resolve(root, 'blocked/index.html'),
        safeguarding: resolve(root, 'safeguarding/index.html'),
        users: resolve(root, 'users/index.html'),
        policies: resolve(root, 'policies/index.html'),
      },
    },
  },
});
