// Request target -> file under a served directory, for the repository's static servers (the demo's
// www/serve.mjs, the browser tests' tests/browser/lib/server.mjs, bench/server.mjs): one place that
// decodes the URL path and checks, after decoding, that the file stays inside its root.
//
//   const pathname = requestPath(req.url);     // null: malformed -> answer 400
//   const file = fileUnder(root, pathname);     // null: outside root (e.g. /..%2f..%2fetc%2fpasswd)

import path from 'node:path';

/**
 * The decoded path of a request target ('/a%20b?x=1' -> '/a b'), or null when it is malformed:
 * not origin-form (no leading '/'), not a URL a browser could have sent (`//[`), invalid
 * percent-encoding (`/%E0%A4%A`, `/%zz`) or a NUL byte. Query and fragment are dropped. The path
 * is taken as sent, so `//host/x` stays a path (a URL parser would read `host` as an authority).
 */
export function requestPath(target) {
  if (typeof target !== 'string' || !target.startsWith('/')) return null;
  try {
    new URL(target, 'http://localhost');
  } catch {
    return null;
  }
  let pathname;
  try {
    pathname = decodeURIComponent(target.split(/[?#]/, 1)[0]);
  } catch {
    return null;
  }
  return pathname.includes('\0') ? null : pathname;
}

/**
 * Absolute path of `relative` (a decoded URL path, e.g. from requestPath) inside `root`, or null
 * when it would leave `root` ('..' segments, decoded '%2f..' included). Lexical: a symbolic link
 * inside root is followed by the caller like any file (the test server mounts ../shared that way).
 */
export function fileUnder(root, relative) {
  const base = path.resolve(root);
  const file = path.resolve(base, relative.replace(/^[/\\]+/, ''));
  return file === base || file.startsWith(base + path.sep) ? file : null;
}
