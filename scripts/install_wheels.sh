#!/usr/bin/env bash
# Install, offline, the wheels downloaded by scripts/fetch_wheels.sh, then this project,
# and check that the host stack imports with the plugin registered.
#
#   scripts/install_wheels.sh DIR            # into the current interpreter ($PYTHON, python3)
#   scripts/install_wheels.sh DIR TARGET     # into the folder TARGET; then
#                                            #   export PYTHONPATH=TARGET:$PYTHONPATH
#
# torch and torchvision must already be installed (a CUDA build on GPU machines). Every
# wheel is installed with --no-deps from DIR alone (--no-index): nothing is fetched. With
# TARGET the interpreter's own packages are left untouched: the wheels' versions win only
# where TARGET comes first on PYTHONPATH. Without TARGET the project is installed editable
# and nlcl_plugin.compat is activated for every interpreter of that environment (as
# scripts/setup_env.sh does); with TARGET the project's tools activate it themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -ge 1 && ($1 == -h || $1 == --help) ]] && exit 0 || exit 2
fi
DIR=$1
TARGET=${2:-}
PY=${PYTHON:-python3}
shopt -s nullglob
wheels=("$DIR"/*.whl)
if [[ ${#wheels[@]} -eq 0 ]]; then
  echo "install_wheels: no wheels in $DIR (run scripts/fetch_wheels.sh $DIR on a machine with network)" >&2
  exit 2
fi
"$PY" -c 'import torch' 2>/dev/null || {
  echo "install_wheels: $PY has no torch; install torch and torchvision first" >&2; exit 2; }

pip_i() {
  "$PY" -m pip --disable-pip-version-check install -q --no-index --find-links "$DIR" \
    --no-deps --no-compile --no-cache-dir "$@"
}
echo "[install_wheels] ${#wheels[@]} wheels from $DIR into ${TARGET:-$("$PY" -c 'import sys; print(sys.prefix)')}"
if [[ -n $TARGET ]]; then
  mkdir -p "$TARGET"
  TARGET=$(cd "$TARGET" && pwd)
  pip_i --upgrade --target "$TARGET" "${wheels[@]}"
  # The project itself (regular install: a --target folder has no editable installs).
  pip_i --no-build-isolation --upgrade --target "$TARGET" .
  export PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}"
else
  pip_i "${wheels[@]}"
  pip_i --no-build-isolation -e .
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  cat > "$site/nlcl_plugin_compat.pth" <<'PTH'
import sys; exec("try:\n import nlcl_plugin.compat as _c; _c.install()\nexcept Exception as _e:\n sys.stderr.write('nlcl_plugin.compat not active: %r\\n' % (_e,))")
PTH
fi

# Import check, from outside the repository so that the installed copy is what is found.
(cd / && "$PY" - <<'PY'
import warnings
warnings.simplefilter('ignore')
import nlcl_plugin  # noqa: F401  (compat fixes first)
import nlcl_plugin.mmagic  # noqa: F401  (registers the plugin in MMagic's registries)
import nlcl_plugin.basicsr  # noqa: F401
import basicsr, mmagic, mmcv, mmengine, torch
from mmagic.registry import MODELS
assert MODELS.get('NLCL') is not None, 'NLCL is not registered'
cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA'
print(f'[install_wheels] ok: nlcl_plugin {nlcl_plugin.__version__} ({nlcl_plugin.__file__}), '
      f'mmengine {mmengine.__version__}, mmcv {mmcv.__version__}, mmagic {mmagic.__version__}, '
      f'basicsr {basicsr.__version__}, torch {torch.__version__} ({cuda})')
PY
)
if [[ -n $TARGET ]]; then
  echo "[install_wheels] now: export PYTHONPATH=$TARGET\${PYTHONPATH:+:\$PYTHONPATH}"
fi
