"""Export: the SavedModel and TFLite files compute what the trained Keras generator computes.

One tiny non-square (64x128) model is trained once for the module and exported twice, in deterministic and in
paper mode; every test reads those exports.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from concurrent import futures
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, error_line, make_run, pair_arrays, run_fit, save_image, tiny_flags
from PIL import Image

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.images import PNG_SIGNATURE
from pix2pix_tf.deploy import export as ex
from pix2pix_tf.deploy.export.serving import seed_keras_dropout
from pix2pix_tf.deploy.export.settings import METADATA_FILE, MIN_PSNR_DB, QUANTIZATIONS
from pix2pix_tf.deploy.export.tflite import builtin_op_names, seeded_noise
from pix2pix_tf.deploy.export.verify import TF1Session, differences, png_bytes
from pix2pix_tf.deploy.inference import load_generator

HEIGHT, WIDTH = 64, 128


def load_script(name: str):
    """The clients are standalone scripts (copied to client machines), not package modules."""
    path = REPO / "export" / "serving" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"serving_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export")
    data = root / "data"
    for i in range(6):
        a, b = pair_arrays(i, WIDTH)
        save_image(np.concatenate([a[:HEIGHT], b[:HEIGHT]], axis=1), data / "train" / f"{i + 1}.png")
    run = root / "run"
    result = run_fit("--run-dir", str(run), "--data", str(data), *tiny_flags(image_size=f"{HEIGHT}x{WIDTH}"),
                     "--steps", "3", "--save-every", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def det_export(run_dir, tmp_path_factory) -> ex.ExportResult:
    out = tmp_path_factory.mktemp("det") / "out"
    return ex.export(ex.ExportOptions(run_dir=run_dir, out=out, mode="deterministic", verify_images=3,
                                      calibration_images=4))


@pytest.fixture(scope="module")
def paper_export(run_dir, tmp_path_factory) -> ex.ExportResult:
    out = tmp_path_factory.mktemp("paper") / "out"
    return ex.export(ex.ExportOptions(run_dir=run_dir, out=out, mode="paper", quantizations=("float32", "int8"),
                                      verify_images=2, calibration_images=2))


@pytest.fixture(scope="module")
def det_keras(run_dir):
    return load_generator(run_dir, "latest", "deterministic")


@pytest.fixture(scope="module")
def inputs(run_dir) -> np.ndarray:
    trained = load_generator(run_dir, "latest", "deterministic")
    return ex.training_inputs(trained.config, 4)


def keras_out(trained, images: np.ndarray) -> np.ndarray:
    return trained.generator(images, training=False).numpy()


def png_file(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_file(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims a huge grey image: a decompression bomb's shape."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------------------
# SavedModel


def test_layout_signatures_names_and_dtypes(det_export, det_keras):
    path = det_export.saved_model
    assert path == det_export.out / "saved_model" / "pix2pix" / "1"
    config = (det_export.out / "saved_model" / "models.config").read_text()
    assert 'name: "pix2pix"' in config and f'base_path: "{path.parent.resolve()}"' in config
    session = TF1Session(path)
    try:
        sigs = {k: v for k, v in session.meta.signature_def.items() if not k.startswith("__")}
        assert set(sigs) == {"serving_default", "image_bytes", "metadata"}
        assert list(session.meta.meta_info_def.tags) == ["serve"]
        default = sigs["serving_default"]
        assert set(default.inputs) == {"images"} and set(default.outputs) == {"images"}
        assert default.inputs["images"].dtype == tf.float32.as_datatype_enum
        assert [d.size for d in default.inputs["images"].tensor_shape.dim] == [-1, -1, -1, 3]
        assert default.method_name == "tensorflow/serving/predict"
        encoded = sigs["image_bytes"]
        assert set(encoded.inputs) == {"image_bytes"} and set(encoded.outputs) == {"image_bytes"}
        assert encoded.inputs["image_bytes"].dtype == tf.string.as_datatype_enum
        assert encoded.outputs["image_bytes"].dtype == tf.string.as_datatype_enum
        metadata = session.run("metadata", {})
    finally:
        session.close()
    assert metadata["inference_mode"] == b"deterministic" and metadata["size_multiple"] == 64
    recorded = json.loads((path / "assets.extra" / METADATA_FILE).read_text())
    assert recorded["inference_mode"] == "deterministic" and recorded["trained_size"] == [HEIGHT, WIDTH]
    stored = sum(int(np.prod(shape)) for name, shape in tf.train.list_variables(str(path / "variables" / "variables"))
                 if not name.startswith("_CHECKPOINTABLE"))
    assert stored <= det_keras.generator.count_params() + 8  # each weight once (keras-team/keras#23553)
    summary = json.loads((det_export.out / "export.json").read_text())
    assert summary["inference_mode"] == "deterministic"
    artefacts = [a["artefact"].split(" (")[0] for a in summary["artefacts"]]
    assert artefacts[:2] == ["saved_model", "saved_model image_bytes"]


def test_tf1_session_equals_keras(det_export, det_keras, inputs):
    session = TF1Session(det_export.saved_model)
    try:
        out = session.run("serving_default", {"images": inputs})["images"]
        odd = inputs[:1, :45, :70]
        odd_out = session.run("serving_default", {"images": odd})["images"]
    finally:
        session.close()
    np.testing.assert_allclose(out, keras_out(det_keras, inputs), atol=1e-5, rtol=0)
    assert odd_out.shape == (1, 45, 70, 3)  # any size: padded to the multiple and cropped back


def test_batch_of_four_equals_four_single_calls(det_export, inputs):
    serve = tf.saved_model.load(str(det_export.saved_model)).signatures["serving_default"]
    batch = serve(images=tf.constant(inputs))["images"].numpy()
    singles = np.concatenate([serve(images=tf.constant(inputs[i:i + 1]))["images"].numpy() for i in range(4)])
    np.testing.assert_allclose(batch, singles, atol=1e-5, rtol=0)


@pytest.mark.parametrize("which", ["det", "paper"])
def test_serving_changes_no_variable(which, det_export, paper_export, inputs):
    result = det_export if which == "det" else paper_export
    loaded = tf.saved_model.load(str(result.saved_model))
    before = [v.numpy().copy() for v in loaded.variables]
    assert before, "the SavedModel should hold the generator's variables"
    for _ in range(2):
        loaded.signatures["serving_default"](images=tf.constant(inputs))
        loaded.signatures["image_bytes"](image_bytes=tf.constant(png_bytes(inputs[:2])))
    after = [v.numpy() for v in loaded.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    session = TF1Session(result.saved_model)
    try:
        assert session.assigning_ops() == []
        assert "ReadVariableOp" in session.served_ops()  # the walk does reach the network
    finally:
        session.close()


def test_bytes_round_trip_returns_png_of_input_size(det_export):
    serve = tf.saved_model.load(str(det_export.saved_model)).signatures["image_bytes"]
    rgb = np.random.default_rng(0).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    files = [png_file(rgb), jpeg_file(rgb), png_file(rgb[..., 0]), png_file(rgb[:32, :33])]
    outputs = serve(image_bytes=tf.constant(files))["image_bytes"].numpy()
    shapes = []
    for data in outputs:
        assert data.startswith(PNG_SIGNATURE)
        shapes.append(np.asarray(Image.open(io.BytesIO(data))).shape)
    assert shapes == [(45, 70, 3), (45, 70, 3), (45, 70, 3), (32, 33, 3)]


@pytest.mark.parametrize("payload, message", [
    (b"hello, I am not an image", "not a JPEG or PNG image"),
    (b"", "not a JPEG or PNG image"),
    (b"GIF89a" + bytes(40), "not a JPEG or PNG image"),
    (png_claiming(60000, 60000), "larger than the limit of"),
])
def test_bytes_signature_refuses_non_images_and_bombs(det_export, payload, message):
    serve = tf.saved_model.load(str(det_export.saved_model)).signatures["image_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(image_bytes=tf.constant([payload]))


def test_signatures_refuse_images_under_the_minimum_side(det_export):
    """The same rule as translate (pix2pix_tf.data.geometry.min_side): 64x128 training gives a multiple of 64."""
    loaded = tf.saved_model.load(str(det_export.saved_model))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 32 px on each side"):
        loaded.signatures["serving_default"](images=tf.zeros([1, 31, 200, 3]))
    serve = loaded.signatures["image_bytes"]
    for shape in ((31, 200, 3), (1, 1, 3)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="at least 32 px on each side"):
            serve(image_bytes=tf.constant([png_file(np.zeros(shape, np.uint8))]))
    output = serve(image_bytes=tf.constant([png_file(np.zeros((32, 33, 3), np.uint8))]))["image_bytes"]
    assert np.asarray(Image.open(io.BytesIO(output.numpy()[0]))).shape == (32, 33, 3)


def hostile_payloads() -> dict[str, bytes]:
    """Issue 6's list: each must give a PNG or a clear InvalidArgumentError, never a crash."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (33, 47, 3), dtype=np.uint8)
    png, jpeg = png_file(rgb), jpeg_file(rgb)
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buffer, "JPEG")
    cmyk = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(buffer, "PNG")
    palette = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray((rng.integers(0, 65535, (40, 50))).astype(np.uint16)).save(buffer, "PNG")
    sixteen = buffer.getvalue()
    return {
        "random bytes": rng.bytes(2000),
        "random bytes after a PNG signature": PNG_SIGNATURE + rng.bytes(500),
        "random bytes after a JPEG marker": b"\xff\xd8\xff" + rng.bytes(500),
        "truncated PNG": png[: len(png) // 2],
        "truncated JPEG": jpeg[: len(jpeg) // 2],
        "header claiming 100000x100000": png_claiming(100_000, 100_000),
        "header claiming 0x0": png_claiming(0, 0),
        "1x1 PNG": png_file(rgb[:1, :1]),
        "16-bit PNG": sixteen,
        "palette PNG": palette,
        "RGBA PNG": png_file(np.dstack([rgb, rgb[..., :1]])),
        "grey where RGB was trained": png_file(rgb[..., 0]),
        "CMYK JPEG": cmyk,
    }


def test_hostile_bytes_give_a_png_or_a_clear_error_and_serving_goes_on(det_export):
    serve = tf.saved_model.load(str(det_export.saved_model)).signatures["image_bytes"]
    good = png_file(np.zeros((40, 40, 3), np.uint8))
    outcomes = {}
    for name, payload in hostile_payloads().items():
        try:
            out = serve(image_bytes=tf.constant([payload]))["image_bytes"].numpy()[0]
            outcomes[name] = np.asarray(Image.open(io.BytesIO(out))).shape
        except tf.errors.InvalidArgumentError as err:
            reason = [line for line in err.message.splitlines()
                      if "image_bytes: " in line or "Invalid JPEG data" in line or "Invalid PNG data" in line]
            assert reason, (name, err.message[-500:])
            outcomes[name] = reason[0].strip()
        after = serve(image_bytes=tf.constant([good]))["image_bytes"].numpy()[0]
        assert np.asarray(Image.open(io.BytesIO(after))).shape == (40, 40, 3), name
    for name in ("16-bit PNG", "palette PNG", "RGBA PNG", "grey where RGB was trained"):
        assert isinstance(outcomes[name], tuple) and outcomes[name][-1] == 3, (name, outcomes[name])
    for name in ("random bytes", "truncated JPEG", "header claiming 100000x100000", "header claiming 0x0", "1x1 PNG"):
        assert isinstance(outcomes[name], str), (name, outcomes[name])
    print("\n".join(f"{name}: {outcome}" for name, outcome in outcomes.items()))


# ---------------------------------------------------------------------------------------------------------
# TFLite


def test_tflite_variants_load_in_litert_and_meet_tolerance(det_export, det_keras, inputs):
    from ai_edge_litert.interpreter import Interpreter

    reference = keras_out(det_keras, inputs)
    names = sorted(p.name for p in det_export.tflite)
    assert names == sorted(f"pix2pix_{q}.tflite" for q in QUANTIZATIONS)
    for path in det_export.tflite:
        quant = path.stem.split("_", 1)[1]
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["input"]["shape"] == [1, HEIGHT, WIDTH, 3] and meta["inference_mode"] == "deterministic"
        assert meta["quantization"] == quant and meta["direction"] == "AtoB" and meta["input"]["range"] == [-1, 1]
        interpreter = Interpreter(model_path=str(path))
        assert interpreter.get_signature_list() == {"generate": {"inputs": ["image"], "outputs": ["image"]}}
        ops = builtin_op_names(interpreter)
        assert not any(op.startswith("Flex") or op in ("CUSTOM", "DELEGATE") for op in ops), ops
        runner = interpreter.get_signature_runner("generate")
        outputs = np.concatenate([runner(image=image[None])["image"] for image in inputs])
        _, mean_abs, psnr = differences(reference, outputs)
        if quant == "float32":
            assert mean_abs <= 1e-4
        else:
            assert psnr >= MIN_PSNR_DB[quant], (quant, psnr)


def test_int8_is_integer_inside(det_export):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(next(p for p in det_export.tflite if p.stem.endswith("int8"))))
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    for op in interpreter._get_ops_details():
        if op["op_name"] in ("CONV_2D", "TRANSPOSE_CONV"):
            assert dtypes[op["outputs"][0]] == np.int8, op


# ---------------------------------------------------------------------------------------------------------
# Paper mode


def test_paper_export_records_mode_and_is_random(paper_export, inputs):
    loaded = tf.saved_model.load(str(paper_export.saved_model))
    assert set(loaded.signatures) == {"serving_default", "image_bytes", "serving_seeded", "metadata"}
    assert loaded.signatures["metadata"]()["inference_mode"].numpy() == b"paper"
    serve = loaded.signatures["serving_default"]
    first, second = (serve(images=tf.constant(inputs[:1]))["images"].numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    seeded = loaded.signatures["serving_seeded"]
    again = [seeded(images=tf.constant(inputs[:1]), seed=tf.constant(7, tf.int64))["images"].numpy() for _ in range(2)]
    np.testing.assert_array_equal(*again)


def test_paper_seeded_signature_equals_keras_paper_generator(paper_export, run_dir, inputs):
    trained = load_generator(run_dir, "latest", "paper")
    seed_keras_dropout(trained.generator, 99)
    reference = trained.generator(inputs, training=False).numpy()
    session = TF1Session(paper_export.saved_model)
    try:
        out = session.run("serving_seeded", {"images": inputs, "seed": np.int64(99)})["images"]
    finally:
        session.close()
    np.testing.assert_allclose(out, reference, atol=1e-5, rtol=0)
    seed_keras_dropout(trained.generator, 100)
    assert np.abs(trained.generator(inputs, training=False).numpy() - out).max() > 1e-3  # the seed matters


def test_paper_tflite_has_builtin_random_dropout_and_noise_signature(paper_export, run_dir, inputs):
    from ai_edge_litert.interpreter import Interpreter

    path = next(p for p in paper_export.tflite if p.stem.endswith("float32"))
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["inference_mode"] == "paper" and meta["noise_signature"]["name"] == "generate_with_noise"
    interpreter = Interpreter(model_path=str(path))
    assert set(interpreter.get_signature_list()) == {"generate", "generate_with_noise"}
    assert "RANDOM_UNIFORM" in builtin_op_names(interpreter)
    shapes = [tuple(s) for s in meta["noise_signature"]["inputs"].values()]
    assert len(shapes) == 2  # 64 px high at ngf 8: two 512-equivalent decoder layers carry dropout
    trained = load_generator(run_dir, "latest", "paper")
    seed_keras_dropout(trained.generator, 5)
    reference = trained.generator(inputs[:1], training=False).numpy()
    noisy = interpreter.get_signature_runner("generate_with_noise")
    out = noisy(image=inputs[:1], **seeded_noise(shapes, 5))["image"]
    assert np.abs(out - reference).mean() <= 1e-4


# ---------------------------------------------------------------------------------------------------------
# Refusals and safety


def test_non_empty_out_refused_without_overwrite(run_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf.export", "--run-dir", str(run_dir), "--out", str(out)],
                            capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert result.returncode == 2
    assert "not empty" in error_line(result) and "--overwrite" in error_line(result)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_overwrite_adds_next_version_and_keeps_the_first(det_export, run_dir, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(det_export.out, out)
    options = ex.ExportOptions(run_dir=run_dir, out=out, formats=("saved_model",), verify_images=1)
    with pytest.raises(UserError, match="not empty"):
        ex.export(options)
    options.overwrite = True
    result = ex.export(options)
    assert result.version == 2
    assert sorted(p.name for p in (out / "saved_model" / "pix2pix").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("broken, message", [
    ("no_config", "no stored config"),
    ("no_checkpoint", "no checkpoint yet"),
    ("corrupt", "checkpoint does not load"),
])
def test_bad_run_dir_is_a_one_line_error(broken, message, run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    if broken == "no_config":
        (run / "config.json").unlink()
    elif broken == "no_checkpoint":
        shutil.rmtree(run / "checkpoints")
    else:
        data = next((run / "checkpoints").glob("ckpt-*.data-*"))
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    with pytest.raises(UserError, match=message) as caught:
        ex.export(ex.ExportOptions(run_dir=run, out=tmp_path / "out", formats=("saved_model",)))
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out" / "saved_model").exists()


@pytest.mark.parametrize("failure", [KeyboardInterrupt, ex.VerificationError])
def test_interrupted_or_failed_export_leaves_no_version_dir(failure, run_dir, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise failure("stopped after writing")

    monkeypatch.setattr(ex, "verify_saved_model", fail)
    out = tmp_path / "out"
    with pytest.raises(failure):
        ex.export(ex.ExportOptions(run_dir=run_dir, out=out / "models", formats=("saved_model",), verify_images=1))
    assert not out.exists()  # no version directory, no temporary folder, and no empty --out made for it
    out.mkdir()
    with pytest.raises(failure):
        ex.export(ex.ExportOptions(run_dir=run_dir, out=out, formats=("saved_model",), verify_images=1))
    assert list(out.iterdir()) == []  # a folder that was there before stays


# ---------------------------------------------------------------------------------------------------------
# Clients


def test_rest_request_is_what_tf_serving_expects(tmp_path):
    rest = load_script("rest_client")
    files = [b"\x89PNG first", b"\xff\xd8\xff second"]
    body = rest.bytes_request(files)
    assert body == {"signature_name": "image_bytes",
                    "instances": [{"b64": base64.b64encode(f).decode()} for f in files]}
    json.dumps(body)  # plain JSON
    assert rest.predict_url("http://h:8501/", "pix2pix") == "http://h:8501/v1/models/pix2pix:predict"
    assert rest.predict_url("http://h:8501", "m", 3) == "http://h:8501/v1/models/m/versions/3:predict"
    floats = rest.float_request(np.zeros((1, 2, 2, 3), np.float32), signature="serving_seeded", seed=4)
    assert floats["signature_name"] == "serving_seeded" and floats["inputs"]["seed"] == 4
    assert np.asarray(floats["inputs"]["images"]).shape == (1, 2, 2, 3)
    assert rest.decode_files({"predictions": [{"b64": base64.b64encode(b"png").decode()}]}) == [b"png"]
    image = tmp_path / "a.png"
    image.write_bytes(files[0])
    assert rest.main([str(image), "--dry-run"]) == 0


def test_rest_round_trip_through_the_savedmodel(det_export):
    """What TF Serving does with the JSON: b64 -> string tensor -> signature -> b64 for '*_bytes' outputs."""
    rest = load_script("rest_client")
    rgb = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    body = json.loads(json.dumps(rest.bytes_request([png_file(rgb)])))
    serve = tf.saved_model.load(str(det_export.saved_model)).signatures[body["signature_name"]]
    tensor = tf.constant([base64.b64decode(item["b64"]) for item in body["instances"]])
    outputs = serve(image_bytes=tensor)["image_bytes"].numpy()
    response = {"predictions": [{"b64": base64.b64encode(o).decode()} for o in outputs]}
    (png,) = rest.decode_files(json.loads(json.dumps(response)))
    assert np.asarray(Image.open(io.BytesIO(png))).shape == (40, 50, 3)


def test_grpc_client_against_a_prediction_service(det_export, inputs):
    pytest.importorskip("tensorflow_serving.apis")
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    client = load_script("grpc_client")
    loaded = tf.saved_model.load(str(det_export.saved_model))

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        """Stands in for tensorflow_model_server (not installable here): runs the named signature."""

        def Predict(self, request, context):
            assert request.model_spec.name == "pix2pix"
            feeds = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            outputs = loaded.signatures[request.model_spec.signature_name](**feeds)
            response = predict_pb2.PredictResponse()
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        rgb = np.random.default_rng(2).integers(0, 256, (33, 41, 3), dtype=np.uint8)
        request = client.bytes_request("pix2pix", [png_file(rgb), jpeg_file(rgb)], version=1)
        assert request.model_spec.signature_name == "image_bytes" and request.model_spec.version.value == 1
        assert tf.make_ndarray(request.inputs["image_bytes"]).shape == (2,)
        files = client.output_files(client.predict(f"127.0.0.1:{port}", request))
        assert [np.asarray(Image.open(io.BytesIO(f))).shape for f in files] == [(33, 41, 3)] * 2
        float_request = client.float_request("pix2pix", inputs[:2])
        np.testing.assert_array_equal(tf.make_ndarray(float_request.inputs["images"]), inputs[:2])
        images = client.output_images(client.predict(f"127.0.0.1:{port}", float_request))
        assert images.shape == (2, HEIGHT, WIDTH, 3)
    finally:
        server.stop(0)


# ---------------------------------------------------------------------------------------------------------
# generator.keras: the Keras-native file

KERAS_CHECK = """
import sys
import numpy as np
import pix2pix_tf  # registers the networks' layers with Keras
import keras

model = keras.saving.load_model(sys.argv[1])
images = np.load(sys.argv[2])
seed = int(sys.argv[3])
outputs = []
for image in images:
    if seed >= 0:  # paper mode: every dropout layer at seed state [seed, index], as the export's check does
        drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        for index, layer in enumerate(drops):
            layer.seed_generator.state.assign(np.array([seed, index], dtype="int64"))
    outputs.append(keras.ops.convert_to_numpy(model(image[None], training=False))[0])
np.save(sys.argv[4], np.stack(outputs))
"""


@pytest.mark.parametrize("mode", ["deterministic", "paper"])
def test_generator_keras_loads_in_a_plain_keras_session_and_matches(mode, det_export, paper_export, run_dir,
                                                                     inputs, tmp_path):
    result = det_export if mode == "deterministic" else paper_export
    assert result.keras == result.out / "keras" / "1" / "generator.keras" and result.keras.is_file()
    meta = json.loads(result.keras.with_suffix(".json").read_text())
    assert meta["inference_mode"] == mode and meta["multiple"] == 2 ** 6
    assert any(row.artefact == f"keras ({mode})" for row in result.rows)
    np.save(tmp_path / "in.npy", inputs)
    seed = 7 if mode == "paper" else -1
    done = subprocess.run([sys.executable, "-c", KERAS_CHECK, str(result.keras), str(tmp_path / "in.npy"),
                           str(seed), str(tmp_path / "out.npy")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = load_generator(run_dir, "latest", mode)
    expected = []
    for image in inputs:
        if mode == "paper":
            seed_keras_dropout(trained.generator, seed)
        expected.append(trained.generator(image[None], training=False).numpy()[0])
    assert np.abs(np.load(tmp_path / "out.npy") - np.stack(expected)).max() <= 1e-5


def test_generator_keras_fine_tunes_and_nests_in_another_model(det_export, inputs):
    import keras

    generator = keras.saving.load_model(det_export.keras)
    before = [w.numpy().copy() for w in generator.trainable_weights]
    generator.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), loss="mae")
    generator.fit(inputs[:2], inputs[:2, ..., :3], epochs=1, batch_size=1, verbose=0)
    assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, generator.trainable_weights))
    image = keras.Input((HEIGHT, WIDTH, 3))
    wrapped = keras.Model(image, keras.layers.Rescaling(0.5, offset=0.5)(generator(image)))
    assert wrapped(inputs[:1]).shape == (1, HEIGHT, WIDTH, 3)


def test_sigterm_during_export_is_one_line_and_leaves_no_temporary_folder(run_dir, tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "pix2pix_tf.export", "--run-dir", str(run_dir), "--out",
                                str(out)], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(out.glob(".tmp-export-*/saved_model")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert err.strip().splitlines() == ["terminated (SIGTERM); nothing half-written was kept"]
    assert not out.exists()  # the export made the folder, so stopping it removes it


# ---------------------------------------------------------------------------------------------------------
# A sub-pixel generator (--upsample subpixel)


def test_a_subpixel_generator_exports_to_every_format_within_tolerance(tiny_data, tmp_path):
    """Depth-to-space is a TFLite builtin in float and int8: every artefact is written and passes the export's
    own verification against the Keras generator (it raises otherwise), and int8 stays integer through it."""
    from ai_edge_litert.interpreter import Interpreter

    run = tmp_path / "run"
    make_run(run, tiny_data, upsample="subpixel")
    result = ex.export(ex.ExportOptions(run_dir=run, out=tmp_path / "out", verify_images=2, calibration_images=4))
    assert result.saved_model is not None and result.keras is not None
    assert sorted(p.stem for p in result.tflite) == sorted(f"pix2pix_{q}" for q in QUANTIZATIONS)
    for path in result.tflite:
        interpreter = Interpreter(model_path=str(path))
        assert "DEPTH_TO_SPACE" in builtin_op_names(interpreter), path.name
        if path.stem.endswith("int8"):
            dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
            for op in interpreter._get_ops_details():
                if op["op_name"] in ("CONV_2D", "DEPTH_TO_SPACE"):
                    assert dtypes[op["outputs"][0]] == np.int8, op
