// attention_backward_dq_tex: attention_backward_dq_vec4 (see attention_backward_dq for the
// derivation) with the key and value rows read from textures, for CPU adapters (llvmpipe) with
// `subgroups`: every lane needs the same key/value row, so it is fetched once per subgroup and
// broadcast (kernels/_attention_fetch.wgsl; why: docs/attention-cpu.md). HS % 4 == 0, HS <= 64;
// subgroups of >= 8 lanes. Each invocation owns TM query rows (row i*WG + lane of the
// workgroup's WG*TM rows of one (b, h)); keys are fetched in lockstep, masked per row.
//   dq      [B,T,NH,HS] f32 (vec4), written with `=`
//   scratch [B,NH,T]    f32, D = rowsum(dout * out), written with `=`
//   dout, out, q [B,T,NH,HS] f32 (vec4), each row loaded once by its lane;  lse [B,NH,T] f32
//   kT, vT textures: k, v [B,T,NKV,HS] row-major, texel i = floats 4i..4i+3 at (i % 4096, i / 4096)
struct Params { B: u32, T: u32, NH: u32, NKV: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dq: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> scratch: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<vec4f>;
@group(0) @binding(4) var<storage, read> out: array<vec4f>;
@group(0) @binding(5) var<storage, read> q: array<vec4f>;
@group(0) @binding(6) var kT: texture_2d<f32>;
@group(0) @binding(7) var vT: texture_2d<f32>;
@group(0) @binding(8) var<storage, read> lse: array<f32>;

override WG: u32 = 8;
// Head size: a multiple of 4, at most 64.
override HS: u32 = 48;
// Query rows per invocation: 1 to 4.
override TM: u32 = 2;

fn ld(which: u32, i: u32) -> vec4f {
  switch (which) {
    case 0u: { return q[i]; }
    case 3u: { return dout[i]; }
    default: { return out[i]; }
  }
}
fn fetch(which: u32, i: u32) -> vec4f {
  let xy = vec2u(i & 4095u, i >> 12u);
  if (which == 1u) { return textureLoad(kT, xy, 0); }
  return textureLoad(vT, xy, 0);
}
fn st(which: u32, i: u32, x: vec4f) {
  dq[i] = x;
}

// State of one query row.
struct St { q: Row, dout: Row, acc: Row, D: f32, L: f32, t: u32 }

fn init(b: u32, bh: u32, h: u32, t: u32, scale: f32) -> St {
  var r: St;
  let tq = min(t, p.T - 1u);
  let off = ((b * p.T + tq) * p.NH + h) * (HS / 4u);
  r.q = axpby(ldRow(0u, off), scale, r.acc, 0.0);
  r.dout = ldRow(3u, off);
  r.D = dotRow(r.dout, ldRow(4u, off));
  r.L = lse[bh * p.T + tq];
  r.t = t;
  return r;
}

fn step(r: St, kr: Row, vr: Row, s: u32) -> St {
  var o = r;
  let sc = dotRow(r.q, kr);
  let dp = dotRow(r.dout, vr);
  let pe = select(0.0, exp(sc - r.L), s <= r.t);
  o.acc = axpy(r.acc, kr, pe * (dp - r.D));
  return o;
}

fn finish(r: St, b: u32, bh: u32, h: u32, scale: f32) {
  if (r.t >= p.T) { return; }
  scratch[bh * p.T + r.t] = r.D;
  stRow(0u, ((b * p.T + r.t) * p.NH + h) * (HS / 4u), axpby(r.acc, scale, r.acc, 0.0));
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sl: u32,
) {
  let RB = WG * TM;
  let ntb = (p.T + RB - 1u) / RB;
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.B * p.NH * ntb) { return; }
  let bh = w / ntb;
  let t0 = (w % ntb) * RB;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let g = h / (p.NH / p.NKV);
  let scale = 1.0 / sqrt(f32(HS));

  var r0 = init(b, bh, h, t0 + lid, scale);
  var r1: St;
  var r2: St;
  var r3: St;
  if (TM > 1u) { r1 = init(b, bh, h, t0 + WG + lid, scale); }
  if (TM > 2u) { r2 = init(b, bh, h, t0 + 2u * WG + lid, scale); }
  if (TM > 3u) { r3 = init(b, bh, h, t0 + 3u * WG + lid, scale); }
  let send = min(p.T, t0 + RB);
  let kstride = p.NKV * (HS / 4u);
  let kbase = (b * p.T * p.NKV + g) * (HS / 4u);
  for (var s = 0u; s < send; s++) {
    let koff = kbase + s * kstride;
    let kr = fetchRow(1u, koff, sl % 8u);
    let vr = fetchRow(2u, koff, sl % 8u);
    if (s < t0 + WG) { r0 = step(r0, kr, vr, s); }
    if (TM > 1u && s < t0 + 2u * WG) { r1 = step(r1, kr, vr, s); }
    if (TM > 2u && s < t0 + 3u * WG) { r2 = step(r2, kr, vr, s); }
    if (TM > 3u) { r3 = step(r3, kr, vr, s); }
  }
  finish(r0, b, bh, h, scale);
  if (TM > 1u) { finish(r1, b, bh, h, scale); }
  if (TM > 2u) { finish(r2, b, bh, h, scale); }
  if (TM > 3u) { finish(r3, b, bh, h, scale); }
}
