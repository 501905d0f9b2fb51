// Shared by provider.mjs and fake.mjs: the command line, the default accounts, the
// ready file and a clean shutdown.

import { renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

// The accounts of the real provider (provider.mjs) and the e-mail addresses the fake one
// (fake.mjs) signs for. `sub` is what the ID token's `sub` carries; a person signs in with
// the e-mail address (or the sub) typed as the login.
export const DEFAULT_ACCOUNTS = [
  { sub: 'globex-sso-0001', email: 'sso@globex.example', email_verified: true, name: 'Sam Sso' },
  { sub: 'globex-unverified-0002', email: 'unverified@globex.example', email_verified: false, name: 'Una Verified' },
  { sub: 'globex-nobody-0003', email: 'nobody@globex.example', email_verified: true, name: 'Nobody Globex' },
  { sub: 'alta-demo-0004', email: 'demo@alta.local', email_verified: true, name: 'Demo User' },
  { sub: 'elsewhere-someone-0005', email: 'someone@elsewhere.example', email_verified: true, name: 'Someone Elsewhere' },
];

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

// `spec` maps option name -> { type, multiple?, env, default }. A command-line value wins
// over the environment variable, which wins over the default.
export function parseOptions(spec, argv = process.argv.slice(2)) {
  const options = {};
  for (const [name, { type = 'string', multiple }] of Object.entries(spec)) {
    options[name] = { type, multiple: !!multiple };
  }
  options.help = { type: 'boolean', short: 'h' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  const out = {};
  for (const [name, { env, default: def, multiple }] of Object.entries(spec)) {
    let value = values[name];
    if (multiple) {
      if (value === undefined || value.length === 0) {
        value = env && process.env[env] ? [process.env[env]] : undefined;
      }
      // Repeatable and comma-separated both work: --redirect-uri a --redirect-uri b,c
      value = value?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
      if (!value?.length) value = def;
    } else {
      if (value === undefined && env && process.env[env] !== undefined && process.env[env] !== '') {
        value = process.env[env];
      }
      if (value === undefined) value = def;
    }
    out[name] = value;
  }
  out.help = values.help;
  return out;
}

export function usage(name, spec, text) {
  const lines = [`usage: node ${name} [options]`, '', text, ''];
  for (const [opt, { env, default: def, help, multiple }] of Object.entries(spec)) {
    const d = def === undefined ? '' : ` (default: ${Array.isArray(def) ? def.join(',') : def})`;
    lines.push(`  --${opt}${multiple ? ' (repeatable, or a comma list)' : ''}${env ? `  [env ${env}]` : ''}`);
    lines.push(`      ${help}${d}`);
  }
  return lines.join('\n');
}

export function parsePort(value) {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer 0..65535, got ${value}`);
  }
  return port;
}

// An issuer with a path, a query or a fragment is refused: both servers answer at the root.
export function checkIssuer(issuer) {
  const url = new URL(issuer);
  if (!['http:', 'https:'].includes(url.protocol)) throw new Error('--issuer must be an http(s) URL');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || issuer.endsWith('/')) {
    throw new Error('--issuer must be scheme://host[:port] with no path, query, fragment or trailing slash');
  }
  return issuer;
}

// Written once the server listens: the issuer URL, no newline, by rename so a poller
// never reads half a file.
export function writeReadyFile(path, issuer) {
  if (!path) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, issuer);
  renameSync(tmp, path);
}

// SIGTERM / SIGINT: stop accepting, drop open connections (the fake's `slow` token
// requests among them), exit 0.
export function shutdownOn(server, name, onClose = () => {}) {
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${name}: ${signal}, shutting down\n`);
    onClose();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

export function listen(server, port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

export function loadAccounts(file, readFileSync) {
  if (!file) return DEFAULT_ACCOUNTS;
  const accounts = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(accounts) || accounts.length === 0) {
    throw new Error(`${file}: expected a non-empty JSON array of accounts`);
  }
  for (const a of accounts) {
    if (typeof a.sub !== 'string' || !a.sub || typeof a.email !== 'string' || !a.email) {
      throw new Error(`${file}: every account needs a non-empty "sub" and "email": ${JSON.stringify(a)}`);
    }
  }
  return accounts;
}
