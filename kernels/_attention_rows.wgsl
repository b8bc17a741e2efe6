// _attention_rows: snippet (not a kernel) appended by src/ops/attention.ts to the three
// attention_*_vec4 kernels. The kernel supplies `override HS: u32`, `fn ld(which: u32, i: u32)
// -> vec4f` and `fn st(which: u32, i: u32, x: vec4f)` (which buffer: 0, 1, 2).
//
// Row helpers (HS <= 64, HS % 4 == 0): a head row held in registers as 4 chunks of 4 vec4,
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
