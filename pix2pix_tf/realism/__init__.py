"""Measuring how real the generated images are: the realism judge, a segmentation network trained on the
dataset's own photos (``network``; ``judge`` scores images with it and trains it as a run), the sanity
ladder it must pass (``ladder``), the distance between feature distributions (``frechet``), the artefact
measures (``artefacts``), degradations (``degrade``) and the evaluation report (``report``). Builds on
``train`` and everything below it."""
