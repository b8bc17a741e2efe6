// attention_backward_dkdv_vec4: attention_backward_dkdv (see there for the derivation) for head
// sizes HS % 4 == 0, HS <= 64: rows read as vec4s into registers (Row helpers below); each
// invocation owns TN key rows (row i*WG + lane of the workgroup's WG*TN rows of one (b, kv
// head)), so one load of a query/dout row feeds TN keys. Loops over the group's query heads and
// the queries t >= the workgroup's first key (loaded in lockstep, t < s masked per key).
//   dk, dv  [B,T,NKV,HS] f32 (vec4), written with `=`
//   dout, q [B,T,NH,HS] f32 (vec4);  k, v [B,T,NKV,HS] f32 (vec4);  lse, scratch [B,NH,T] f32
struct Params { B: u32, T: u32, NH: u32, NKV: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dk: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dv: array<vec4f>;
@group(0) @binding(3) var<storage, read> dout: array<vec4f>;
@group(0) @binding(4) var<storage, read> q: array<vec4f>;
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
  switch (which) {
    case 0u: { return q[i]; }
    case 1u: { return k[i]; }
    case 2u: { return v[i]; }
    default: { return dout[i]; }
  }
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
    for (var t = s0; t < p.T; t++) {
      let qoff = ((b * p.T + t) * p.NH + h) * (HS / 4u);
      let qr = ldRow(0u, qoff);
      let dr = ldRow(3u, qoff);
      let L = lse[rowbase + t];
      let D = scratch[rowbase + t];
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

// ---- Row helpers (HS <= 64, HS % 4 == 0): a head row held in registers as 4 chunks of 4 vec4,
// hand-unrolled (llvmpipe keeps neither dynamically indexed arrays nor unrolled loops in
// registers); `if (HS > ..)` guards fold away when the pipeline is built. `which` picks the
// buffer (a literal at every call, so the switch in ld/st folds too). Offsets are in vec4s.
struct Row { c0: mat4x4f, c1: mat4x4f, c2: mat4x4f, c3: mat4x4f }

fn ld4(which: u32, o: u32, j: u32) -> vec4f {
  if (4u * j >= HS) { return vec4f(0.0); }
  return ld(which, o + j);
}
fn ld16(which: u32, o: u32, j: u32) -> mat4x4f {
  return mat4x4f(ld4(which, o, j), ld4(which, o, j + 1u), ld4(which, o, j + 2u),
                 ld4(which, o, j + 3u));
}
fn ldRow(which: u32, o: u32) -> Row {
  return Row(ld16(which, o, 0u), ld16(which, o, 4u), ld16(which, o, 8u), ld16(which, o, 12u));
}
fn st4(which: u32, o: u32, j: u32, x: vec4f) {
  if (4u * j < HS) { st(which, o + j, x); }
}
fn st16(which: u32, o: u32, j: u32, x: mat4x4f) {
  st4(which, o, j, x[0]);
  st4(which, o, j + 1u, x[1]);
  st4(which, o, j + 2u, x[2]);
  st4(which, o, j + 3u, x[3]);
}
fn stRow(which: u32, o: u32, r: Row) {
  st16(which, o, 0u, r.c0);
  st16(which, o, 4u, r.c1);
  st16(which, o, 8u, r.c2);
  st16(which, o, 12u, r.c3);
}
fn dot16(a: mat4x4f, b: mat4x4f) -> vec4f {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
}
// a · b
fn dotRow(a: Row, b: Row) -> f32 {
  var s = dot16(a.c0, b.c0);
  if (HS > 16u) { s += dot16(a.c1, b.c1); }
  if (HS > 32u) { s += dot16(a.c2, b.c2); }
  if (HS > 48u) { s += dot16(a.c3, b.c3); }
  return s.x + s.y + s.z + s.w;
}
// a * x + b * y
fn axpby(a: Row, x: f32, b: Row, y: f32) -> Row {
  var r: Row;
  r.c0 = a.c0 * x + b.c0 * y;
  if (HS > 16u) { r.c1 = a.c1 * x + b.c1 * y; }
  if (HS > 32u) { r.c2 = a.c2 * x + b.c2 * y; }
  if (HS > 48u) { r.c3 = a.c3 * x + b.c3 * y; }
  return r;
}
// a + b * y
fn axpy(a: Row, b: Row, y: f32) -> Row {
  var r: Row;
  r.c0 = a.c0 + b.c0 * y;
  if (HS > 16u) { r.c1 = a.c1 + b.c1 * y; }
  if (HS > 32u) { r.c2 = a.c2 + b.c2 * y; }
  if (HS > 48u) { r.c3 = a.c3 + b.c3 * y; }
  return r;
}
