"""Training: the training model and its step (``model``), which model a task builds (``builders``), Adam
on the paper's schedule (``optim``), ``--precision auto`` measured on this CPU (``autoprecision``),
tf.distribute strategies (``strategy``), what ``fit()`` does besides stepping (``callbacks``), every fact
about a run directory (``rundir``) and a run from flags to checkpoints (``training``). Builds on ``core``,
``data`` and ``nets``."""
