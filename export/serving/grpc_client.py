"""Send images to a pix2pix model in TF Serving over gRPC and save the translated images.

    python export/serving/grpc_client.py --server localhost:8500 --model pix2pix photo.jpg labels.png

Needs ``grpcio`` and the request/response definitions of ``tensorflow-serving-api``. Install that package
with ``pip install --no-deps tensorflow-serving-api``: it only holds generated protobuf modules, but it
declares a dependency on the ``tensorflow`` distribution, which pip would install as a second TensorFlow
beside ``tensorflow-cpu`` (both own the same ``tensorflow`` module). The protos it imports from TensorFlow
(``TensorProto`` and friends) are in either distribution.

gRPC sends raw bytes, so unlike REST there is no base64 anywhere: the ``image_bytes`` input is a string
tensor whose elements are the files, and the output is a string tensor of PNG files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
import numpy as np

try:
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
except ImportError as err:  # pragma: no cover - depends on the client machine
    raise SystemExit(f"{err}: install the client's protos with `pip install --no-deps tensorflow-serving-api` "
                     "(plus grpcio and tensorflow-cpu)") from None

BYTES_SIGNATURE = "image_bytes"
BYTES_KEY = "image_bytes"
FLOAT_SIGNATURE = "serving_default"
FLOAT_KEY = "images"
PREDICT_METHOD = "/tensorflow.serving.PredictionService/Predict"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # gRPC's 4 MB default is too small for a batch of photos


def _shape(dims) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=int(d)) for d in dims])


def string_tensor(values: list[bytes]) -> tensor_pb2.TensorProto:
    """A rank-1 DT_STRING tensor: what the ``image_bytes`` signature takes."""
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=_shape([len(values)]),
                                  string_val=list(values))


def float_tensor(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A DT_FLOAT tensor, packed as little-endian bytes (what TensorFlow itself reads fastest)."""
    array = np.ascontiguousarray(array, dtype="<f4")
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=_shape(array.shape),
                                  tensor_content=array.tobytes())


def int64_scalar(value: int) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64, tensor_shape=_shape([]), int64_val=[int(value)])


def _request(model: str, signature: str, version: int | None) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = int(version)
    return request


def bytes_request(model: str, files: list[bytes], version: int | None = None,
                  signature: str = BYTES_SIGNATURE) -> predict_pb2.PredictRequest:
    """Files as they are on disk (JPEG or PNG) -> a PredictRequest for the bytes signature."""
    if not files:
        raise ValueError("no images to send")
    request = _request(model, signature, version)
    request.inputs[BYTES_KEY].CopyFrom(string_tensor(files))
    return request


def float_request(model: str, images: np.ndarray, version: int | None = None, signature: str = FLOAT_SIGNATURE,
                  seed: int | None = None) -> predict_pb2.PredictRequest:
    """[batch, height, width, channels] floats in [-1, 1] -> a PredictRequest for ``serving_default``
    (or, with ``seed``, the paper-mode ``serving_seeded`` signature)."""
    request = _request(model, signature, version)
    request.inputs[FLOAT_KEY].CopyFrom(float_tensor(images))
    if seed is not None:
        request.inputs["seed"].CopyFrom(int64_scalar(seed))
    return request


def output_files(response: predict_pb2.PredictResponse) -> list[bytes]:
    return list(response.outputs[BYTES_KEY].string_val)


def output_images(response: predict_pb2.PredictResponse) -> np.ndarray:
    tensor = response.outputs[FLOAT_KEY]
    shape = [d.size for d in tensor.tensor_shape.dim]
    if tensor.tensor_content:
        return np.frombuffer(tensor.tensor_content, dtype="<f4").reshape(shape)
    return np.asarray(tensor.float_val, dtype=np.float32).reshape(shape)


def channel(target: str) -> grpc.Channel:
    options = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    return grpc.insecure_channel(target, options=options)


def predict(target: str, request: predict_pb2.PredictRequest, timeout: float = 60.0) -> predict_pb2.PredictResponse:
    with channel(target) as chan:
        return prediction_service_pb2_grpc.PredictionServiceStub(chan).Predict(request, timeout=timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="JPEG or PNG files")
    parser.add_argument("--server", default="localhost:8500", help="TF Serving gRPC address host:port")
    parser.add_argument("--model", default="pix2pix", help="model name in models.config")
    parser.add_argument("--version", type=int, default=None, help="model version (default: the server's latest)")
    parser.add_argument("--out-dir", type=Path, default=Path("translated"), help="where the PNGs go")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true", help="print the request (files shortened), send nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = [p.read_bytes() for p in args.images]
    request = bytes_request(args.model, files, args.version)
    if args.dry_run:
        shown = bytes_request(args.model, [f[:16] + b"..." for f in files], args.version)
        print(f"{PREDICT_METHOD} on {args.server}\n{shown}")
        return 0
    try:
        response = predict(args.server, request, args.timeout)
    except grpc.RpcError as err:
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for source, data in zip(args.images, output_files(response)):
        target = args.out_dir / f"{source.stem}.png"
        target.write_bytes(data)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
