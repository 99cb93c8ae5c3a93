import { describe, expect, it } from 'vitest';
import { biLstmFlops, vaeFlops, vaeParams } from '../../bench/flops.ts';
import { buildVae, countParams, presetDims } from '../../src/model/vae.ts';

// Tiny model counted by hand: U = 2, blocks = 1, L = 3, T = 4, C = 1.
const tiny = { units: 2, blocks: 1, latentDim: 3, T: 4, C: 1 };

describe('vaeFlops', () => {
  it('counts one BiLSTM as 2 directions × T steps × 2·4U·(in+U)', () => {
    // in = 1, U = 2: 2·8·3 = 48 per step per direction; × 4 steps × 2 directions
    expect(biLstmFlops(4, 1, 2)).toBe(384);
  });

  it('matches a hand count of a tiny model', () => {
    // encoder: lstm0 (in 1) 384 + lstm1 (in 4: 2·8·6·8) 768 + last (in 4) 768 + emb 2·4·3 24 + mu 18 + logvar 18
    // decoder: emb 18 + lstm (in 3: 2·8·5·8) 640 + block 2 × 768 + out 4 steps · 2·4·1 32
    expect(vaeFlops(tiny)).toEqual({ encoder: 1980, decoder: 2226, total: 4206 });
  });

  it('grows with the number of blocks by four 2U-input BiLSTMs', () => {
    const one = vaeFlops(tiny).total;
    const two = vaeFlops({ ...tiny, blocks: 2 }).total;
    expect(two - one).toBe(4 * biLstmFlops(4, 4, 2));
  });
});

describe('vaeFlops, non-recurrent presets', () => {
  it('mlp T=96 C=2: 192→256→128→(μ, log σ²) and 16→128→256→192, 2 FLOPs per multiply-add', () => {
    const f = vaeFlops(presetDims('mlp', 96, 2));
    expect(f.encoder).toBe(2 * (192 * 256 + 256 * 128 + 2 * 128 * 16));
    expect(f.decoder).toBe(2 * (16 * 128 + 128 * 256 + 256 * 192));
  });
  it('conv T=96 C=2: three k4 stride-2 convs 96→48→24→12, three k3 convs after upsampling 12→24→48→96', () => {
    const f = vaeFlops(presetDims('conv', 96, 2));
    expect(f.encoder).toBe(2 * (48 * 4 * 2 * 16 + 24 * 4 * 16 * 32 + 12 * 4 * 32 * 64) + 2 * (768 * 64 + 2 * 64 * 16));
    expect(f.decoder).toBe(2 * (16 * 64 + 64 * 768) + 2 * (24 * 3 * 64 * 32 + 48 * 3 * 32 * 16 + 96 * 3 * 16 * 2));
  });
});

describe('vaeParams', () => {
  it('matches a hand count of the tiny model', () => {
    // enc: 64 + 112 + 112 + 15 + 12 + 12 = 327; dec: 12 + 96 + 224 + 5 = 337
    expect(vaeParams(tiny)).toBe(664);
  });

  it('matches the tfjs model built by buildVae (tiny and edge)', () => {
    for (const dims of [tiny, presetDims('edge', 96, 2)]) {
      const vae = buildVae(dims, { seed: 1, fastInit: true });
      expect(vaeParams(dims)).toBe(countParams(vae));
      vae.encoder.dispose();
      vae.decoder.dispose();
    }
  });

  it('gives the reference model 5,018,946 parameters (paper preset, T = 96, C = 2)', () => {
    expect(vaeParams(presetDims('paper', 96, 2))).toBe(5_018_946);
  });
});
