/**
 * A ZAP handler (ZeroMQ RFC 27) that admits CURVE clients by public key: the allow-list behind
 * `ingest.curve.clientPublicKeys` (docs/operations.md §Security). libzmq asks the handler bound at
 * inproc://zeromq.zap.01 in the socket's context about every CURVE handshake; without a handler it admits every
 * client that knows the server key.
 */
import * as zmq from 'zeromq';
import type { Logger } from '../util/log.ts';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Z85 text of binary whose length is a multiple of 4 (ZeroMQ RFC 32). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`z85Encode: ${bytes.length} bytes; expected a multiple of 4`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
    const chunk: string[] = [];
    for (let k = 0; k < 5; k++) {
      chunk.unshift(Z85[v % 85]);
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** A running ZAP handler. */
export interface ZapHandler {
  /** handshakes answered: admitted and refused */
  readonly admitted: number;
  readonly refused: number;
  close(): void;
}

/** Bind the ZAP handler admitting only CURVE clients whose Z85 public key is in `allowed`. */
export async function startZapHandler(allowed: readonly string[], log: Logger): Promise<ZapHandler> {
  const allow = new Set(allowed);
  const router = new zmq.Router({ linger: 0 });
  await router.bind(ZAP_ENDPOINT);
  const loggedKeys = new Set<string>();
  let admitted = 0;
  let refused = 0;
  let closed = false;
  void (async () => {
    while (!closed) {
      let frames: Buffer[];
      try {
        frames = await router.receive();
      } catch {
        break; // closed
      }
      // [routing id, "", version, request id, domain, address, identity, mechanism, credentials…]
      const [routing, , version, requestId, , address, , mechanism, credential] = frames;
      let status = '400';
      let text = 'client key not allowed';
      let user = '';
      if (version?.toString() !== '1.0') {
        text = 'unsupported ZAP version';
      } else if (mechanism?.toString() !== 'CURVE' || !credential || credential.length !== 32) {
        text = 'CURVE required';
      } else {
        const key = z85Encode(credential);
        if (allow.has(key)) {
          status = '200';
          text = 'OK';
          user = key;
          admitted++;
        } else {
          refused++;
          if (!loggedKeys.has(key) && loggedKeys.size < 1000) {
            loggedKeys.add(key);
            log.warn({ clientKey: key, address: address?.toString() }, 'refused a producer: its CURVE public key is not in ingest.curve.clientPublicKeys');
          }
        }
      }
      try {
        await router.send([routing, Buffer.alloc(0), Buffer.from('1.0'), requestId ?? Buffer.alloc(0), Buffer.from(status), Buffer.from(text), Buffer.from(user), Buffer.alloc(0)]);
      } catch {
        break;
      }
    }
  })();
  return {
    get admitted() {
      return admitted;
    },
    get refused() {
      return refused;
    },
    close() {
      closed = true;
      router.close();
    },
  };
}
