"""pix2pix in TensorFlow/Keras: train, evaluate, translate, export."""

import importlib.util
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError('pix2pix_tf needs TensorFlow: pip install -e ".[cpu]" (or ".[gpu]" with CUDA)')

__version__ = "0.1.0"
