import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Multi-process and ZeroMQ tests bind real sockets: keep files in separate forks, two at a time (2-core CI).
    pool: 'forks',
    maxWorkers: 2,
  },
});
