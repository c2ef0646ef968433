# NLCL with the TPAMI asymmetric layer-contrastive loss on your own real rain photos.
#
# Data layout (names need not match between the two training folders):
#   data/real_rain/train_rainy/*.jpg|png   rainy photos
#   data/real_rain/train_clean/*.jpg|png   unrelated clean photos
#   data/real_rain/val/{input,target}/     optional paired validation images
#
#   python tools/train.py configs/nlcl_real_rain.py
#   bash tools/dist_train.sh configs/nlcl_real_rain.py 8
_base_ = [
    '_base_/models/nlcl.py',
    '_base_/datasets/unpaired_rain.py',
    '_base_/datasets/deraining_test_sets.py',
    '_base_/schedules/nlcl_iters.py',
    '_base_/default_runtime.py',
]

# Asymmetric loss (see nlcl_plugin/models/losses/layer_contrastive.py): a sharper
# temperature for the compact, low-intrinsic-dimension rain group, a looser one for the
# high-dimension background group, and both anchor groups weighted equally.
model = dict(
    layer_loss=dict(
        type='LayerContrastiveLoss',
        tau_bg=0.1,
        tau_rain=0.05,
        weight_bg=0.5,
        weight_rain=0.5,
        loss_weight=1.0))

custom_hooks = [
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=1000),
    dict(type='IntrinsicDimensionHook', interval=1000),
]
