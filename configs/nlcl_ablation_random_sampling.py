# Ablation: random instead of non-local sampling, for both contrastive losses
# (CUT-style random locations; random groups in the layer loss).
_base_ = ['./nlcl_real_rain.py']

model = dict(objective=dict(loc_neg_sampling='random', layer_sampling='random'))
