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
#
# Beyond the paper (measured in docs/training.md; nlcl_cvpr_symmetric.py and
# nlcl_official_legacy.py keep the authors' settings):
# * residual background B = O + G_B(O), output convs of G_B and G_R zero-initialised:
#   training starts at B = O, R = 0 instead of re-synthesising the photo;
# * frozen layer-loss heads: learned heads split the two groups on their own and the
#   layer loss sits at its floor (no gradient); fixed heads keep it informative;
# * location loss weighted 0.1: at weight 1 its gradient into G_B is ~14x the
#   adversarial one, and it holds B to O, rain included;
# * G_B removes light only, in two forms that rain takes (docs/training.md 4.8, 4.9):
#   a learned share (mask 0..1, starting at 0.9) of the streak light, O's thin bright
#   structures that run at least 21 pixels along the image's dominant direction (rain
#   streaks share one direction and are long; texture is neither), and a smooth veil
#   (16-pixel blocks) for haze. G_B cannot strike texture across the rain's direction,
#   nor recolour;
# * the discriminator sees only the grey detail layer (mean minus its Gaussian blur,
#   sigma 3): streaks and texture, not the palette nor the tone of the unpaired clean
#   photographs, which differ from the rainy ones for reasons other than rain;
# * the discriminator without InstanceNorm, weights initialised with gain 1.0: with
#   InstanceNorm, D scores a rainy crop and the same crop without rain alike and cannot
#   tell G_B to remove streaks; without it, D sees the extra texture energy of rain;
# * 100 discriminator-only iterations first, so that G_B's first adversarial gradients
#   come from a discriminator that has learned something;
# * moving averages of G_B's and G_R's weights (MMagic's ExponentialMovingAverageHook,
#   momentum 0.01: about the last 100 iterations) are what validation, testing and
#   inference use: between checkpoints of one run the raw G_B swings by up to 1.5 dB.
ema_hook = dict(
    type='ExponentialMovingAverageHook',
    module_keys=('generator_ema', 'rain_generator_ema'),
    interval=1,
    interp_cfg=dict(momentum=0.01))
model = dict(
    is_use_ema=True,
    generator=dict(
        residual=True,
        zero_init_output=True,
        removes_light=True,
        thin_light_size=7,
        streak_length=21,
        thin_light_init=0.9,
        veil_scale=16),
    rain_generator=dict(zero_init_output=True),
    discriminator=dict(norm='none', init_gain=1.0),
    train_cfg=dict(disc_init_steps=100),
    layer_loss=dict(
        type='LayerContrastiveLoss',
        tau_bg=0.1,
        tau_rain=0.05,
        weight_bg=0.5,
        weight_rain=0.5,
        loss_weight=1.0),
    loc_loss=dict(loss_weight=0.1),
    objective=dict(layer_heads='frozen', disc_input='gray_detail'))

custom_hooks = [
    ema_hook,
    dict(type='BasicVisualizationHook', interval=1),
    dict(type='DecompositionVisualizationHook', interval=1000),
    dict(type='IntrinsicDimensionHook', interval=1000),
]
