"""Generates kernels/matmul_{forward,backward_dinp,backward_dweight}{,_tex}.wgsl: hand-unrolled
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

# --- Texture-operand variants (tex_wg{WG}_{TM}x{TN}) -------------------------------------------
# On llvmpipe every storage-buffer load whose offset is not a compile-time constant runs a loop
# over the 8 lanes with a bounds check per component (~300 instructions per vec4), even when all
# lanes read the same address; one texel fetch of a rgba32float texture is a call that loads the
# 8 lanes' vec4s with 8 vector loads and a transpose (~90). So these kernels read both operands
# from textures (the launcher copies each operand, row-major, into a texture 4096 texels wide:
# texel t of the matrix is at (t % 4096, t / 4096)), load the rows shared by the workgroup once
# per subgroup (lane l loads row l of each group of 8, subgroupBroadcast hands it to all lanes),
# and write each accumulator as one chain of multiply-adds per loop iteration (llvmpipe keeps the
# accumulators of a large tile on the stack: a chain loads and stores each once per iteration
# instead of once per product).
MT_TEX = 32  # max rows per invocation
TEX_LOG2W = 12  # log2 of the texture width in texels

HEAD_TEX = """// Texture operands for CPU adapters (llvmpipe), see tools/gen_matmul_kernels.py: every storage
// load with a non-constant offset costs llvmpipe a per-lane loop with bounds checks; a texel fetch
// loads all lanes at once. The launcher copies each operand row-major into a rgba32float texture
// 4096 texels wide (texel t = 4 floats, at (t % 4096, t / 4096)). Each invocation owns TM x TN
// outputs; the TM rows shared by the workgroup are loaded once per subgroup (lane l of each group
// of 8 loads one row, subgroupBroadcast hands it to every lane), so the device needs `subgroups`
// with subgroups of at least 8 and WG a multiple of 8. Each accumulator gets one chain of
// multiply-adds per loop iteration, in order of k. Override constants TM and TN pick how much of
// the unrolled tile is live (the `if (TM > ..)` guards fold away when the pipeline is built).
// Workgroups are numbered linearly (x + y * num_workgroups.x, see grid() in plan.ts); row tiles
// vary fastest. Loads clamp rows/columns past the edge; stores are guarded.
// Requires C % 4 == 0 and OC % 4 == 0."""

TEXEL_FN = """// Position of texel t in a texture 4096 texels wide.
fn texel(t: u32) -> vec2u {
  return vec2u(t & 4095u, t >> 12u);
}"""

def _g(conds):
    conds = [c for c in conds if c]
    return f"if ({' && '.join(conds)}) " if conds else ""

def _tex_bindings(struct, out, t1, t2, rows_of="", cols_of=""):
    """Params, bindings (the output buffer, two operand textures) and the tile overrides."""
    return f"""struct Params {{ {struct} }}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> {out}: array<vec4f>;
@group(0) @binding(2) var {t1}: texture_2d<f32>;
@group(0) @binding(3) var {t2}: texture_2d<f32>;

// Invocations per workgroup (a multiple of 8).
override WG: u32 = 8;
// Rows{rows_of} per invocation: 8, 16, 24 or 32.
override TM: u32 = 32;
// Columns{cols_of} per invocation: 4, 8, 12 or 16.
override TN: u32 = 8;
"""

def _tex_main(rows, cols4):
    """The entry point's signature and its tile: rows r0.. of `rows`, column quads cq0.. of `cols4`."""
    return f"""@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(subgroup_invocation_id) sl: u32,
) {{
  let tile = wid.x + wid.y * nwg.x;
  let rowTiles = ({rows} + TM - 1u) / TM;
  let C4 = p.C / 4u;
  let OC4 = p.OC / 4u;
  let wgQuads = WG * (TN / 4u);
  let colTiles = ({cols4} + wgQuads - 1u) / wgQuads;
  if (tile >= rowTiles * colTiles) {{ return; }}
  let r0 = (tile % rowTiles) * TM;
  let cq0 = (tile / rowTiles) * wgQuads + lid.x;
"""

def _tex_stores(L):
    """Stores every accumulator of the tile, then closes the entry point."""
    for i in range(MT_TEX):
        for q in range(MQ):
            st = f"store(r0 + {i}u, cq0 + {q}u * WG, acc{i}_{q});"
            L.append(f"  {_g([f'TM > {i}u' if i >= 8 else '', f'TN > {4*q}u' if q else ''])}{{ {st} }}")
    L.append("}")

def fwd_tex():
    L = []
    L.append("""// matmul_forward_tex: out = inp · weightᵀ (as matmul_forward), operands read from textures.
//   out     [N, OC] f32, written as vec4 [N, OC/4] with `=`, or `+=` when Params.accumulate != 0
//   inpT    texture: inp [N, C] row-major (texel n * C/4 + k4 holds inp[n, 4k4..4k4+3])
//   weightT texture: weight [OC, C] row-major (texel o * C/4 + k4)
// out[n, o] = sum_k inp[n, k] * weight[o, k].
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x column quads cq0 + q * WG + lid
// (q < TN/4), columns 4 cq + e. Per 4 steps of k: TM/8 + TN texel fetches, TM x TN dot products
// of 4, acc_i_q[e] += dot(a_i, w_q_e) with a_i = inp[r0 + i, k..k+3], w_q_e = weight[4 cq + e, k..k+3].""")
    L.append(HEAD_TEX)
    L.append(_tex_bindings('N: u32, C: u32, OC: u32, accumulate: u32', 'out', 'inpT', 'weightT'))
    L.append(TEXEL_FN)
    L.append("""
fn store(r: u32, cq: u32, v: vec4f) {
  let OC4 = p.OC / 4u;
  if (r < p.N && cq < OC4) {
    let idx = r * OC4 + cq;
    var x = v;
    if (p.accumulate != 0u) { x += out[idx]; }
    out[idx] = x;
  }
}

""" + _tex_main('p.N', 'OC4') + """  // This lane's row of each group of 8 (broadcast to the others).""")
    for h in range(MT_TEX // 8): L.append(f"  let a{h}Off = min(r0 + {8*h}u + sl % 8u, p.N - 1u) * C4;")
    for q in range(MQ):
        for e in range(4):
            L.append(f"  let b{q}_{e}Off = min((cq0 + {q}u * WG) * 4u + {e}u, p.OC - 1u) * C4;")
    for i in range(MT_TEX):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var k = 0u; k < C4; k++) {")
    for h in range(MT_TEX // 8):
        L.append(f"    var aL{h}: vec4f;")
        L.append(f"    {_g([f'TM > {8*h}u' if h else ''])}{{ aL{h} = textureLoad(inpT, texel(a{h}Off + k), 0); }}")
    for q in range(MQ):
        L.append(f"    var w{q}_0: vec4f; var w{q}_1: vec4f; var w{q}_2: vec4f; var w{q}_3: vec4f;")
        loads = " ".join(f"w{q}_{e} = textureLoad(weightT, texel(b{q}_{e}Off + k), 0);" for e in range(4))
        L.append(f"    {_g([f'TN > {4*q}u' if q else ''])}{{ {loads} }}")
    for i in range(MT_TEX):
        body = [f"let a = subgroupBroadcast(aL{i // 8}, {i % 8}u);"]
        for q in range(MQ):
            dots = ", ".join(f"a.x * w{q}_{e}.x + a.y * w{q}_{e}.y + a.z * w{q}_{e}.z + a.w * w{q}_{e}.w" for e in range(4))
            st = f"acc{i}_{q} = acc{i}_{q} + vec4f({dots});"
            body.append(f"if (TN > {4*q}u) {{ {st} }}" if q else st)
        L.append(f"    {_g([f'TM > {i}u' if i >= 8 else ''])}{{")
        for b in body: L.append(f"      {b}")
        L.append("    }")
    L.append("  }")
    _tex_stores(L)
    return "\n".join(L) + "\n"

def dinp_tex():
    L = []
    L.append("""// matmul_backward_dinp_tex: dinp = dout · weight (as matmul_backward_dinp), operands read from
// textures.
//   dinp    [N, C] f32, written as vec4 [N, C/4] with `=`, or `+=` when Params.accumulate != 0
//   doutT   texture: dout [N, OC] row-major (texel n * OC/4 + o4 holds dout[n, 4o4..4o4+3])
//   weightT texture: weight [OC, C] row-major (texel o * C/4 + c4)
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dinp[n, c] = sum_o dL/dout[n, o] * weight[o, c], i.e. dinp = dout · weight.
//
// Tile: rows r0 + i (i < TM, shared by the workgroup) x column quads cq0 + q * WG + lid
// (q < TN/4). Per 4 steps of o: TM/8 + TN texel fetches;
// acc_i_q += a_i.x * b_q_0 + a_i.y * b_q_1 + a_i.z * b_q_2 + a_i.w * b_q_3 with
// a_i = dout[r0 + i, o..o+3] and b_q_s = weight[o + s, quad q].
// Only rows o0 <= o < o1 of weight are summed (Params; multiples of 4): the launcher splits a
// wide OC (the classifier) into chunks of consecutive dispatches adding into dinp, so that each
// chunk of weight is read from cache by every row tile.""")
    L.append(HEAD_TEX)
    L.append(_tex_bindings('N: u32, C: u32, OC: u32, accumulate: u32, o0: u32, o1: u32', 'dinp', 'doutT', 'weightT'))
    L.append(TEXEL_FN)
    L.append("""
fn store(r: u32, cq: u32, v: vec4f) {
  let C4 = p.C / 4u;
  if (r < p.N && cq < C4) {
    let idx = r * C4 + cq;
    var x = v;
    if (p.accumulate != 0u) { x += dinp[idx]; }
    dinp[idx] = x;
  }
}

""" + _tex_main('p.N', 'C4') + """  // This lane's row of each group of 8 (broadcast to the others).""")
    for h in range(MT_TEX // 8): L.append(f"  let a{h}Off = min(r0 + {8*h}u + sl % 8u, p.N - 1u) * OC4;")
    for q in range(MQ): L.append(f"  let b{q}Col = min(cq0 + {q}u * WG, C4 - 1u);")
    for i in range(MT_TEX):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var o4 = p.o0 / 4u; o4 < p.o1 / 4u; o4++) {")
    L.append("    let w0 = o4 * 4u * C4;")
    for h in range(MT_TEX // 8):
        L.append(f"    var aL{h}: vec4f;")
        L.append(f"    {_g([f'TM > {8*h}u' if h else ''])}{{ aL{h} = textureLoad(doutT, texel(a{h}Off + o4), 0); }}")
    for q in range(MQ):
        L.append(f"    var b{q}_0: vec4f; var b{q}_1: vec4f; var b{q}_2: vec4f; var b{q}_3: vec4f;")
        loads = " ".join(f"b{q}_{s} = textureLoad(weightT, texel(w0 + {s}u * C4 + b{q}Col), 0);" for s in range(4))
        L.append(f"    {_g([f'TN > {4*q}u' if q else ''])}{{ {loads} }}")
    for i in range(MT_TEX):
        body = [f"let a = subgroupBroadcast(aL{i // 8}, {i % 8}u);"]
        for q in range(MQ):
            st = f"acc{i}_{q} = acc{i}_{q} + a.x * b{q}_0 + a.y * b{q}_1 + a.z * b{q}_2 + a.w * b{q}_3;"
            body.append(f"if (TN > {4*q}u) {{ {st} }}" if q else st)
        L.append(f"    {_g([f'TM > {i}u' if i >= 8 else ''])}{{")
        for b in body: L.append(f"      {b}")
        L.append("    }")
    L.append("  }")
    _tex_stores(L)
    return "\n".join(L) + "\n"

def dweight_tex():
    L = []
    L.append("""// matmul_backward_dweight_tex: dweight += doutᵀ · inp (as matmul_backward_dweight), operands
// read from textures.
//   dweight [OC, C] f32, written with `+=`, read and written as vec4 [OC, C/4]
//   doutT   texture: dout [N, OC] row-major (texel n * OC/4 + o4 holds dout[n, 4o4..4o4+3])
//   inpT    texture: inp [N, C] row-major (texel n * C/4 + c4)
// Derivation: out[n, o] = sum_c inp[n, c] * weight[o, c], so
//   dL/dweight[o, c] = sum_n dL/dout[n, o] * inp[n, c], i.e. dweight += doutᵀ · inp.
//
// No float atomics exist in WGSL: each invocation owns a tile of dweight, rows r0 + i (i < TM,
// shared by the workgroup) x column quads cq0 + q * WG + lid (q < TN/4), and loops over all N
// rows itself, in order (deterministic), two per iteration. Per step n: 1/4 of a subgroup's
// texel fetches for the TM/4 quads of dout[n, rows] (lane g fetches quad g, subgroupBroadcast
// hands it out, so TM <= 32) + TN/4 fetches of inp[n, quads];
// acc_i_q += a_n[i] * b_n_q + a_n+1[i] * b_n+1_q.""")
    L.append(HEAD_TEX)
    L.append(_tex_bindings('N: u32, C: u32, OC: u32', 'dweight', 'doutT', 'inpT', ' (of OC)', ' (of C)'))
    L.append(TEXEL_FN)
    L.append("""
fn store(r: u32, cq: u32, v: vec4f) {
  let C4 = p.C / 4u;
  if (r < p.OC && cq < C4) {
    let idx = r * C4 + cq;
    dweight[idx] = dweight[idx] + v;
  }
}

""" + _tex_main('p.OC', 'C4') + """  // This lane's quad of the rows (broadcast to the others).
  let aCol = min(r0 / 4u + sl % (TM / 4u), OC4 - 1u);""")
    for q in range(MQ): L.append(f"  let b{q}Col = min(cq0 + {q}u * WG, C4 - 1u);")
    for i in range(MT_TEX):
        L.append("  " + " ".join(f"var acc{i}_{q} = vec4f(0.0);" for q in range(MQ)))
    L.append("  for (var n = 0u; n < p.N; n += 2u) {")
    L.append("    // An odd N's last iteration reads row N - 1 twice and weighs the second by 0.")
    L.append("    let n1 = min(n + 1u, p.N - 1u);")
    L.append("    let aL0 = textureLoad(doutT, texel(n * OC4 + aCol), 0);")
    L.append("    let aL1 = select(vec4f(0.0), textureLoad(doutT, texel(n1 * OC4 + aCol), 0), n + 1u < p.N);")
    for q in range(MQ):
        L.append(f"    var b{q}_0: vec4f; var b{q}_1: vec4f;")
        loads = f"b{q}_0 = textureLoad(inpT, texel(n * C4 + b{q}Col), 0); b{q}_1 = textureLoad(inpT, texel(n1 * C4 + b{q}Col), 0);"
        L.append(f"    {_g([f'TN > {4*q}u' if q else ''])}{{ {loads} }}")
    for g in range(MT_TEX // 4):
        body = [f"let a0 = subgroupBroadcast(aL0, {g}u);", f"let a1 = subgroupBroadcast(aL1, {g}u);"]
        for s in range(4):
            i = 4 * g + s
            for q in range(MQ):
                st = f"acc{i}_{q} = acc{i}_{q} + a0[{s}] * b{q}_0 + a1[{s}] * b{q}_1;"
                body.append(f"if (TN > {4*q}u) {{ {st} }}" if q else st)
        L.append(f"    {_g([f'TM > {4*g}u' if g >= 2 else ''])}{{")
        for b in body: L.append(f"      {b}")
        L.append("    }")
    L.append("  }")
    _tex_stores(L)
    return "\n".join(L) + "\n"

# First line of every output: the files are regenerated (and diffed) by CI, never edited by hand.
GENERATED = "// generated by tools/gen_matmul_kernels.py; do not edit\n"

d = sys.argv[1]
open(f"{d}/matmul_forward.wgsl", "w").write(GENERATED + fwd())
open(f"{d}/matmul_backward_dinp.wgsl", "w").write(GENERATED + dinp())
open(f"{d}/matmul_backward_dweight.wgsl", "w").write(GENERATED + dweight())
open(f"{d}/matmul_forward_tex.wgsl", "w").write(GENERATED + fwd_tex())
open(f"{d}/matmul_backward_dinp_tex.wgsl", "w").write(GENERATED + dinp_tex())
open(f"{d}/matmul_backward_dweight_tex.wgsl", "w").write(GENERATED + dweight_tex())
