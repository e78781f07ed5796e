"""Using a trained generator: read back from a run in an explicit inference mode (``inference``), the public
``pix2pix_tf.load`` API (``translator``), export to TF Serving, TFLite and ``.keras`` with each file
verified (``export``), and the browser demo folder with its page files (``web_demo``, ``web/``). Builds on
every layer below it; the commands sit above it."""
