import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { checkBind, isLoopback, originAllowed, tokenMatches, tokenOf } from '../../src/server/access.ts';

describe('access rules', () => {
  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', 'myhost.lab', '128.0.0.1']) expect(isLoopback(h), h).toBe(false);
  });

  it('refuses to bind beyond loopback without a token, and says how to fix it', () => {
    expect(() => checkBind({ host: '127.0.0.1', token: '' })).not.toThrow();
    expect(() => checkBind({ host: '0.0.0.0', token: 's3cret' })).not.toThrow();
    let err: unknown;
    try {
      checkBind({ host: '0.0.0.0', token: '' }, 'lab.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('LS_CONFIG_INVALID');
    expect((err as ConfigError).message).toBe(
      'lab.yaml: server.host is "0.0.0.0", which is reachable beyond this machine, and server.token is empty; ' +
        'set server.token (e.g. --set server.token=$(openssl rand -hex 16)) or bind to 127.0.0.1',
    );
  });

  it('compares tokens and finds them in header, query or cookie', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
    expect(tokenMatches(undefined, '')).toBe(true);
    expect(tokenOf({ headers: { authorization: 'Bearer t1' }, url: '/' })).toBe('t1');
    expect(tokenOf({ headers: {}, url: '/metrics?token=t2' })).toBe('t2');
    expect(tokenOf({ headers: { cookie: 'a=1; loopstream_token=t%203' }, url: '/' })).toBe('t 3');
    expect(tokenOf({ headers: {}, url: '/' }, 't4')).toBe('t4');
    expect(tokenOf({ headers: {}, url: '/' })).toBeUndefined();
  });

  it('treats a malformed token cookie as no token instead of throwing', () => {
    for (const bad of ['%', '%zz', 'a%', '%E0%A4%A', '%uD800']) {
      expect(tokenOf({ headers: { cookie: `loopstream_token=${bad}` }, url: '/' }), bad).toBeUndefined();
      expect(tokenMatches(tokenOf({ headers: { cookie: `loopstream_token=${bad}` }, url: '/' }), 'secret'), bad).toBe(false);
    }
  });

  it("allows the dashboard's own origins and the allow-list, refuses any other web page", () => {
    const rule = { host: '127.0.0.1', port: 8080, allowed: ['https://proxy.example'], token: false };
    expect(originAllowed(undefined, '127.0.0.1:8080', rule)).toBe(true); // not a browser: the token rule decides
    for (const o of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'http://LOCALHOST:8080', 'https://proxy.example', 'https://proxy.example:443']) {
      expect(originAllowed(o, '127.0.0.1:8080', rule), o).toBe(true);
    }
    // another port on this machine is another site; a rebound DNS name equal to Host is not trusted without a token
    for (const o of ['http://evil.example', 'http://localhost:3000', 'http://127.0.0.1', 'null', 'file://', 'http://evil.example:8080', 'https://proxy.example:8443', 'not a url']) {
      expect(originAllowed(o, 'evil.example:8080', rule), o).toBe(false);
    }
    const lab = { host: '0.0.0.0', port: 8080, allowed: [], token: true };
    expect(originAllowed('http://labpc:8080', 'labpc:8080', lab)).toBe(true);
    expect(originAllowed('http://evil.example', 'labpc:8080', lab)).toBe(false);
    expect(originAllowed('http://labpc:8080', 'labpc:8080', { ...lab, token: false })).toBe(false);
    expect(originAllowed('http://10.0.0.5:8080', 'x', { ...lab, host: '10.0.0.5' })).toBe(true);
  });
});
