// Part of the build (scripts/build.mjs): a copy of h5wasm's Node build that loads its WebAssembly from a file.
//
// Why: h5wasm's `dist/node/hdf5_util.js` (Emscripten, SINGLE_FILE) carries its 3.5 MB wasm as one 4 MB JavaScript
// string literal. Every process that imports it decodes 4 MB of source text, pre-parses it, parses the literal again
// when the function holding it first runs, and turns the string back into bytes: ~0.1 s of a 2 s replay, and ~20 MB
// of fresh memory (docs/performance.md §Start-up and whole-process replay). The copy written here is the library's
// own code, byte for byte, except that one function: `findWasmBinary()` reads `hdf5_util.wasm` beside it instead of
// decoding the literal. The wasm file holds exactly the bytes the original hands to WebAssembly.instantiate
// (captured from a real run of the original, so the string's encoding is not re-implemented here), and the copy is
// loaded and checked before the build uses it. If h5wasm changes shape (no such function, more than one, a failed
// check), the build says why and the bundle imports `h5wasm/node` as before.
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HEAD = "function findWasmBinary(){return binaryDecode('";
const REPLACEMENT = "function findWasmBinary(){return __loopstreamReadWasm(new URL('./hdf5_util.wasm',import.meta.url))}";

/** The end of the single-quoted JavaScript string literal whose body starts at `from` (index of the closing quote). */
function literalEnd(text, from) {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === "'") return i;
  }
  return -1;
}

/** The bytes h5wasm's Emscripten module instantiates, taken from one run of the module itself. */
async function capturedWasm(utilUrl) {
  const instantiate = WebAssembly.instantiate;
  let bytes;
  WebAssembly.instantiate = (source, imports) => {
    bytes ??= source instanceof ArrayBuffer ? new Uint8Array(source) : source;
    return instantiate(source, imports);
  };
  try {
    const { default: factory } = await import(utilUrl);
    await factory({ noInitialRun: true });
  } finally {
    WebAssembly.instantiate = instantiate;
  }
  if (!(bytes instanceof Uint8Array)) throw new Error('the module did not instantiate from bytes');
  return bytes;
}

/**
 * Write `outDir/hdf5_hl.js` (unchanged), `outDir/hdf5_util.js` (the wasm literal replaced by a file read) and
 * `outDir/hdf5_util.wasm`. Returns undefined on success, else why the copy was not made (outDir removed).
 */
export async function writeH5wasmWithWasmFile(outDir) {
  try {
    const hlUrl = import.meta.resolve('h5wasm/node');
    const utilUrl = new URL('./hdf5_util.js', hlUrl).href;
    const hl = readFileSync(fileURLToPath(hlUrl), 'latin1');
    if (!hl.includes("from './hdf5_util.js'")) throw new Error("hdf5_hl.js no longer imports './hdf5_util.js'");
    // latin1 both ways: every byte outside the replaced function is written back unchanged
    const util = readFileSync(fileURLToPath(utilUrl), 'latin1');
    const start = util.indexOf(HEAD);
    if (start < 0 || util.indexOf(HEAD, start + 1) >= 0) throw new Error('hdf5_util.js has no single embedded-wasm function');
    const close = literalEnd(util, start + HEAD.length);
    if (close < 0 || util.slice(close, close + 3) !== "')}") throw new Error("hdf5_util.js's embedded wasm is not one string literal");
    const wasm = await capturedWasm(utilUrl);
    if (!WebAssembly.validate(wasm)) throw new Error('the captured wasm does not validate');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(`${outDir}/hdf5_util.wasm`, wasm);
    writeFileSync(`${outDir}/hdf5_util.js`, `import { readFileSync as __loopstreamReadWasm } from 'node:fs';\n${util.slice(0, start)}${REPLACEMENT}${util.slice(close + 3)}`, 'latin1');
    writeFileSync(`${outDir}/hdf5_hl.js`, hl, 'latin1');
    // the copy must start: HDF5's library initialisation runs in `ready`
    const copy = await import(pathToFileURL(`${outDir}/hdf5_hl.js`).href);
    const module = await copy.ready;
    if (!(module?.HEAPU8 instanceof Uint8Array) || typeof copy.File !== 'function') throw new Error('the copy loaded without its API');
    return undefined;
  } catch (err) {
    rmSync(outDir, { recursive: true, force: true });
    return err.message;
  }
}
