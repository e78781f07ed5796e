"""The basics every layer shares: the recipe and its flags (``config``, ``flags``), user-facing errors
(``errors``), atomic files (``atomic``), what every command does with its arguments (``cli``), the
precision rule (``precision``) and TensorFlow's log filter (``tf_logs``). Nothing here imports another
part of the package."""

__version__ = "0.1.0"
