// ESLint (flat config): the recommended rules of ESLint and typescript-eslint over the TypeScript tree.
// `npm test` runs it (npm run lint) before the tests; `npm run format` rewrites the tree with Prettier.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/pg-clients/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Unused names are an error, except those deliberately marked with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Protocol code matches control characters on purpose (stripping mIRC colours, refusing NUL in a finger query).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read JSON answers of daemons and peers field by field.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
