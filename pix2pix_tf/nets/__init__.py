"""The networks of the paper: the U-Net generator and the PatchGAN discriminator as Keras functional
models with their own layers (``networks``), the objective and image metrics (``losses``), and the
registration that makes a saved ``generator.keras`` load after ``import pix2pix_tf`` (``keras_objects``).
Builds on ``core`` only."""
