/**
 * Which hosts only this machine can reach: the dashboard's bind rule (src/server/access.ts), the facility page and
 * the ZeroMQ source's exposure warning (src/sources/zmq.ts) all draw the line here, in the same words.
 */
import { isIP } from 'node:net';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return false;
}
