"""Data: paired image files on disk -> checked file lists -> ``tf.data`` pipelines (``pipeline``); every
rule about reading, converting and resizing images (``images``, ``geometry``); colour-coded label maps
(``palette``); the judge's photo augmentation (``augment``); and the built-in synthetic facades dataset
(``synthetic``, its layouts in ``facade``, its photos in ``synthetic_photo``). Builds on ``core`` only."""
