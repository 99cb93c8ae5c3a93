// `node --import bench/support/report-max-rss.mjs …`: on exit, print the process's peak RSS (KiB, as getrusage
// reports it) as the last line on stderr, `maxrss <KiB>`. bench/e2e.ts uses it to measure a whole CLI process.
process.on('exit', () => process.stderr.write(`\nmaxrss ${process.resourceUsage().maxRSS}\n`));
