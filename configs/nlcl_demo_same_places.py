# NLCL on the demo data with clean crops of the same places as the rainy ones
# (layout 'same_places': checkerboard cells of astronaut, motorcycle_left and china,
# rainy on one colour, clean on the other, no pixel shared; built on first use under
# data/nlcl_demo_same_places; the test split is the demo's). With content no longer a
# cue, the discriminator's push follows the rain, and the streak light's mask learns
# where the streaks are (docs/training.md 4.12): the long schedule (1200 iterations),
# the mask started at 0.2 instead of 0.9, and the identity loss on the clean image in
# place of the location loss, which holds B to O and the streaks with it.
#
#   python tools/train.py configs/nlcl_demo_same_places.py --work-dir work_dirs/nlcl_demo_same_places
_base_ = ['./nlcl_demo_long.py', './_base_/models/nlcl_identity_loss.py']

data_root = 'data/nlcl_demo_same_places'
demo_layout = 'same_places'

train_dataloader = dict(dataset=dict(data_root=data_root, demo_layout=demo_layout))
val_dataloader = dict(dataset=dict(data_root=data_root + '/test', demo_layout=demo_layout))
test_dataloader = dict(dataset=dict(data_root=data_root + '/test', demo_layout=demo_layout))

model = dict(
    generator=dict(thin_light_init=0.2),
    loc_loss=dict(loss_weight=0.0),
    identity_loss={{_base_.identity_loss}})
