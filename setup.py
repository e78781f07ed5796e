"""pix2pix_tf: pix2pix (Isola et al., 2017) in TensorFlow/Keras, from training to TF Serving and TFLite.

TensorFlow comes through an extra so exactly one TensorFlow distribution is installed:
``pip install -e ".[cpu]"`` (tensorflow-cpu) or ``pip install -e ".[gpu]"`` (tensorflow with CUDA).
"""

from setuptools import find_packages, setup

TENSORFLOW = ">=2.16,<2.22"
# The tested minor release only: PerImageBatchNorm and the training model use private Keras APIs
# (``BatchNormalization._moments``, ``Model._maybe_symbolic_build``, optimiser internals).
KERAS = ">=3.15,<3.16"

setup(
    name="pix2pix_tf",
    version="0.1.0",
    description="pix2pix conditional GAN image-to-image translation in TensorFlow/Keras 3",
    python_requires=">=3.10",
    packages=find_packages(include=["pix2pix_tf", "pix2pix_tf.*"]),
    # The browser demo's page and the npm files that pin its LiteRT.js runtime (deploy/web_demo.py reads them).
    package_data={"pix2pix_tf.deploy": ["web/*.html", "web/*.js", "web/*.css", "web/package.json",
                                 "web/package-lock.json"]},
    install_requires=[
        f"keras{KERAS}",
        "numpy>=1.26",
        "matplotlib>=3.7",
        "pillow>=10.0",
        "tensorboard>=2.16",
        "ai-edge-litert>=1.2",
    ],
    extras_require={
        "cpu": [f"tensorflow-cpu{TENSORFLOW}"],
        "gpu": [f"tensorflow[and-cuda]{TENSORFLOW}"],
        "test": ["pytest>=7", "pytest-xdist>=3.5", "ruff>=0.6", "playwright>=1.45", "import-linter>=2.1"],
    },
)
