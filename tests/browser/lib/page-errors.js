// Records a page's uncaught errors and console output in window.__pageErrors / window.__pageLogs.
// WebKit's automation mode reports neither to the test: lib/engines.mjs injects this file after a
// WebKit page has loaded, and pages/runtime.html loads it first (classic script) so nothing is missed.
(() => {
  if (window.__pageErrors) return;
  const errors = (window.__pageErrors = []);
  const logs = (window.__pageLogs = []);
  const text = (a) => a.map((x) => (x instanceof Error ? x.message : typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ');
  for (const type of ['log', 'info', 'warn', 'error', 'debug']) {
    const orig = console[type].bind(console);
    console[type] = (...a) => {
      logs.push(`${type}: ${text(a)}`);
      if (type === 'error') errors.push(`console.error: ${text(a)}`);
      orig(...a);
    };
  }
  addEventListener('error', (e) => errors.push(`pageerror: ${(e.error && e.error.message) || e.message}`));
  addEventListener('unhandledrejection', (e) => errors.push(`pageerror: ${(e.reason && e.reason.message) || e.reason}`));
})();
