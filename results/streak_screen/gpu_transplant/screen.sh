#!/bin/bash
# The transplant screen on one GPU: configs/nlcl_demo_same_places.py with the second mask
# (off_streak_light) and the identity loss at 50, without (ctl) and with the rain
# transplant loss at 20 / 50 (tp20, tp50), seeds 0-2, 1200 iterations, all runs at once;
# then every saved checkpoint scored on the 48 training cells against their twins.
#
#   bash results/streak_screen/gpu_transplant/screen.sh OUTDIR [TRAIN_LIMIT_S] [PYTHON]
#
# If the runs go too slowly for all nine to end within TRAIN_LIMIT_S (measured between 100
# and 160 s), the tp20 arm is stopped and the other six go on.
set -u
OUT=$1; LIMIT=${2:-420}; PY=${3:-python3}
# DEVICE (cuda) scores on that device; MORE adds cfg-options to every run (a dry run
# on a CPU: DEVICE=cpu PACE=0 MORE="train_cfg.max_iters=4 default_hooks.checkpoint.interval=2")
DEVICE=${DEVICE:-cuda}; PACE=${PACE:-1}; MORE=${MORE:-}
SP=$PWD/data/nlcl_demo_same_places
WD=work_dirs/gpu_transplant
mkdir -p $WD $OUT
$PY -m nlcl_plugin.data.demo_data --root data/nlcl_demo_same_places --layout same_places > /dev/null
COMMON="val_cfg=None val_dataloader=None val_evaluator=None default_hooks.checkpoint.interval=200
 default_hooks.checkpoint.save_best=None default_hooks.logger.interval=20
 model.generator.off_streak_light=True model.identity_loss.loss_weight=50.0"
TP="model.transplant_loss.type=RainTransplantLoss model.transplant_loss.loss_weight"
START=$(date +%s)
declare -A PID
for arm in ctl tp50 tp20; do
  case $arm in ctl) EXTRA="";; tp20) EXTRA="$TP=20.0";; tp50) EXTRA="$TP=50.0";; esac
  for seed in 0 1 2; do
    RUN=${arm}_s$seed
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout $LIMIT $PY tools/train.py configs/nlcl_demo_same_places.py \
      --work-dir $WD/$RUN --cfg-options randomness.seed=$seed $COMMON $EXTRA $MORE > $WD/$RUN.out 2>&1 &
    PID[$RUN]=$!
  done
done
sum_iters() { local s=0; for r in "${!PID[@]}"; do n=$(grep -o "Iter(train) \[[0-9]*/" $WD/$r.out 2>/dev/null | tail -1 | tr -dc 0-9); s=$((s + ${n:-0})); done; echo $s; }
if [ "$PACE" = 1 ]; then
sleep 100; A=$(sum_iters); sleep 60; B=$(sum_iters)
NOW=$(( $(date +%s) - START ))
# iterations per second over all runs; time the slowest arm needs for its 1200 iterations
echo "after ${NOW}s: $A -> $B iterations over 60 s (all runs)" | tee $OUT/pace.txt
LEFT=$(( 9 * 1200 - B ))
if [ $(( (B - A) * (LIMIT - NOW - 10) / 60 )) -lt $LEFT ]; then
  echo "too slow for nine: tp20 stopped" | tee -a $OUT/pace.txt
  for s in 0 1 2; do kill ${PID[tp20_s$s]} 2>/dev/null; done
fi
fi
wait
echo "training ended after $(( $(date +%s) - START ))s" | tee -a $OUT/pace.txt
score() {  # RUN: every saved checkpoint on the training cells
  local RUN=$1 W=$WD/$1
  for f in $(ls $W/iter_*.pth 2>/dev/null); do
    N=$(basename $f .pth); N=${N#iter_}
    $PY tools/derain.py --checkpoint $f --tile 0 --device $DEVICE --out-dir $W/out_$N $SP/train_rainy > /dev/null 2>&1
    $PY tools/error_bands.py --sigmas 3 --inputs $SP/train_rainy --targets $SP/train_target \
      --outputs $W/out_$N --json $W/bands_train_$N.json > $W/bands_train_$N.out 2>&1
  done
  N=$(ls $W/iter_*.pth 2>/dev/null | sed 's/.*iter_//; s/.pth//' | sort -n | tail -1)
  [ -n "$N" ] && $PY tools/export_generators.py $W/iter_$N.pth $W/${RUN}_iter_$N.pth > /dev/null 2>&1
}
for r in "${!PID[@]}"; do score $r & done
wait
echo "scored after $(( $(date +%s) - START ))s" | tee -a $OUT/pace.txt
cd $WD && tar czf $OUT/scores.tar.gz *.out */2026*/*.log */bands_train_*.json */bands_train_*.out */*.py 2>/dev/null
tar czf $OUT/weights_a.tar.gz ctl_s*/ctl_*_iter_*.pth tp50_s0/tp50_*_iter_*.pth 2>/dev/null
tar czf $OUT/weights_b.tar.gz tp50_s[12]/tp50_*_iter_*.pth tp20_s*/tp20_*_iter_*.pth 2>/dev/null
ls -la $OUT
