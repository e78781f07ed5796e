"""pix2pix in TensorFlow/Keras: train, evaluate, translate, export."""

import importlib.util

from pix2pix_tf.keras_objects import register_when_keras_loads
from pix2pix_tf.tf_logs import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow; --verbose keeps its logs
register_when_keras_loads()  # generator.keras files load with keras.saving.load_model after `import pix2pix_tf`

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError('pix2pix_tf needs TensorFlow: pip install -e ".[cpu]" (or ".[gpu]" with CUDA)')

__version__ = "0.1.0"

from pix2pix_tf.images import ImageError  # noqa: E402  (after the check above: a clear message first)

__all__ = ["ImageError", "load"]


def load(run_dir, checkpoint="latest", **kwargs):
    """A trained run's generator for images of any size: ``load(run).translate(path_or_array)``.

    See ``pix2pix_tf.translator.load`` for the options (inference mode, large-image handling).
    """
    from pix2pix_tf.translator import load as load_translator

    return load_translator(run_dir, checkpoint, **kwargs)
