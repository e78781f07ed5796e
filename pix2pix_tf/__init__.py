"""pix2pix in TensorFlow/Keras: train, evaluate, translate, export."""

import importlib.util

from pix2pix_tf.core.tf_logs import quiet_tensorflow
from pix2pix_tf.nets.keras_objects import register_when_keras_loads

quiet_tensorflow()  # before anything imports TensorFlow; --verbose keeps its logs
register_when_keras_loads()  # generator.keras files load with keras.saving.load_model after `import pix2pix_tf`

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError('pix2pix_tf needs TensorFlow: pip install -e ".[cpu]" (or ".[gpu]" with CUDA)')

from pix2pix_tf.core import __version__  # noqa: E402  (after the check above: a clear message first)
from pix2pix_tf.core.errors import ImageError  # noqa: E402

__all__ = ["ImageError", "__version__", "load"]


def load(run_dir, checkpoint="latest", **kwargs):
    """A trained run's generator for images of any size: ``load(run).translate(path_or_array)``.

    See ``pix2pix_tf.deploy.translator.load`` for the options (inference mode, large-image handling).
    """
    from pix2pix_tf.deploy.translator import load as load_translator

    return load_translator(run_dir, checkpoint, **kwargs)
