// attention_forward_tex: attention_forward_vec4 (see attention_forward for the math) with the key
// and value rows read from textures, for CPU adapters (llvmpipe) with `subgroups`: a storage load
// whose offset is not a compile-time constant costs llvmpipe a loop over the lanes (~300
// instructions per vec4), a texel fetch loads all lanes at once (docs/attention-cpu.md). The rows
// every lane needs are fetched once per subgroup and broadcast (kernels/_attention_fetch.wgsl).
// HS % 4 == 0, HS <= 64; HS an override constant (one pipeline per HS). Subgroups of >= 8 lanes.
//   out [B,T,NH,HS] f32 (read as vec4), written with `=`
//   lse [B,NH,T]    f32, written with `=`
//   q   [B,T,NH,HS] f32 (vec4), each row loaded once by its lane
//   kT, vT textures: k, v [B,T,NKV,HS] row-major, texel i = floats 4i..4i+3 at (i % 4096, i / 4096)
// Workgroup: WG lanes x TM rows = WG*TM consecutive query rows of one (b, h); row i*WG + lane.
// Keys are fetched in lockstep up to the workgroup's last row; keys past a row are masked, and a
// row group whose rows are all before the key is skipped (uniform branch).
struct Params { B: u32, T: u32, NH: u32, NKV: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<storage, read> q: array<vec4f>;
@group(0) @binding(4) var kT: texture_2d<f32>;
@group(0) @binding(5) var vT: texture_2d<f32>;

override WG: u32 = 8;
// Head size: a multiple of 4, at most 64.
override HS: u32 = 48;
// Query rows per invocation: 1 to 4.
override TM: u32 = 2;
const NEG: f32 = -3.0e38;

fn ld(which: u32, i: u32) -> vec4f {
  return q[i];
}
fn fetch(which: u32, i: u32) -> vec4f {
  let xy = vec2u(i & 4095u, i >> 12u);
  if (which == 1u) { return textureLoad(kT, xy, 0); }
  return textureLoad(vT, xy, 0);
}
fn st(which: u32, i: u32, x: vec4f) {
  out[i] = x;
}

// Online-softmax state of one query row.
struct St { q: Row, acc: Row, m: f32, l: f32, t: u32 }

fn init(b: u32, h: u32, t: u32, scale: f32) -> St {
  var r: St;
  let tq = min(t, p.T - 1u);
  r.q = axpby(ldRow(0u, ((b * p.T + tq) * p.NH + h) * (HS / 4u)), scale, r.acc, 0.0);
  r.m = NEG;
  r.t = t;
  return r;
}

fn step(r: St, kr: Row, vr: Row, s: u32) -> St {
  var o = r;
  let sc = dotRow(r.q, kr);
  let valid = s <= r.t;
  let mn = select(r.m, max(r.m, sc), valid);
  let corr = exp(r.m - mn);
  let pe = select(0.0, exp(sc - mn), valid);
  o.l = r.l * corr + pe;
  o.acc = axpby(r.acc, corr, vr, pe);
  o.m = mn;
  return o;
}

fn finish(r: St, b: u32, bh: u32, h: u32) {
  if (r.t >= p.T) { return; }
  lse[bh * p.T + r.t] = r.m + log(r.l);
  stRow(0u, ((b * p.T + r.t) * p.NH + h) * (HS / 4u), axpby(r.acc, 1.0 / r.l, r.acc, 0.0));
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

  var r0 = init(b, h, t0 + lid, scale);
  var r1: St;
  var r2: St;
  var r3: St;
  if (TM > 1u) { r1 = init(b, h, t0 + WG + lid, scale); }
  if (TM > 2u) { r2 = init(b, h, t0 + 2u * WG + lid, scale); }
  if (TM > 3u) { r3 = init(b, h, t0 + 3u * WG + lid, scale); }
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
  finish(r0, b, bh, h);
  if (TM > 1u) { finish(r1, b, bh, h); }
  if (TM > 2u) { finish(r2, b, bh, h); }
  if (TM > 3u) { finish(r3, b, bh, h); }
}
