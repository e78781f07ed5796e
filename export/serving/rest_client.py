"""Send images to a pix2pix model in TF Serving over its REST API and save the translated images.

    python export/serving/rest_client.py --server http://localhost:8501 --model pix2pix photo.jpg labels.png
    python export/serving/rest_client.py --dry-run photo.jpg        # print the request instead of sending it

It uses the SavedModel's ``image_bytes`` signature: the files go out as they are on disk, base64-wrapped
as ``{"b64": ...}`` (TF Serving's REST API turns that back into the bytes of a string tensor) and come back
as PNG files of the same size, wrapped the same way because the output's name ends in ``_bytes``. Only the
Python standard library is needed, so the script can be copied to any client machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

BYTES_SIGNATURE = "image_bytes"
BYTES_KEY = "image_bytes"
FLOAT_SIGNATURE = "serving_default"
FLOAT_KEY = "images"


class RestError(RuntimeError):
    """The server (or the connection to it) refused the request; the message is the server's own."""


def b64_instances(files: list[bytes]) -> list[dict]:
    """One ``{"b64": ...}`` per file: TF Serving's way of carrying binary data in JSON."""
    return [{"b64": base64.b64encode(data).decode("ascii")} for data in files]


def bytes_request(files: list[bytes], signature: str = BYTES_SIGNATURE) -> dict:
    """The row ("instances") format: with a single input each instance is the value itself."""
    if not files:
        raise ValueError("no images to send")
    return {"signature_name": signature, "instances": b64_instances(files)}


def float_request(images, signature: str = FLOAT_SIGNATURE, seed: int | None = None) -> dict:
    """Float images (nested lists or an array, [batch, height, width, channels] in [-1, 1]) in the
    columnar ("inputs") format, which also carries the scalar ``seed`` of the paper-mode signature."""
    values = images.tolist() if hasattr(images, "tolist") else images
    inputs = {FLOAT_KEY: values}
    if seed is not None:
        inputs["seed"] = int(seed)
    return {"signature_name": signature, "inputs": inputs}


def predict_url(server: str, model: str, version: int | None = None) -> str:
    """``/v1/models/<model>[/versions/<n>]:predict``; without a version the server picks its latest."""
    path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "") + ":predict"
    return server.rstrip("/") + path


def post_json(url: str, body: dict, timeout: float = 60.0) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise RestError(_server_message(err.read()) or f"HTTP {err.code}") from None
    except urllib.error.URLError as err:
        raise RestError(f"cannot reach {url}: {err.reason}") from None


def _server_message(payload: bytes) -> str:
    try:
        return json.loads(payload).get("error", "")
    except (ValueError, AttributeError):
        return payload.decode(errors="replace")[:300]


def decode_files(response: dict) -> list[bytes]:
    """PNG files from a response to ``bytes_request`` (row format: ``predictions``; columnar: ``outputs``)."""
    if "error" in response:
        raise RestError(response["error"])
    values = response["predictions"] if "predictions" in response else response["outputs"]
    if isinstance(values, dict):
        values = values[BYTES_KEY]
    files = []
    for value in values:
        if isinstance(value, dict) and BYTES_KEY in value:  # row format with several named outputs
            value = value[BYTES_KEY]
        files.append(base64.b64decode(value["b64"]))
    return files


def translate_files(server: str, model: str, files: list[bytes], version: int | None = None,
                    timeout: float = 60.0) -> list[bytes]:
    return decode_files(post_json(predict_url(server, model, version), bytes_request(files), timeout))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="JPEG or PNG files")
    parser.add_argument("--server", default="http://localhost:8501", help="TF Serving REST address")
    parser.add_argument("--model", default="pix2pix", help="model name in models.config")
    parser.add_argument("--version", type=int, default=None, help="model version (default: the server's latest)")
    parser.add_argument("--out-dir", type=Path, default=Path("translated"), help="where the PNGs go")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--dry-run", action="store_true", help="print URL and request JSON, send nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = [p.read_bytes() for p in args.images]
    url = predict_url(args.server, args.model, args.version)
    if args.dry_run:
        body = bytes_request(files)
        shown = {**body, "instances": [{"b64": v["b64"][:40] + "..."} for v in body["instances"]]}
        print(f"POST {url}\n{json.dumps(shown, indent=2)}")
        return 0
    try:
        outputs = translate_files(args.server, args.model, files, args.version, args.timeout)
    except RestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for source, data in zip(args.images, outputs):
        target = args.out_dir / f"{source.stem}.png"
        target.write_bytes(data)
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
