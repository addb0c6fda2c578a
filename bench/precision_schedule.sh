#!/usr/bin/env bash
# zipml — fixed precisions against a precision schedule from one bit-plane copy, on one data
# set, side by side in one run: each configuration's full-precision training loss after every
# epoch (--eval full: comparable across precisions, unlike each precision's own pass loss), its
# test accuracy (or RMSE), and the training time (passes plus the extractions at a new precision;
# evaluation excluded) and the packed bytes its passes read until it first reaches the final
# training loss of the fixed q8 run. The schedules run twice as many epochs (SCHEDULE_EPOCHS),
# so that a slower start still shows when, or whether, it gets there.
#
#   bench/precision_schedule.sh [ZIPML_TRAIN [EPOCHS [EXTRA ARGS...]]]
#
# ZIPML_TRAIN defaults to build/examples/zipml-train, EPOCHS to 10; the extra arguments go to
# every run (e.g. --train FILE --test FILE for another data set, --model least-squares). With
# none, the main job's data: Fashion-MNIST. Rounding is stochastic everywhere (the schedule's
# levels are unbiased at every precision only with it). Prints one table; ratios are against
# the fixed q8 run of the same invocation.
set -euo pipefail
train="${1:-build/examples/zipml-train}"
epochs="${2:-10}"
shift $(( $# > 2 ? 2 : $# ))
extra=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # NAME EPOCHS ARGS...
  local name=$1 n=$2
  shift 2
  "$train" --epochs "$n" --step auto --rounding stochastic --eval full -q --summary "$tmp/$name.json" \
    "${extra[@]}" "$@" > "$tmp/$name.out"
}
long="${SCHEDULE_EPOCHS:-$((2 * epochs))}"
run float32 "$epochs" --precision float32
for q in 8 4 2 1; do run "q$q" "$epochs" --precision "q$q"; done
run schedule-1248 "$long" --precision q8 --precision-schedule 1,2,4,8
run schedule-1-8 "$long" --precision q8 --precision-schedule 1,1,1,1,8
run schedule-auto "$long" --precision q8 --precision-schedule auto

/usr/bin/python3 - "$tmp" float32 q8 q4 q2 q1 schedule-1248 schedule-1-8 schedule-auto <<'EOF'
import json, sys
tmp, names = sys.argv[1], sys.argv[2:]
runs = {n: json.load(open(f"{tmp}/{n}.json"))["runs"][0] for n in names}
target = runs["q8"]["final_train_loss"]
metric = runs["q8"]["metric"]
# bytes a pass reads at each precision: the fixed runs' packed streams
stream_bytes = {32: runs["float32"]["stream_bytes_per_epoch"]}
for q in (8, 4, 2, 1):
    stream_bytes[q] = runs[f"q{q}"]["stream_bytes_per_epoch"]
def reach(r):
    t, b = 0.0, 0
    for e in r["history"]:
        t += e["seconds"] + e["pack_seconds"]
        b += stream_bytes[e["precision_bits"]]
        if e["train_loss"] <= target:
            return e["epoch"], t, b
    return None, None, None
_, ref_time, ref_bytes = reach(runs["q8"])
print(f"target: the fixed q8 run's final training loss {target:.6f} (full-precision evaluation)")
print(f"{'run':>14}  {'bits per epoch':>40}  {'final loss':>10}  {'test ' + metric:>13}  {'epoch':>5}  {'seconds':>8}  {'vs q8':>6}  {'MB read':>8}  {'vs q8':>6}")
for n in names:
    r = runs[n]
    bits = ",".join(str(e["precision_bits"]) for e in r["history"])
    m = r.get("test_" + metric, r.get("train_" + metric))
    ep, t, b = reach(r)
    reached = (f"{ep:>5}  {t:>8.3f}  {t / ref_time:>6.2f}  {b / 1e6:>8.1f}  {b / ref_bytes:>6.2f}" if ep
               else f"{'-':>5}  {'-':>8}  {'-':>6}  {'-':>8}  {'-':>6}")
    print(f"{n:>14}  {bits:>40}  {r['final_train_loss']:>10.6f}  {m:>13.4f}  {reached}")
EOF
