# The demo run with random instead of non-local sampling in both contrastive losses
# (as configs/nlcl_ablation_random_sampling.py on real data).
_base_ = ['../nlcl_demo.py']

model = dict(objective=dict(loc_neg_sampling='random', layer_sampling='random'))
