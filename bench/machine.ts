/**
 * What machine the numbers came from, and how busy it was: CPU model and SIMD flags from /proc/cpuinfo, cores,
 * memory, versions, and the load average sampled next to each measurement (the machine may be shared).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';

/** The machine and software versions. */
export interface MachineInfo {
  cpuModel: string;
  /** /proc/cpuinfo cpu family and model (AMD family 25 model 1 = Zen 3), and the reported clock */
  cpuFamily?: number;
  cpuModelNumber?: number;
  cpuMHz?: number;
  /** running under a hypervisor (the `hypervisor` flag) */
  virtualised: boolean;
  /** SIMD-related flags the CPU reports (sse4_2, avx, avx2, fma, avx512*) */
  simdFlags: string[];
  hasAvx512f: boolean;
  logicalCores: number;
  memGiB: number;
  node: string;
  onnxruntime: string;
  tfjs: string;
}

/** Read /proc/cpuinfo and package versions. */
export function machineInfo(): MachineInfo {
  let model = cpus()[0]?.model ?? 'unknown';
  let flags: string[] = [];
  let family: number | undefined;
  let modelNumber: number | undefined;
  let mhz: number | undefined;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? model;
    flags = (/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/);
    const num = (re: RegExp) => {
      const v = re.exec(info)?.[1];
      return v === undefined ? undefined : Number(v);
    };
    family = num(/^cpu family\s*:\s*(\d+)/m);
    modelNumber = num(/^model\s*:\s*(\d+)/m);
    mhz = num(/^cpu MHz\s*:\s*([\d.]+)/m);
  } catch {
    // not Linux: the model from os.cpus() is all we get
  }
  const simd = flags.filter((f) => /^(sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni|amx\w*)$/.test(f));
  const req = createRequire(import.meta.url);
  const version = (p: string) => {
    try {
      return (req(`${p}/package.json`) as { version: string }).version;
    } catch {
      return 'missing';
    }
  };
  return {
    cpuModel: model,
    ...(family !== undefined ? { cpuFamily: family } : {}),
    ...(modelNumber !== undefined ? { cpuModelNumber: modelNumber } : {}),
    ...(mhz !== undefined ? { cpuMHz: mhz } : {}),
    virtualised: flags.includes('hypervisor'),
    simdFlags: simd,
    hasAvx512f: flags.includes('avx512f'),
    logicalCores: cpus().length,
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    onnxruntime: version('onnxruntime-node'),
    tfjs: version('@tensorflow/tfjs'),
  };
}

/** Load average (1, 5, 15 min) right now, rounded. */
export function loadNow(): [number, number, number] {
  const [a, b, c] = loadavg();
  return [+a!.toFixed(2), +b!.toFixed(2), +c!.toFixed(2)];
}
