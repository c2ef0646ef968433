#!/usr/bin/env bash
# Download, on a machine with network access, the wheels an offline GPU machine needs to run
# nlcl_plugin with the host stack, for that machine's Python (default 3.12, x86-64 Linux).
# torch, torchvision and NVIDIA's packages are never downloaded: the target has its own.
#
#   scripts/fetch_wheels.sh DIR [--python 3.12] [--bare] [--max-mb 60]
#
# Default set: the host stack (mmengine, mmcv-lite, mmagic, basicsr) and what importing
# mmagic and registering its modules needs beyond a typical CUDA PyTorch image with the
# scientific stack (numpy, scipy, scikit-image, scikit-learn, opencv-python-headless, pandas,
# matplotlib, ...): addict, yapf, termcolor, diffusers, transformers and
# huggingface-hub at the versions mmagic 1.2.0 works with, tokenizers, lpips,
# albumentations, ... (about 27 MB). The versions are those of the tested environment
# (requirements/*.txt and scripts/setup_env.sh). Everything is downloaded with --no-deps
# (mmagic's and basicsr's declared dependencies over-reach: mediapipe, a second OpenCV,
# torch); basicsr 1.4.2 is published as a source archive only (its setup.py imports torch),
# so it is built here into a pure-Python wheel with $PYTHON (default: .venv/bin/python,
# which has torch).
#
# --bare adds nlcl_plugin's own runtime dependencies for a bare torch + torchvision
# install (opencv-python-headless, scipy, scikit-image, pandas, matplotlib, tensorboard,
# ...): about 220 MB for Python 3.12, so raise --max-mb with it (e.g. --max-mb 300).
#
# The total size is checked against --max-mb (default 60, what a device call may carry
# beside the working tree): over it, the script fails. Install with
# scripts/install_wheels.sh DIR [TARGET] on the offline machine.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
[[ $# -ge 1 ]] || usage
case $1 in -h|--help) usage 0 ;; esac
DIR=$1; shift
PYVER=3.12
BARE=0
MAX_MB=60
while [[ $# -gt 0 ]]; do
  case $1 in
    --python) PYVER=${2:?--python needs a version, e.g. 3.12}; shift 2 ;;
    --python=*) PYVER=${1#*=}; shift ;;
    --bare) BARE=1; shift ;;
    --max-mb) MAX_MB=${2:?--max-mb needs a number}; shift 2 ;;
    --max-mb=*) MAX_MB=${1#*=}; shift ;;
    -h|--help) usage 0 ;;
    *) echo "fetch_wheels: unknown argument $1" >&2; usage ;;
  esac
done
[[ $PYVER =~ ^3\.[0-9]+$ ]] || { echo "fetch_wheels: --python wants MAJOR.MINOR, got $PYVER" >&2; exit 2; }
[[ $MAX_MB =~ ^[0-9]+$ ]] || { echo "fetch_wheels: --max-mb wants an integer, got $MAX_MB" >&2; exit 2; }
if [[ -z ${PYTHON:-} ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

# Pure-Python wheels (py3-none-any): the host stack and what `import mmagic` + registering
# its modules pulls in that a CUDA PyTorch image lacks or has at versions mmagic cannot use.
PURE=(
  mmengine==0.10.7 mmcv-lite==2.1.0 mmagic==1.2.0
  addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9 termcolor==3.3.0
  diffusers==0.28.2 huggingface-hub==0.25.2 transformers==4.45.2
  lpips==0.1.4 resize-right==0.0.2
  albumentations==2.0.8 albucore==0.0.24
  pydantic==2.14.4 annotated-types==0.8.0 typing-inspection==0.4.5
)
# Compiled wheels, for the target's Python and x86-64 Linux.
BINARY=(
  tokenizers==0.20.3 pydantic-core==2.50.5 simsimd==6.5.16 stringzilla==5.3.2
)
# --bare: what nlcl_plugin and the hosts import that torch + torchvision do not bring.
BARE_PURE=(
  pyyaml rich markdown-it-py mdurl pygments tqdm requests urllib3 idna charset-normalizer
  certifi einops imageio tifffile lazy-loader networkx packaging python-dateutil six tzdata
  click filelock fsspec jinja2 cycler pyparsing tensorboard absl-py markdown werkzeug
  tensorboard-data-server typing-extensions joblib threadpoolctl
)
BARE_BINARY=(
  'numpy>=2,<3' opencv-python-headless==5.0.0.93 scipy scikit-image pillow regex
  safetensors pandas matplotlib contourpy fonttools kiwisolver markupsafe protobuf grpcio
  scikit-learn
)
SDIST=(basicsr==1.4.2)

PLATFORMS=()
for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_24_x86_64 \
         manylinux_2_27_x86_64 manylinux_2_28_x86_64 manylinux_2_31_x86_64 \
         manylinux_2_34_x86_64 manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
pip_dl() {
  "$PYTHON" -m pip --disable-pip-version-check download --no-deps --only-binary=:all: \
    --python-version "$PYVER" --implementation cp "${PLATFORMS[@]}" -d "$DIR" "$@"
}

mkdir -p "$DIR"
echo "[fetch_wheels] Python $PYVER (cp, x86-64 Linux) wheels into $DIR"
pip_dl "${PURE[@]}" "${BINARY[@]}"
if [[ $BARE == 1 ]]; then
  echo "[fetch_wheels] --bare: nlcl_plugin's runtime dependencies too"
  pip_dl "${BARE_PURE[@]}" "${BARE_BINARY[@]}"
fi

# basicsr: source archive only; its setup.py imports torch, so build with an interpreter
# that has torch, without build isolation. No compiled extension is built (BASICSR_EXT
# unset): the result is a pure-Python wheel for any Python 3.
for spec in "${SDIST[@]}"; do
  name=${spec%%==*}
  if compgen -G "$DIR/${name}-*-py3-none-any.whl" >/dev/null; then
    echo "[fetch_wheels] $spec: wheel already in $DIR"
    continue
  fi
  echo "[fetch_wheels] building $spec (source archive only) with $PYTHON"
  tmp=$(mktemp -d)
  env -u BASICSR_EXT "$PYTHON" -m pip --disable-pip-version-check wheel --no-deps \
    --no-build-isolation --no-binary "$name" -w "$tmp" "$spec" >"$tmp/build.log" 2>&1 \
    || { tail -20 "$tmp/build.log" >&2; echo "[fetch_wheels] building $spec failed" >&2; exit 1; }
  built=("$tmp"/*.whl)
  case $(basename "${built[0]}") in
    *-py3-none-any.whl) mv "${built[0]}" "$DIR/" ;;
    *) echo "[fetch_wheels] $spec built as $(basename "${built[0]}"), not a pure-Python wheel" >&2
       exit 1 ;;
  esac
  rm -rf "$tmp"
done

# One version of each distribution (two would stop the offline install).
dups=$(ls "$DIR"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z_.' 'a-z--' | sort | uniq -d)
if [[ -n $dups ]]; then
  echo "[fetch_wheels] more than one wheel of: $dups (remove the old ones from $DIR)" >&2
  exit 1
fi

n=$(ls "$DIR"/*.whl | wc -l)
bytes=$(cat "$DIR"/*.whl | wc -c)
mb=$(( (bytes + 999999) / 1000000 ))
echo "[fetch_wheels] $n wheels, $(( bytes / 1024 )) KiB ($mb MB) in $DIR"
if (( bytes > MAX_MB * 1000000 )); then
  echo "[fetch_wheels] ERROR: $mb MB is over the limit of $MAX_MB MB (--max-mb)" >&2
  exit 1
fi
echo "[fetch_wheels] install offline with: bash scripts/install_wheels.sh $DIR [TARGET]"
