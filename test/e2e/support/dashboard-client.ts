/**
 * A dashboard client in its own process, to be killed without warning (test/e2e/faults-clients.test.ts).
 * Usage: dashboard-client.ts URL SCAN_ID ack|stall — connects over Socket.IO, follows SCAN_ID and prints one line
 * per server message on stdout ("hello", "snapshot <encoded>", "delta <encoded>"). `stall` never acknowledges a
 * map message, like a frozen browser tab.
 */
import { io } from 'socket.io-client';

const [url, scanId, mode] = process.argv.slice(2);
const socket = io(url, { transports: ['websocket'], reconnection: false });
socket.on('server:hello', () => {
  process.stdout.write('hello\n');
  socket.emit('scan:select', scanId);
});
socket.on('map:snapshot', (s: { encoded: number }, ack: () => void) => {
  process.stdout.write(`snapshot ${s.encoded}\n`);
  if (mode === 'ack') ack();
});
socket.on('map:delta', (d: { encoded: number }, ack: () => void) => {
  process.stdout.write(`delta ${d.encoded}\n`);
  if (mode === 'ack') ack();
});
socket.on('connect_error', (err) => {
  process.stdout.write(`error ${err.message}\n`);
  process.exit(2);
});
