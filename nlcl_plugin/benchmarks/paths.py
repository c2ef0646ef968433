"""Where the benchmarks find the repository and the authors' files (no heavy imports)."""
import os
import os.path as osp

#: The repository (configs, tools) the benchmarks and the GPU check run in.
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: The authors' checkpoints, photos and outputs (``$NLCL_OFFICIAL_DIR``, default
#: ``../shared/official-nlcl`` beside the repository).
OFFICIAL_DIR = os.environ.get('NLCL_OFFICIAL_DIR', osp.join(REPO, '..', 'shared', 'official-nlcl'))
