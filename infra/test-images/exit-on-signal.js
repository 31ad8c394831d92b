// As PID 1, node ignores SIGTERM unless it handles it: without this, `docker stop` waits for its timeout.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
