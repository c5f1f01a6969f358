// nets.js: the networks the browser runs, one home for both components that run them (latent_pad decodes while a
// slider moves, draw_pad encodes and decodes while the pen draws). Their Python concatenates this file before the
// component's own script (components v2 takes one script), so what is declared here is in scope there.
//
// Weights arrive as base64 little-endian float32 strings in PyTorch's layouts (training/vae/array_decoder.py and
// array_encoder.py are the same computations in numpy). The layers, exactly as PyTorch computes them:
//   dense   out[j] = b[j] + sum_i w[j, i] h[i]                         (nn.Linear, w row-major (out, in))
//   deconv  ConvTranspose2d(kernel 4, stride 2, padding 1)             (w (c_in, c_out, 4, 4)): doubles H, W
//   conv    Conv2d(kernel 4, stride 2, padding 1)                      (w (c_out, c_in, 4, 4)): halves H, W
// with a ReLU between layers. The decoder's image is the sigmoid of its first C channels (the decoder mean); the
// encoder's 2Z outputs are mu (the first Z) and logvar (the last Z), as the torch model's chunk(2) splits them.
"use strict";

const K = 4, STRIDE = 2, PAD = 1;

function b64ToFloat32(s) {
  const bin = atob(s);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);  // little-endian, as numpy "<f4" wrote it
}

// Layers with their weights as Float32Arrays and an output buffer each, parsed once per model.
function parseLayers(model) {
  return model.layers.map(l => ({
    kind: l.kind, w: b64ToFloat32(l.w), b: b64ToFloat32(l.b), inShape: l.in_shape, outShape: l.out_shape,
    out: new Float32Array(l.out_shape.reduce((a, v) => a * v, 1)),
  }));
}

function dense(L, h) {
  const {w, b, out} = L, nIn = L.inShape[0], nOut = L.outShape[0];
  for (let j = 0; j < nOut; j++) {
    let s = b[j];
    const row = j * nIn;
    for (let i = 0; i < nIn; i++) s += w[row + i] * h[i];
    out[j] = s;
  }
}

function deconv(L, h) {
  // Each input pixel (ci, iy, ix) adds h * w[ci, co, ky, kx] at output (co, 2 iy - 1 + ky, 2 ix - 1 + kx).
  const {w, b, out} = L;
  const [cIn, hIn, wIn] = L.inShape, [cOut, hOut, wOut] = L.outShape;
  const plane = hOut * wOut;
  for (let co = 0; co < cOut; co++) out.fill(b[co], co * plane, (co + 1) * plane);
  for (let ci = 0; ci < cIn; ci++) {
    for (let iy = 0; iy < hIn; iy++) {
      for (let ix = 0; ix < wIn; ix++) {
        const v = h[(ci * hIn + iy) * wIn + ix];
        if (v === 0) continue;  // after a ReLU most inputs are zero
        for (let co = 0; co < cOut; co++) {
          const wBase = (ci * cOut + co) * K * K, oBase = co * plane;
          for (let ky = 0; ky < K; ky++) {
            const oy = STRIDE * iy - PAD + ky;
            if (oy < 0 || oy >= hOut) continue;
            const oRow = oBase + oy * wOut, wRow = wBase + ky * K;
            for (let kx = 0; kx < K; kx++) {
              const ox = STRIDE * ix - PAD + kx;
              if (ox >= 0 && ox < wOut) out[oRow + ox] += v * w[wRow + kx];
            }
          }
        }
      }
    }
  }
}

function conv(L, h) {
  // out[co, oy, ox] = b[co] + sum over ci, ky, kx of w[co, ci, ky, kx] h[ci, 2 oy - 1 + ky, 2 ox - 1 + kx]
  // (zero outside the image).
  const {w, b, out} = L;
  const [cIn, hIn, wIn] = L.inShape, [cOut, hOut, wOut] = L.outShape;
  for (let co = 0; co < cOut; co++) {
    for (let oy = 0; oy < hOut; oy++) {
      for (let ox = 0; ox < wOut; ox++) {
        let s = b[co];
        for (let ci = 0; ci < cIn; ci++) {
          const wBase = (co * cIn + ci) * K * K, hBase = ci * hIn * wIn;
          for (let ky = 0; ky < K; ky++) {
            const iy = STRIDE * oy - PAD + ky;
            if (iy < 0 || iy >= hIn) continue;
            for (let kx = 0; kx < K; kx++) {
              const ix = STRIDE * ox - PAD + kx;
              if (ix >= 0 && ix < wIn) s += w[wBase + ky * K + kx] * h[hBase + iy * wIn + ix];
            }
          }
        }
        out[(co * hOut + oy) * wOut + ox] = s;
      }
    }
  }
}

const LAYER = {dense, deconv, conv};

// The layers in turn, a ReLU between them (none after the last); the last layer's output buffer.
function forward(layers, x) {
  let h = x;
  for (let k = 0; k < layers.length; k++) {
    const L = layers[k];
    LAYER[L.kind](L, h);
    if (k < layers.length - 1) { const o = L.out; for (let i = 0; i < o.length; i++) if (o[i] < 0) o[i] = 0; }
    h = L.out;
  }
  return h;
}

// ---- the decoder: z -> the decoder mean ----
function makeDecoder(model) {
  const layers = parseLayers(model);
  const imageShape = model.image_shape;

  // z -> sigmoid of the first C*H*W outputs; writes into and returns OUT (Float32Array(C*H*W)).
  function decodeInto(z, out) {
    const h = forward(layers, z);
    for (let p = 0; p < out.length; p++) out[p] = 1 / (1 + Math.exp(-h[p]));
    return out;
  }

  return {decodeInto, imageShape, zDim: layers[0].inShape[0],
          pixels: () => new Float32Array(imageShape[0] * imageShape[1] * imageShape[2])};
}

// ---- the encoder: x (C*H*W in [0, 1], C order) -> mu, logvar (E3) ----
function makeEncoder(model) {
  const layers = parseLayers(model);
  const zDim = layers[layers.length - 1].outShape[0] / 2;

  // Writes the posterior's mean into MU and log-variance into LOGVAR (Float32Array(Z) each).
  function encodeInto(x, mu, logvar) {
    const h = forward(layers, x);
    for (let k = 0; k < zDim; k++) { mu[k] = h[k]; logvar[k] = h[zDim + k]; }
  }

  return {encodeInto, imageShape: model.image_shape, zDim};
}
