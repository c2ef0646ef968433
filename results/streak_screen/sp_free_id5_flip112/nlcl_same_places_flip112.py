# The same-places demo config with each training image flipped left-right at random
# (rainy and clean independently) and cropped at 112 x 112 from its 128 x 128 cell, so
# that G_B and D do not see the same 48 rainy and 22 clean images at every step.
#   python tools/train.py results/streak_screen/sp_free_id5_flip112/nlcl_same_places_flip112.py \
#       --cfg-options <the free removal's options>
_base_ = ['../../../configs/nlcl_demo_same_places.py']

train_pipeline = [
    dict(type='LoadRGBImage', key='img', on_error='skip'),
    dict(type='LoadRGBImage', key='gt', on_error='skip'),
    dict(type='Flip', keys=['img'], flip_ratio=0.5, direction='horizontal'),
    dict(type='Flip', keys=['gt'], flip_ratio=0.5, direction='horizontal'),
    dict(type='RandomCropOrPad', keys=['img', 'gt'], crop_size=112, pad_mode='reflect'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
