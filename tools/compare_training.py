"""Compares two training logs (out_dir/log.jsonl of `deno run -A main.ts train` and of
tools/train_torch.py): the training loss at chosen iterations, the largest |difference| of the
loss curves over the iterations both logged, the eval losses, and the median tokens/s of each
with their ratio.

    /usr/bin/python3 tools/compare_training.py OURS/log.jsonl TORCH/log.jsonl \\
        [--iters 0,10,50,100,150,200] [--names ours,torch] [--skip-first 1] \\
        [--reference TORCH64/log.jsonl]

--reference adds a third log, e.g. `tools/train_torch.py --dtype float64` (the same run in
double precision), and prints how far each float32 curve is from it.

Median tokens/s skips the first --skip-first logged steps (default 1: the first step after the
start pays for pipeline compilation and warm-up). Pure standard library.
"""
import argparse
import json
import statistics
import sys


def read_log(path):
    train, evals = {}, {}
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            if all(not rest.strip() for rest in lines[i + 1:]):
                break  # torn last line
            raise SystemExit(f"Cannot parse training log {path}: line {i + 1} is not JSON")
        if r.get("type") == "train":
            train[r["iter"]] = r
        elif r.get("type") == "eval":
            evals[r["iter"]] = r
    return train, evals


def fmt(v, spec=".4f"):
    return "-" if v is None else format(v, spec)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="first log.jsonl (ours)")
    p.add_argument("b", help="second log.jsonl (PyTorch)")
    p.add_argument("--iters", default="0,10,50,100,150,200")
    p.add_argument("--names", default="ours,torch")
    p.add_argument("--skip-first", type=int, default=1)
    p.add_argument("--reference", help="third log.jsonl (e.g. the float64 run) to measure both "
                                       "curves against")
    args = p.parse_args(argv)
    na, nb = args.names.split(",")
    ta, ea = read_log(args.a)
    tb, eb = read_log(args.b)

    print(f"training loss            {na:>10} {nb:>10} {'|diff|':>10}")
    for it in (int(s) for s in args.iters.split(",")):
        la = ta[it]["loss"] if it in ta else None
        lb = tb[it]["loss"] if it in tb else None
        d = abs(la - lb) if la is not None and lb is not None else None
        print(f"  iter {it:<18} {fmt(la):>10} {fmt(lb):>10} {fmt(d, '.2e'):>10}")
    common = sorted(set(ta) & set(tb))
    if common:
        diffs = [(abs(ta[i]["loss"] - tb[i]["loss"]), i) for i in common]
        dmax, imax = max(diffs)
        mean = sum(d for d, _ in diffs) / len(diffs)
        print(f"  max |diff| over {len(common)} common iters: {dmax:.3e} (at iter {imax}); "
              f"mean {mean:.3e}")
        for lim in (10, 50):
            head = [d for d, i in diffs if i <= lim]
            if head:
                print(f"  max |diff| over iters 0..{lim}: {max(head):.3e}")

    if args.reference:
        tr, _ = read_log(args.reference)
        print(f"\ndistance from the reference {args.reference}:")
        for name, t in ((na, ta), (nb, tb)):
            its = sorted(set(t) & set(tr))
            if not its:
                continue
            d = [(abs(t[i]["loss"] - tr[i]["loss"]), i) for i in its]
            dmax, imax = max(d)
            print(f"  {name}: max |diff| {dmax:.3e} (at iter {imax}), mean "
                  f"{sum(x for x, _ in d) / len(d):.3e} over {len(its)} iters (0..{its[-1]})")

    print(f"\neval losses              {na + ' train':>12} {nb + ' train':>12} "
          f"{na + ' val':>10} {nb + ' val':>10}")
    for it in sorted(set(ea) | set(eb)):
        ra, rb = ea.get(it, {}), eb.get(it, {})
        print(f"  iter {it:<18} {fmt(ra.get('train_loss')):>12} {fmt(rb.get('train_loss')):>12} "
              f"{fmt(ra.get('val_loss')):>10} {fmt(rb.get('val_loss')):>10}")

    def speed(t):
        its = sorted(t)[args.skip_first:]
        if not its:
            return None, None
        return (statistics.median(t[i]["tokens_per_s"] for i in its),
                statistics.median(t[i]["ms"] for i in its))

    (sa, ma), (sb, mb) = speed(ta), speed(tb)
    print(f"\nmedian over logged steps (first {args.skip_first} skipped):")
    print(f"  {na}: {fmt(sa, '.0f')} tokens/s, {fmt(ma, '.1f')} ms/step")
    print(f"  {nb}: {fmt(sb, '.0f')} tokens/s, {fmt(mb, '.1f')} ms/step")
    if sa and sb:
        print(f"  ratio {na}/{nb}: {sa / sb:.3f} (tokens/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
