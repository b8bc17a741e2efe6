// attention_backward_dkdv_tex: attention_backward_dkdv_vec4 (see attention_backward_dkdv for the
// derivation) with the query and dout rows read from textures, for CPU adapters (llvmpipe) with
// `subgroups`: every lane needs the same query/dout row, so it is fetched once per subgroup and
// broadcast (kernels/_attention_fetch.wgsl; why: docs/attention-cpu.md). HS % 4 == 0, HS <= 64;
// subgroups of >= 8 lanes. Each invocation owns TN key rows (row i*WG + lane of the workgroup's
// WG*TN rows of one (b, kv head)); loops over the group's query heads and the queries t >= the
// workgroup's first key (fetched in lockstep, t < s masked per key). The queries' lse and D are
// loaded 8 at a time, lane l loading query t + l, and handed to every lane with subgroupShuffle
// (one per-lane load per 8 queries instead of one per query).
//   dk, dv  [B,T,NKV,HS] f32 (vec4), written with `=`
//   k, v    [B,T,NKV,HS] f32 (vec4), each row loaded once by its lane;  lse, scratch [B,NH,T] f32
//   qT, doutT textures: q, dout [B,T,NH,HS] row-major, texel i = floats 4i..4i+3 at
//   (i % 4096, i / 4096)
struct Params { B: u32, T: u32, NH: u32, NKV: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(3) var doutT: texture_2d<f32>;
@group(0) @binding(4) var qT: texture_2d<f32>;
@group(0) @binding(5) var<storage, read> k: array<vec4f>;
@group(0) @binding(6) var<storage, read> v: array<vec4f>;
@group(0) @binding(7) var<storage, read> lse: array<f32>;
@group(0) @binding(8) var<storage, read> scratch: array<f32>;

override WG: u32 = 8;
// Head size: a multiple of 4, at most 64.
override HS: u32 = 48;
// Key rows per invocation: 1 to 4.
override TN: u32 = 2;

fn ld(which: u32, i: u32) -> vec4f {
  if (which == 1u) { return k[i]; }
  return v[i];
}
fn fetch(which: u32, i: u32) -> vec4f {
  let xy = vec2u(i & 4095u, i >> 12u);
  if (which == 0u) { return textureLoad(qT, xy, 0); }
  return textureLoad(doutT, xy, 0);
}
fn st(which: u32, i: u32, x: vec4f) {
  if (which == 0u) { dk[i] = x; } else { dv[i] = x; }
}

// State of one key row.
struct St { k: Row, v: Row, dk: Row, dv: Row, s: u32 }

fn init(b: u32, g: u32, s: u32, scale: f32) -> St {
  var r: St;
  let off = ((b * p.T + min(s, p.T - 1u)) * p.NKV + g) * (HS / 4u);
  r.k = axpby(ldRow(1u, off), scale, r.dk, 0.0);
  r.v = ldRow(2u, off);
  r.s = s;
  return r;
}

fn step(r: St, qr: Row, dr: Row, t: u32, L: f32, D: f32) -> St {
  var o = r;
  let sc = dotRow(r.k, qr);
  let dp = dotRow(r.v, dr);
  let pe = select(0.0, exp(sc - L), t >= r.s);
  o.dv = axpy(r.dv, dr, pe);
  o.dk = axpy(r.dk, qr, pe * (dp - D));
  return o;
}

fn finish(r: St, b: u32, g: u32, scale: f32) {
  if (r.s >= p.T) { return; }
  let off = ((b * p.T + r.s) * p.NKV + g) * (HS / 4u);
  stRow(0u, off, axpby(r.dk, scale, r.dk, 0.0));
  stRow(1u, off, r.dv);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sl: u32,
) {
  let RB = WG * TN;
  let nsb = (p.T + RB - 1u) / RB;
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.B * p.NKV * nsb) { return; }
  let bg = w / nsb;
  let s0 = (w % nsb) * RB;
  let b = bg / p.NKV;
  let g = bg % p.NKV;
  let rep = p.NH / p.NKV;
  let scale = 1.0 / sqrt(f32(HS));

  var r0 = init(b, g, s0 + lid, scale);
  var r1: St;
  var r2: St;
  var r3: St;
  if (TN > 1u) { r1 = init(b, g, s0 + WG + lid, scale); }
  if (TN > 2u) { r2 = init(b, g, s0 + 2u * WG + lid, scale); }
  if (TN > 3u) { r3 = init(b, g, s0 + 3u * WG + lid, scale); }
  for (var j = 0u; j < rep; j++) {
    let h = g * rep + j;
    let rowbase = (b * p.NH + h) * p.T;
    var L8 = 0.0;
    var D8 = 0.0;
    for (var t = s0; t < p.T; t++) {
      let qoff = ((b * p.T + t) * p.NH + h) * (HS / 4u);
      let qr = fetchRow(0u, qoff, sl % 8u);
      let dr = fetchRow(3u, qoff, sl % 8u);
      let j = (t - s0) % 8u;
      if (j == 0u) {
        let tl = min(t + sl % 8u, p.T - 1u);
        L8 = lse[rowbase + tl];
        D8 = scratch[rowbase + tl];
      }
      let L = subgroupShuffle(L8, j);
      let D = subgroupShuffle(D8, j);
      r0 = step(r0, qr, dr, t, L, D);
      if (TN > 1u && t >= s0 + WG) { r1 = step(r1, qr, dr, t, L, D); }
      if (TN > 2u && t >= s0 + 2u * WG) { r2 = step(r2, qr, dr, t, L, D); }
      if (TN > 3u && t >= s0 + 3u * WG) { r3 = step(r3, qr, dr, t, L, D); }
    }
  }
  finish(r0, b, g, scale);
  if (TN > 1u) { finish(r1, b, g, scale); }
  if (TN > 2u) { finish(r2, b, g, scale); }
  if (TN > 3u) { finish(r3, b, g, scale); }
}
