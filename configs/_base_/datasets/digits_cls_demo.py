# The digits for the CPU demos: batches of 32, drawn without end for
# iteration-based training.
_base_ = ['./digits_cls.py']
train_dataloader = dict(
    batch_size=32,
    sampler=dict(type='InfiniteSampler', shuffle=True),
)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
