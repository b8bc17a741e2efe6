"""Generates kernels/matmul_{forward,backward_dinp,backward_dweight}.wgsl: hand-unrolled
register-tiled matmuls for CPU adapters (llvmpipe neither unrolls loops over register arrays nor
keeps them in registers, so the unrolling is written out here instead of templated at run time).
Run: python3 tools/gen_matmul_kernels.py kernels   (then deno test tests/ops/matmul_test.ts)
Each output's first line says it is generated; .ci/run regenerates into a scratch directory and
fails when the committed kernels differ.
"""
import sys

MT = 16  # max rows per invocation (4 quads)
MQ = 4   # max column quads per invocation

HEAD_COMMON = """// Register tiling for CPU adapters: each invocation owns up to {MT} x {MN} outputs in vec4
// accumulators, unrolled by hand (llvmpipe neither unrolls loops over register arrays nor keeps
// them in registers); the override constants TM and TN (multiples of 4, at most {MT} and {MN})
// pick how much of the tile is live, and the `if (TM > ..)` guards fold away when the pipeline
// is built. Every load is a vec4: on llvmpipe a storage-buffer load costs far more than an FMA
// (it runs a per-invocation loop with bounds checks), so the kernel maximises FMAs per load.
// Workgroups of WG invocations, no workgroup memory, no barriers. Workgroups are numbered
// linearly (x + y * num_workgroups.x, see grid() in plan.ts); row tiles vary fastest. Loads
// clamp rows/columns past the edge (no branch in the inner loop); stores are guarded.
// Requires C % 4 == 0 and OC % 4 == 0 (the launcher sends other shapes to the *_scalar kernels)."""

def guard_rows(i):
    return f"TM > {i}u"

def fwd():
    L = []
    L.append("""// matmul_forward: out = inp · weightᵀ (a linear layer without bias; llm.c's matmul_forward).
//   out    [N, OC] f32, written with `=`, or `+=` when Params.accumulate != 0
//   inp    [N, C]  f32, read as vec4 [N, C/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4] (row-major, as PyTorch's nn.Linear stores it)
// out[n, o] = sum_k inp[n, k] * weight[o, k].
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x columns c0 + j * WG + lid (j < TN).
// Per 4 steps of k: TM + TN vec4 loads and TM x TN 4-wide dot products; columns 4q..4q+3 of the
// tile form the matrix m_q (one weight row per column), so acc_i_q += a_i * m_q.""")
    L.append(HEAD_COMMON.format(MT=MT, MN=4*MQ))
    L.append("""struct Params { N: u32, C: u32, OC: u32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows per invocation: 4, 8, 12 or 16.
override TM: u32 = 16;
// Columns per invocation: 4, 8, 12 or 16.
override TN: u32 = 12;

fn store(r: u32, c: u32, v: f32) {
  if (r < p.N && c < p.OC) {
    let idx = r * p.OC + c;
    var x = v;
    if (p.accumulate != 0u) { x += out[idx]; }
    out[idx] = x;
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tile = wid.x + wid.y * nwg.x;
  let rowTiles = (p.N + TM - 1u) / TM;
  let wgCols = WG * TN;
  let colTiles = (p.OC + wgCols - 1u) / wgCols;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let c0 = (tile / rowTiles) * wgCols + lid.x;
  let C4 = p.C / 4u;""")
    for i in range(MT): L.append(f"  let a{i}Off = min(r0 + {i}u, p.N - 1u) * C4;")
    for j in range(4*MQ): L.append(f"  let b{j}Off = min(c0 + {j}u * WG, p.OC - 1u) * C4;")
    for i in range(MT):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var k = 0u; k < C4; k++) {")
    for q in range(MQ):
        cond = "" if q == 0 else f"if (TN > {4*q}u) "
        js = range(4*q, 4*q+4)
        L.append(f"    var m{q}: mat4x4f;")
        L.append(f"    {cond}{{ m{q} = mat4x4f(" + ", ".join(f"weight[b{j}Off + k]" for j in js) + "); }")
    for i in range(MT):
        g = "if (true) {" if i < 4 else f"if (TM > {i}u) {{"
        body = f"let a = inp[a{i}Off + k]; acc{i}_0 += a * m0;"
        for q in range(1, MQ): body += f" if (TN > {4*q}u) {{ acc{i}_{q} += a * m{q}; }}"
        L.append(f"    {g} {body} }}" if i >= 4 else f"    {{ {body} }}")
    L.append("  }")
    for i in range(MT):
        for q in range(MQ):
            cond = []
            if i >= 4: cond.append(f"TM > {i}u")
            if q >= 1: cond.append(f"TN > {4*q}u")
            stmts = " ".join(f"store(r0 + {i}u, c0 + {4*q+e}u * WG, acc{i}_{q}[{e}]);" for e in range(4))
            L.append(f"  if ({' && '.join(cond)}) {{ {stmts} }}" if cond else f"  {{ {stmts} }}")
    L.append("}")
    return "\n".join(L) + "\n"

def dinp():
    L = []
    L.append("""// matmul_backward_dinp: gradient of matmul_forward (out = inp · weightᵀ) with respect to inp.
//   dinp   [N, C]  f32, written with `=`, or `+=` when Params.accumulate != 0
//   dout   [N, OC] f32, read as vec4 [N, OC/4]
//   weight [OC, C] f32, read as vec4 [OC, C/4]
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dinp[n, c] = sum_o dL/dout[n, o] * weight[o, c], i.e. dinp = dout · weight.
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x column quads cq0 + q * WG + lid (q < TN/4).
// Per 4 steps of o: TM + TN vec4 loads; m_q holds weight rows o..o+3 of quad q as columns, so
// acc_i_q += m_q * a_i with a_i = dout[r0 + i, o..o+3].
// Only rows o0 <= o < o1 of weight are summed (Params; multiples of 4): for a wide OC (the
// classifier) the launcher splits the sum into chunks of consecutive dispatches that add into
// dinp, so that each chunk of weight is read from cache by every row tile.""")
    L.append(HEAD_COMMON.format(MT=MT, MN=4*MQ))
    L.append("""struct Params { N: u32, C: u32, OC: u32, accumulate: u32, o0: u32, o1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dinp: array<vec4f>;
@group(0) @binding(2) var<storage, read> dout: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows per invocation: 4, 8, 12 or 16.
override TM: u32 = 16;
// Columns per invocation: 4, 8, 12 or 16.
override TN: u32 = 12;

fn store(r: u32, cq: u32, v: vec4f) {
  let C4 = p.C / 4u;
  if (r < p.N && cq < C4) {
    let idx = r * C4 + cq;
    var x = v;
    if (p.accumulate != 0u) { x += dinp[idx]; }
    dinp[idx] = x;
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tile = wid.x + wid.y * nwg.x;
  let rowTiles = (p.N + TM - 1u) / TM;
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let wgQuads = WG * (TN / 4u);
  let colTiles = (C4 + wgQuads - 1u) / wgQuads;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let cq0 = (tile / rowTiles) * wgQuads + lid.x;""")
    for i in range(MT): L.append(f"  let a{i}Off = min(r0 + {i}u, p.N - 1u) * OC4;")
    for q in range(MQ): L.append(f"  let b{q}Off = min(cq0 + {q}u * WG, C4 - 1u);")
    for i in range(MT):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var o4 = p.o0 / 4u; o4 < p.o1 / 4u; o4++) {")
    L.append("    let w0 = o4 * 4u * C4;")
    for q in range(MQ):
        cond = "" if q == 0 else f"if (TN > {4*q}u) "
        L.append(f"    var m{q}: mat4x4f;")
        L.append(f"    {cond}{{ m{q} = mat4x4f(" + ", ".join(f"weight[w0 + {s}u * C4 + b{q}Off]" for s in range(4)) + "); }")
    for i in range(MT):
        body = f"let a = dout[a{i}Off + o4]; acc{i}_0 += m0 * a;"
        for q in range(1, MQ): body += f" if (TN > {4*q}u) {{ acc{i}_{q} += m{q} * a; }}"
        L.append(f"    if (TM > {i}u) {{ {body} }}" if i >= 4 else f"    {{ {body} }}")
    L.append("  }")
    for i in range(MT):
        for q in range(MQ):
            cond = []
            if i >= 4: cond.append(f"TM > {i}u")
            if q >= 1: cond.append(f"TN > {4*q}u")
            st = f"store(r0 + {i}u, cq0 + {q}u * WG, acc{i}_{q});"
            L.append(f"  if ({' && '.join(cond)}) {{ {st} }}" if cond else f"  {st}")
    L.append("}")
    return "\n".join(L) + "\n"

def dweight():
    L = []
    L.append("""// matmul_backward_dweight: gradient of matmul_forward (out = inp · weightᵀ) with respect to
// weight, accumulated (gradient accumulation over micro-steps is free).
//   dweight [OC, C] f32, written with `+=`, read and written as vec4 [OC, C/4]
//   dout    [N, OC] f32, read as vec4 [N, OC/4]
//   inp     [N, C]  f32, read as vec4 [N, C/4]
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dweight[o, c] = sum_n dL/dout[n, o] * inp[n, c], i.e. dweight += doutᵀ · inp.
//
// No float atomics exist in WGSL: each invocation owns a tile of dweight, rows r0 + i (i < TM,
// shared by the workgroup) x column quads cq0 + q * WG + lid (q < TN/4), and loops over all N
// rows itself, in order (deterministic). Per step n: TM/4 + TN/4 vec4 loads,
// acc_i_q += a[i] * b_q with a = dout[n, rows], b_q = inp[n, quad q].""")
    L.append(HEAD_COMMON.format(MT=MT, MN=4*MQ))
    L.append("""struct Params { N: u32, C: u32, OC: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dweight: array<vec4f>;
@group(0) @binding(2) var<storage, read> dout: array<vec4f>;
@group(0) @binding(3) var<storage, read> inp: array<vec4f>;

// Invocations per workgroup.
override WG: u32 = 8;
// Rows (of OC) per invocation: 4, 8, 12 or 16.
override TM: u32 = 16;
// Columns (of C) per invocation: 4, 8, 12 or 16.
override TN: u32 = 12;

fn store(r: u32, cq: u32, v: vec4f) {
  let C4 = p.C / 4u;
  if (r < p.OC && cq < C4) {
    let idx = r * C4 + cq;
    dweight[idx] = dweight[idx] + v;
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tile = wid.x + wid.y * nwg.x;
  let rowTiles = (p.OC + TM - 1u) / TM;
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let wgQuads = WG * (TN / 4u);
  let colTiles = (C4 + wgQuads - 1u) / wgQuads;
  if (tile >= rowTiles * colTiles) { return; }
  let r0 = (tile % rowTiles) * TM;
  let cq0 = (tile / rowTiles) * wgQuads + lid.x;""")
    for g in range(MT // 4): L.append(f"  let a{g}Off = min(r0 / 4u + {g}u, OC4 - 1u);")
    for q in range(MQ): L.append(f"  let b{q}Off = min(cq0 + {q}u * WG, C4 - 1u);")
    for i in range(MT):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var n = 0u; n < p.N; n++) {")
    L.append("    let drow = n * OC4;")
    L.append("    let irow = n * C4;")
    for q in range(MQ):
        cond = "" if q == 0 else f"if (TN > {4*q}u) "
        L.append(f"    var b{q}: vec4f;")
        L.append(f"    {cond}{{ b{q} = inp[irow + b{q}Off]; }}")
    for g in range(MT // 4):
        inner = []
        for s in range(4):
            i = 4*g + s
            st = f"acc{i}_0 += a[{s}] * b0;" + "".join(f" if (TN > {4*q}u) {{ acc{i}_{q} += a[{s}] * b{q}; }}" for q in range(1, MQ))
            inner.append(st)
        body = f"let a = dout[drow + a{g}Off]; " + " ".join(inner)
        L.append(f"    if (TM > {4*g}u) {{ {body} }}" if g >= 1 else f"    {{ {body} }}")
    L.append("  }")
    for i in range(MT):
        for q in range(MQ):
            cond = []
            if i >= 4: cond.append(f"TM > {i}u")
            if q >= 1: cond.append(f"TN > {4*q}u")
            st = f"store(r0 + {i}u, cq0 + {q}u * WG, acc{i}_{q});"
            L.append(f"  if ({' && '.join(cond)}) {{ {st} }}" if cond else f"  {st}")
    L.append("}")
    return "\n".join(L) + "\n"

# First line of every output: the files are regenerated (and diffed) by CI, never edited by hand.
GENERATED = "// generated by tools/gen_matmul_kernels.py; do not edit\n"

d = sys.argv[1]
open(f"{d}/matmul_forward.wgsl", "w").write(GENERATED + fwd())
open(f"{d}/matmul_backward_dinp.wgsl", "w").write(GENERATED + dinp())
open(f"{d}/matmul_backward_dweight.wgsl", "w").write(GENERATED + dweight())
