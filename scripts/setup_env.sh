#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with the real host stack.
# Idempotent: on a ready environment it only checks a stamp and returns in about a second.
#
#   scripts/setup_env.sh            # CPU build of torch (default)
#   NLCL_TORCH_REQ=requirements/torch-cuda.txt scripts/setup_env.sh   # GPU machines
#   NLCL_VENV=/path/to/venv scripts/setup_env.sh                       # another location
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${NLCL_VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_REQ=${NLCL_TORCH_REQ:-requirements/torch-cpu.txt}

stamp_of() {
  cat "$TORCH_REQ" requirements/runtime.txt requirements/hosts.txt requirements/tests.txt \
      setup.py scripts/setup_env.sh | sha256sum | cut -d' ' -f1
}
want=$(stamp_of)
if [[ -x $VENV/bin/python && -f $VENV/.nlcl-stamp && $(cat "$VENV/.nlcl-stamp") == "$want" ]] \
   && "$VENV/bin/python" -c 'import nlcl_plugin' 2>/dev/null; then
  echo "[setup] environment $VENV is up to date"
  exit 0
fi

echo "[setup] creating/updating $VENV (torch from $TORCH_REQ)"
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
pip_q() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 \
          | grep -v -E "is ignored: it is neither a file nor a directory" || true; }
# 1. torch + torchvision, pinned (a bare 'torch' would pull a multi-GB CUDA build).
pip_q install -r "$TORCH_REQ"
# 2. runtime deps of the plugin and both hosts, never upgrading torch.
pip_q install -r requirements/runtime.txt -r requirements/tests.txt -c "$TORCH_REQ"
# 3. the hosts themselves, without their broken/overreaching dependency metadata.
pip_q install --no-deps --no-build-isolation -r requirements/hosts.txt
# 4. this package, editable.
pip_q install --no-deps --no-build-isolation -e .
# 5. activate nlcl_plugin.compat in every interpreter of this environment.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$site/nlcl_plugin_compat.pth" <<'PTH'
import sys; exec("try:\n import nlcl_plugin.compat as _c; _c.install()\nexcept Exception as _e:\n sys.stderr.write('nlcl_plugin.compat not active: %r\\n' % (_e,))")
PTH
"$VENV/bin/python" - <<'PY'
import torch, torchvision, mmengine, mmcv, mmagic, basicsr, numpy, cv2  # noqa: F401
print(f"[setup] torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, mmagic {mmagic.__version__}, "
      f"basicsr {basicsr.__version__}, numpy {numpy.__version__}, opencv {cv2.__version__}")
PY
# Check pip's view of the environment (reports, does not fail: mmagic/basicsr are --no-deps).
"$VENV/bin/python" -m pip check 2>/dev/null | grep -v -E "^(mmagic|basicsr) " || true
echo "$want" > "$VENV/.nlcl-stamp"
echo "[setup] done: $VENV"
