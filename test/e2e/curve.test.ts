/**
 * ZeroMQ CURVE on a real `loopstream serve` process (docs/operations.md §Security): with a server key pair in
 * `ingest.curve`, only producers that know the daemon's public key get through — a Node producer and the Python
 * example (pyzmq) with `--server-key` stream whole scans; a plaintext producer and one holding another server's key
 * are refused at the handshake, and none of their messages reaches the pipeline.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePixel, encodeStart, encodeStop } from '../../src/protocol/encode.ts';
import { simulateScan, type SimulatedScan } from '../../src/sim/index.ts';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { encodedPixels, readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);

/** Send a whole scan over `push`; resolves the number of messages handed to ZeroMQ. */
async function sendScan(push: zmq.Push, scan: SimulatedScan): Promise<number> {
  const n = scan.start.grid.rows * scan.start.grid.cols;
  await push.send(encodeStart(scan.start));
  for (const p of scan.pixels()) await push.send(encodePixel({ type: 'pixel', scanId: p.scanId, seq: p.seq, row: p.row, col: p.col, t: p.t }, p.data, scan.start));
  await push.send(encodeStop({ type: 'stop', scanId: scan.start.scanId, status: 'completed', pixelsSent: n, lastSeq: n - 1 }));
  return n + 2;
}

describe('ZeroMQ CURVE encryption and authentication', () => {
  let d: DaemonProcess | undefined;
  afterEach(async () => {
    await d?.kill();
    d = undefined;
  });

  it('lets producers holding the server key through and refuses plaintext and wrong-key producers', async () => {
    const bundle = await testBundle();
    const server = zmq.curveKeyPair();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { ingest: { curve: { serverSecretKey: server.secretKey, serverPublicKey: server.publicKey } } } });
    expect(d.logs.find((l) => l.msg === 'listening for scans')).toMatchObject({ curve: true });
    const scan = (id: string, seed: number) => simulateScan({ rows: 4, cols: 4, seed, steps: bundle.T, scanId: id });

    // Intruders first, so their messages would be ahead of the good ones if they got in at all.
    const plain = new zmq.Push({ linger: 0, sendHighWaterMark: 100 });
    plain.connect(d.endpoint);
    const wrongServer = zmq.curveKeyPair();
    const wrong = new zmq.Push({ linger: 0, sendHighWaterMark: 100 });
    const wrongClient = zmq.curveKeyPair();
    wrong.curveServerKey = wrongServer.publicKey; // encrypts for another server: the handshake cannot complete
    wrong.curvePublicKey = wrongClient.publicKey;
    wrong.curveSecretKey = wrongClient.secretKey;
    wrong.connect(d.endpoint);
    // ZeroMQ queues for peers whose handshake has not completed; the sends are accepted locally and never delivered.
    void sendScan(plain, scan('intruder-plain', 1)).catch(() => undefined);
    void sendScan(wrong, scan('intruder-wrong-key', 2)).catch(() => undefined);

    const good = new zmq.Push({ linger: 10_000 });
    const client = zmq.curveKeyPair();
    good.curveServerKey = server.publicKey;
    good.curvePublicKey = client.publicKey;
    good.curveSecretKey = client.secretKey;
    good.connect(d.endpoint);
    const goodMessages = await sendScan(good, scan('curve-node', 3));
    good.close();
    await d.scanFinished('curve-node');

    const file = join(d.dataDir, 'usid.h5');
    await run('/usr/bin/python3', [join(ROOT, 'examples/python/make_usid.py'), file, '--rows', '4', '--cols', '4', '--steps', String(bundle.T)]);
    await run('/usr/bin/python3', [join(ROOT, 'examples/python/publish_usid.py'), file, '--endpoint', d.endpoint, '--scan-id', 'curve-python', '--server-key', server.publicKey], { timeout: 60_000 });
    await d.scanFinished('curve-python');
    // The intruders had all this time to get in; close them and check that nothing of theirs arrived.
    plain.close();
    wrong.close();

    const final = await d.stop();
    expect(final?.received).toBe(goodMessages + 18); // the Node scan and the Python scan (16 pixels + start + stop), nothing else
    expect(final?.rejected).toEqual({});
    expect(d.logs.filter((l) => l.msg === 'scan started').map((l) => l.scanId).sort()).toEqual(['curve-node', 'curve-python']);
    for (const id of ['curve-node', 'curve-python']) {
      expect(encodedPixels(await readResults(d.resultsPath(id)))).toEqual(Array.from({ length: 16 }, (_, i) => i));
    }
  }, 90_000);

  it('with clientPublicKeys, admits only the listed producers (ZAP allow-list)', async () => {
    const bundle = await testBundle();
    const server = zmq.curveKeyPair();
    const listed = zmq.curveKeyPair();
    const unlisted = zmq.curveKeyPair();
    d = await DaemonProcess.start({
      bundle: bundle.dir,
      config: { ingest: { curve: { serverSecretKey: server.secretKey, serverPublicKey: server.publicKey, clientPublicKeys: [listed.publicKey] } } },
    });
    expect(d.logs.find((l) => l.msg === 'listening for scans')).toMatchObject({ curve: true, clientAllowList: 1 });
    const producer = (keys: { publicKey: string; secretKey: string }, linger: number) => {
      const p = new zmq.Push({ linger, sendHighWaterMark: 100 });
      p.curveServerKey = server.publicKey;
      p.curvePublicKey = keys.publicKey;
      p.curveSecretKey = keys.secretKey;
      p.connect(d!.endpoint);
      return p;
    };
    // Knows the server key, but its own key is not on the list.
    const intruder = producer(unlisted, 0);
    void sendScan(intruder, simulateScan({ rows: 4, cols: 4, seed: 8, steps: bundle.T, scanId: 'unlisted' })).catch(() => undefined);
    const refusal = await d.waitForLog((l) => /^refused a producer/.test(l.msg));
    expect(refusal.clientKey).toBe(unlisted.publicKey);

    const good = producer(listed, 10_000);
    const n = await sendScan(good, simulateScan({ rows: 4, cols: 4, seed: 9, steps: bundle.T, scanId: 'listed' }));
    good.close();
    await d.scanFinished('listed');
    intruder.close();
    const final = await d.stop();
    expect(final?.received).toBe(n);
    expect(d.logs.filter((l) => l.msg === 'scan started').map((l) => l.scanId)).toEqual(['listed']);
  }, 90_000);
});
