// ESLint (flat config) with typescript-eslint: `npm run lint`, run by `npm test` before vitest.
// The rules catch bugs (unhandled promises, misused async callbacks, dead code), not style:
// layout is Prettier's job (.prettierrc.json), layers dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const typeAware = {
  // Type information is cheap here: the two tsconfig projects the build already has.
  languageOptions: { parserOptions: { project: ['./tsconfig.json', './renderer/tsconfig.json'], tsconfigRootDir: import.meta.dirname } },
  rules: {
    '@typescript-eslint/no-floating-promises': 'error',
    '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    '@typescript-eslint/await-thenable': 'error',
    '@typescript-eslint/no-for-in-array': 'error',
    '@typescript-eslint/only-throw-error': 'error',
    '@typescript-eslint/return-await': ['error', 'in-try-catch'],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/**', 'installer/**', 'test-results/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    // Directives written for rules this config leaves off are harmless.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      // Positional names in array destructuring (`for (const [key, value] of map)`) document the shape.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '.', caughtErrors: 'none' },
      ],
      // The code runs side effects as comma sequences (`if (x) (a.push(1), (changed = true))`).
      '@typescript-eslint/no-unused-expressions': 'off',
      // TypeScript checks names; the .mjs scripts run under Node, where its globals exist.
      'no-undef': 'off',
      // Filters for control characters in untrusted text are deliberate.
      'no-control-regex': 'off',
      // Flags any method named `apply` (e.g. UsbGate.apply), not only Function.prototype.apply.
      'prefer-spread': 'off',
      // Off until the agent/console restructuring lands (issue 12): see docs/dependencies.md.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-useless-assignment': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['src/**/*.ts', 'main/**/*.ts', 'bench/**/*.ts', 'renderer/**/*.ts'], ignores: ['renderer/vite.config.ts'], ...typeAware },
  {
    files: ['**/*.cjs', '**/*.cts', 'scripts/**/*.mjs', 'bin/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
