"""Dataset tools as a library: ``combine`` (two folders of matching images -> side-by-side pairs) and
``download`` (a standard pix2pix dataset, unpacked safely and checked). The commands users run are the
scripts in the repository's ``datasets/`` folder, or ``python -m pix2pix_tf.datasets.combine`` /
``python -m pix2pix_tf.datasets.download``."""
