"""``import pix2pix_tf`` makes a saved ``generator.keras`` loadable with ``keras.saving.load_model``: the
networks' own layers (``PerImageBatchNorm``, ``SeededDropout`` in ``pix2pix_tf.nets.networks``) are registered
with Keras as soon as Keras is imported, without making ``import pix2pix_tf`` itself load TensorFlow (the
commands' ``--help`` and flag errors stay instant)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

NETWORKS = "pix2pix_tf.nets.networks"


def register_when_keras_loads() -> None:
    """Register now if Keras is loaded, else right after it loads."""
    if "keras" in sys.modules:
        importlib.import_module(NETWORKS)
    elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds ``keras`` as usual, with a loader that imports ``pix2pix_tf.nets.networks`` once Keras is loaded."""

    def find_spec(self, name, path, target=None):
        if name != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    def __init__(self, loader, finder: _AfterKerasImport):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._loader.exec_module(module)
        importlib.import_module(NETWORKS)

    def __getattr__(self, name):
        return getattr(self._loader, name)
